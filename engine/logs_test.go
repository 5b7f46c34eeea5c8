package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var logBase = time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC)

// writeLog writes n lines, one second apart, alternating streams, and a
// torn last line without its newline when torn.
func writeLog(t *testing.T, n int, torn bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "container.log")
	var b []byte
	for i := range n {
		stream := "stdout"
		if i%2 == 1 {
			stream = "stderr"
		}
		b = fmt.Appendf(b, `{"time":%q,"stream":%q,"log":"line %d"}`+"\n", logBase.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), stream, i)
	}
	b = append(b, "not json\n"...)
	if torn {
		b = append(b, `{"time":"2025-03-04T05:59:00Z","stream":"std`...)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLogReader(t *testing.T) {
	tests := []struct {
		name string
		opt  LogOptions
		want []string
	}{
		{"all", LogOptions{Tail: -1}, []string{"line 0", "line 1", "line 2", "line 3", "line 4"}},
		{"tail 2", LogOptions{Tail: 2}, []string{"line 4"}}, // the unparseable line counts as a line, the torn one does not
		{"tail 3", LogOptions{Tail: 3}, []string{"line 3", "line 4"}},
		{"tail 0", LogOptions{Tail: 0}, nil},
		{"tail more than there is", LogOptions{Tail: 100}, []string{"line 0", "line 1", "line 2", "line 3", "line 4"}},
		{"since", LogOptions{Tail: -1, Since: logBase.Add(3 * time.Second)}, []string{"line 3", "line 4"}},
		{"until", LogOptions{Tail: -1, Until: logBase.Add(1500 * time.Millisecond)}, []string{"line 0", "line 1"}},
		{"since and until", LogOptions{Tail: -1, Since: logBase.Add(time.Second), Until: logBase.Add(2 * time.Second)}, []string{"line 1", "line 2"}},
		{"tail then since", LogOptions{Tail: 4, Since: logBase.Add(3 * time.Second)}, []string{"line 3", "line 4"}},
	}
	for _, torn := range []bool{false, true} {
		p := writeLog(t, 5, torn)
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/torn=%v", tc.name, torn), func(t *testing.T) {
				var got []string
				lr := logReader{path: p, opt: tc.opt, fn: func(l LogLine) error {
					got = append(got, l.Text)
					return nil
				}}
				if _, err := lr.readAvailable(); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			})
		}
	}
}

func TestLogReaderStreams(t *testing.T) {
	p := writeLog(t, 2, false)
	var got []LogLine
	lr := logReader{path: p, opt: LogOptions{Tail: -1}, fn: func(l LogLine) error { got = append(got, l); return nil }}
	if _, err := lr.readAvailable(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Stream != "stdout" || got[1].Stream != "stderr" || !got[1].Time.Equal(logBase.Add(time.Second)) {
		t.Errorf("got %+v", got)
	}
}

// TestLogReaderResumes: a follower sees a line completed after its first
// read exactly once.
func TestLogReaderResumes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "container.log")
	if err := os.WriteFile(p, []byte(`{"time":"2025-03-04T05:00:00Z","stream":"stdout","log":"a"}`+"\n"+`{"time":"2025-03-04T05:00:01Z","str`), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	lr := logReader{path: p, opt: LogOptions{Tail: -1, Follow: true}, fn: func(l LogLine) error { got = append(got, l.Text); return nil }}
	if _, err := lr.readAvailable(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`eam":"stderr","log":"b"}` + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := lr.readAvailable(); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.readAvailable(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("got %q, want [a b]", got)
	}
}
