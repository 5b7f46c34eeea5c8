package shim

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
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
	if o.root != "/r" || o.runDir != "/d" || o.runtime != "/usr/sbin/runc" || o.id != "abc" || !o.debug || o.tty || o.restart != (policy{}) || o.health.test != nil {
		t.Errorf("%+v", o)
	}
	o, err = parseArgs([]string{"--root", "/r", "--run-dir=/d", "--runtime", "runc", "--id", "abc", "--tty", "--restart", "on-failure:2",
		"--health-test", "CMD-SHELL", "--health-test", "exit 1", "--health-interval", "2s", "--health-retries", "5"})
	if err != nil {
		t.Fatal(err)
	}
	h := o.health
	if !o.tty || o.restart != (policy{name: "on-failure", maxRetries: 2}) || !slices.Equal(h.test, []string{"/bin/sh", "-c", "exit 1"}) ||
		h.interval != 2*time.Second || h.timeout != defaultHealthTimeout || h.startInterval != defaultHealthStartInterval || h.retries != 5 {
		t.Errorf("%+v", o)
	}
	for _, bad := range [][]string{
		{"--root", "/r"},
		{"--root", "/r", "--run-dir", "/d", "--runtime", "runc", "--id", "../x"},
		{"--bogus"},
		{"--root"},
		{"--root", "/r", "--run-dir", "/d", "--runtime", "runc", "--id", "x", "--restart", "sometimes"},
		{"--root", "/r", "--run-dir", "/d", "--runtime", "runc", "--id", "x", "--health-test", "RUN", "--health-test", "x"},
		{"--root", "/r", "--run-dir", "/d", "--runtime", "runc", "--id", "x", "--health-interval", "soon"},
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

func TestRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		p            policy
		code, count  int
		wantRestarts bool
	}{
		{policy{}, 1, 0, false},
		{policy{name: "always"}, 0, 100, true},
		{policy{name: "unless-stopped"}, 0, 0, true},
		{policy{name: "on-failure"}, 0, 0, false},
		{policy{name: "on-failure"}, 1, 50, true},
		{policy{name: "on-failure", maxRetries: 2}, 1, 1, true},
		{policy{name: "on-failure", maxRetries: 2}, 1, 2, false},
	} {
		if got := tc.p.restarts(tc.code, tc.count); got != tc.wantRestarts {
			t.Errorf("%+v.restarts(%d, %d) = %v", tc.p, tc.code, tc.count, got)
		}
	}
	d := time.Duration(0)
	var got []time.Duration
	for range 12 {
		d = nextDelay(d, time.Second)
		got = append(got, d)
	}
	if got[0] != 100*time.Millisecond || got[1] != 200*time.Millisecond || got[11] != time.Minute {
		t.Errorf("back-off %v", got)
	}
	if nextDelay(time.Minute, 10*time.Second) != 100*time.Millisecond {
		t.Error("a run of 10s does not reset the back-off")
	}
}

func TestLogRotation(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/container.log"
	w, err := openLogWriter(p, 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 29) + "\n") // 30 bytes
	for range 4 {
		w.write(bytes.Repeat(line, 3)) // 90 bytes a batch: split at lines
	}
	w.write([]byte(strings.Repeat("y", 250) + "\n")) // longer than a file
	_ = w.close()
	sizes := map[string]int64{}
	for _, f := range []string{p, p + ".1", p + ".2", p + ".3"} {
		if fi, err := os.Stat(f); err == nil {
			sizes[f[len(dir):]] = fi.Size()
		}
	}
	want := map[string]int64{"/container.log": 251, "/container.log.1": 90, "/container.log.2": 90}
	if len(sizes) != len(want) {
		t.Fatalf("files %v, want %v", sizes, want)
	}
	for k, v := range want {
		if sizes[k] != v {
			t.Errorf("files %v, want %v", sizes, want)
		}
	}
}
