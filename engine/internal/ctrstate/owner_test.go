package ctrstate

import (
	"os/exec"
	"strconv"
	"testing"
)

func TestOwner(t *testing.T) {
	if !OwnerAlive(Self()) {
		t.Fatalf("this process's owner %q is not alive", Self())
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start, _, err := ProcStart(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	child := strconv.Itoa(cmd.Process.Pid) + "." + strconv.FormatUint(start, 10)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{child, "1.0", "1", "x.y", "", strconv.Itoa(cmd.Process.Pid)} {
		if OwnerAlive(o) {
			t.Errorf("OwnerAlive(%q) = true, want false", o)
		}
	}
}
