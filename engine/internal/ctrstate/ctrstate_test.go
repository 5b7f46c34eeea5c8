package ctrstate

import (
	"encoding/json"
	"os"
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
