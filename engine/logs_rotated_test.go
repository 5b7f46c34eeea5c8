package engine

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

func TestLogReaderRotated(t *testing.T) {
	p := writeLog(t, 0, false) // container.log with one unparseable line
	write := func(path string, from, to int) {
		var b []byte
		for i := from; i < to; i++ {
			b = fmt.Appendf(b, `{"time":%q,"stream":"stdout","log":"line %d"}`+"\n", logBase.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
