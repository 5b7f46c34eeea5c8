package ctrstate

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestLastErrorMessage(t *testing.T) {
	log := `{"level":"info","msg":"hello","time":"2026-01-01T00:00:00Z"}
{"level":"error","msg":"first","time":"2026-01-01T00:00:00Z"}
{"level":"error","msg":"runc create failed: unable to start container process: exec: \"nope\": executable file not found in $PATH","time":"2026-11-23T14:40:19Z"}
`
	want := `runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH`
	if got := LastErrorMessage([]byte(log)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := LastErrorMessage([]byte("garbage\n")); got != "" {
		t.Errorf("got %q from garbage", got)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x1f\x7f", "é ☃ 𝄞", "\xff\xfe bad", "\xed\xa0\x80 surrogate", "\xe2\x82 cut"} {
		b := AppendJSONString(nil, []byte(s))
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q → %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Errorf("%q: got %q, want %q", s, got, wantS)
		}
	}
}

func TestProcStart(t *testing.T) {
	start, zombie, err := ProcStart(os.Getpid())
	if err != nil || start == 0 || zombie {
		t.Fatalf("ProcStart(self) = %d, %v, %v", start, zombie, err)
	}
	if !Alive(os.Getpid(), start) || Alive(os.Getpid(), start+1) {
		t.Error("Alive does not tell the start time apart")
	}
	if Alive(0, 0) || Alive(1<<22+1, 0) {
		t.Error("Alive of an impossible PID")
	}
}

func TestParseProcStat(t *testing.T) {
	rest := " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 4242 0 0\n" // fields 4 to 24; 22 is the start time
	for _, tc := range []struct {
		name   string
		stat   string
		start  uint64
		zombie bool
		bad    bool
	}{
		{name: "running", stat: "12 (sleep) S" + rest, start: 4242},
		{name: "a name with spaces and parentheses", stat: "12 (a) b ) c) R" + rest, start: 4242},
		{name: "zombie", stat: "12 (sh) Z" + rest, start: 4242, zombie: true},
		{name: "dead", stat: "12 (sh) X" + rest, start: 4242, zombie: true},
		{name: "too few fields", stat: "12 (sh) S 1 2 3\n", bad: true},
		{name: "no name", stat: "12 sh S" + rest, bad: true},
		{name: "a start time that is no number", stat: "12 (sh) S" + strings.Replace(rest, "4242", "x", 1), bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, zombie, err := parseProcStat([]byte(tc.stat))
			if tc.bad {
				if err == nil {
					t.Errorf("parseProcStat = %d, %v, nil; want an error", start, zombie)
				}
				return
			}
			if err != nil || start != tc.start || zombie != tc.zombie {
				t.Errorf("parseProcStat = %d, %v, %v; want %d, %v", start, zombie, err, tc.start, tc.zombie)
			}
		})
	}
}
