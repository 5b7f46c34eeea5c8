package engine

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeLines writes log lines "line from" … "line to-1" to path, a second
// apart.
func writeLines(t *testing.T, path string, from, to int, mode os.FileMode) {
	t.Helper()
	var b []byte
	for i := from; i < to; i++ {
		b = fmt.Appendf(b, `{"time":%q,"stream":"stdout","log":"line %d"}`+"\n", logBase.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

func TestLogReaderRotated(t *testing.T) {
	p := writeLog(t, 0, false) // container.log with one unparseable line
	write := func(path string, from, to int) { writeLines(t, path, from, to, 0o644) }
	write(p+".2", 0, 3)
	write(p+".1", 3, 5)
	write(p, 5, 7)
	if got := rotatedLogs(p); !slices.Equal(got, []string{p + ".2", p + ".1"}) {
		t.Fatalf("rotatedLogs %q", got)
	}
	for _, tc := range []struct {
		opt  LogOptions
		want []string
	}{
		{LogOptions{Tail: -1}, []string{"line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6"}},
		{LogOptions{Tail: 3}, []string{"line 4", "line 5", "line 6"}},
		{LogOptions{Tail: 0}, nil},
		{LogOptions{Tail: -1, Since: logBase.Add(2 * time.Second), Until: logBase.Add(3 * time.Second)}, []string{"line 2", "line 3"}},
	} {
		var got []string
		lr := logReader{path: p, opt: tc.opt, fn: func(l LogLine) error { got = append(got, l.Text); return nil }}
		if err := lr.readHistory(rotatedLogs(p)); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.opt, got, tc.want)
		}
	}

	// Following: the current file is rotated away; the rest of it and the
	// new file are read.
	var got []string
	lr := logReader{path: p, opt: LogOptions{Tail: 0, Follow: true}, fn: func(l LogLine) error { got = append(got, l.Text); return nil }}
	if err := lr.readHistory(rotatedLogs(p)); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, `{"time":%q,"stream":"stdout","log":"line 7"}`+"\n", logBase.Format(time.RFC3339Nano))
	f.Close()
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	write(p, 8, 9)
	if _, err := lr.readAvailable(); err != nil {
		t.Fatal(err)
	}
	if rot, err := lr.reopenIfRotated(); err != nil || !rot {
		t.Fatalf("reopenIfRotated = %v, %v", rot, err)
	}
	if _, err := lr.readAvailable(); err != nil {
		t.Fatal(err)
	}
	_ = lr.f.Close()
	if !slices.Equal(got, []string{"line 7", "line 8"}) {
		t.Errorf("followed %q", got)
	}
}

// TestLogReaderCompressed: rotated files gzipped by CompressRotatedLogs
// (and one left plain, as while its compression runs) read as before,
// oldest first, and a plain name compressed after the listing is read
// under its .gz name.
func TestLogReaderCompressed(t *testing.T) {
	p := writeLog(t, 0, false)
	write := func(path string, from, to int) { writeLines(t, path, from, to, 0o640) }
	write(p+".3", 0, 2)
	write(p+".2", 2, 4)
	write(p, 6, 7)
	if err := CompressRotatedLogs(p); err != nil {
		t.Fatal(err)
	}
	write(p+".1", 4, 6) // rotated since: not yet compressed
	want := []string{p + ".3.gz", p + ".2.gz", p + ".1"}
	if got := rotatedLogs(p); !slices.Equal(got, want) {
		t.Fatalf("rotatedLogs %q, want %q", got, want)
	}
	for _, f := range want[:2] {
		b, err := os.ReadFile(f)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: not gzip (%v)", f, err)
		}
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v (%v), want the rotated file's 0640", f, fi.Mode().Perm(), err)
		}
		if _, err := os.Stat(strings.TrimSuffix(f, ".gz")); err == nil {
			t.Errorf("%s: the plain file was kept", f)
		}
	}
	rotated := rotatedLogs(p)
	if err := CompressRotatedLogs(p); err != nil { // .1 now compressed after the listing
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opt  LogOptions
		want []string
	}{
		{LogOptions{Tail: -1}, []string{"line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6"}},
		{LogOptions{Tail: 2}, []string{"line 5", "line 6"}},
	} {
		var got []string
		lr := logReader{path: p, opt: tc.opt, fn: func(l LogLine) error { got = append(got, l.Text); return nil }}
		if err := lr.readHistory(rotated); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.opt, got, tc.want)
		}
	}
	// Both names (compressed, plain not yet removed): the compressed one
	// is listed, and a second run only removes the plain one.
	write(p+".1", 4, 6)
	if got := rotatedLogs(p); got[2] != p+".1.gz" {
		t.Errorf("with both names: %q", got)
	}
	if err := CompressRotatedLogs(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p + ".1"); err == nil {
		t.Error("plain .1 kept beside .1.gz")
	}
}

// TestCompressRotatedLogsCorrupt: a rotated .gz that is not gzip is an
// error naming the file when read.
func TestCompressRotatedLogsCorrupt(t *testing.T) {
	p := writeLog(t, 0, false)
	if err := os.WriteFile(p+".1.gz", []byte("not gzip"), 0o640); err != nil {
		t.Fatal(err)
	}
	lr := logReader{path: p, opt: LogOptions{Tail: -1}, fn: func(LogLine) error { return nil }}
	err := lr.readHistory(rotatedLogs(p))
	if err == nil || !strings.Contains(err.Error(), p+".1.gz") {
		t.Errorf("err = %v, want one naming %s.1.gz", err, p)
	}
}
