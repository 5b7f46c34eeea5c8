package shim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type entry struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"`
	Log    string    `json:"log"`
}

func decode(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	for _, line := range bytes.SplitAfter(b, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		if line[len(line)-1] != '\n' {
			t.Fatalf("entry without newline: %q", line)
		}
		var e entry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		out = append(out, e)
	}
	return out
}

func TestLineCutter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 5, time.UTC)
	long := strings.Repeat("x", maxLine)
	tests := []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"line across reads", []string{"hel", "lo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"empty lines", []string{"\n\na\n"}, []string{"", "", "a"}},
		{"last line without newline", []string{"a\nb"}, []string{"a", "b"}},
		{"exactly maxLine then newline later", []string{long, "\n"}, []string{long}},
		{"long line split", []string{long + "yz\n"}, []string{long, "yz"}},
		{"long line over reads", []string{long[:100], long[100:] + "12", "3\n"}, []string{long, "123"}},
		{"escapes", []string{"tab\there \"q\" \\ \x1b[0m \xff é\n"}, []string{"tab\there \"q\" \\ \x1b[0m \ufffd é"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := lineCutter{stream: "stderr"}
			for _, ch := range tc.chunks {
				c.feed(now, []byte(ch))
			}
			c.flush(now)
			got := decode(t, c.out)
			if len(got) != len(tc.want) {
				t.Fatalf("%d entries, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, e := range got {
				if e.Log != tc.want[i] || e.Stream != "stderr" || !e.Time.Equal(now) {
					t.Errorf("entry %d: %+v, want log %q", i, e, tc.want[i])
				}
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"--root", "/r", "--run-dir=/d", "--runtime", "/usr/sbin/runc", "--id", "abc", "--debug"})
	if err != nil {
		t.Fatal(err)
	}
	if o != (options{root: "/r", runDir: "/d", runtime: "/usr/sbin/runc", id: "abc", debug: true}) {
		t.Errorf("%+v", o)
	}
	for _, bad := range [][]string{
		{"--root", "/r"},
		{"--root", "/r", "--run-dir", "/d", "--runtime", "runc", "--id", "../x"},
		{"--bogus"},
		{"--root"},
	} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}

func TestExitCode(t *testing.T) {
	// WaitStatus encoding: exit code in bits 8-15, signal in 0-6.
	if got := exitCode(3 << 8); got != 3 {
		t.Errorf("exit 3: %d", got)
	}
	if got := exitCode(9); got != 137 {
		t.Errorf("SIGKILL: %d", got)
	}
}
