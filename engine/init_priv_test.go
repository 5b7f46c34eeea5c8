package engine

import (
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPrivInitReadyBeforeStartReturns: a container with an init is running
// only once its init forwards signals. A SIGTERM sent the moment Start
// returns (straight to the init's PID, faster than any runtime command)
// must reach the command, never kill the init before it listens (which
// made it exit 2): every run exits 143, repeatedly.
func TestPrivInitReadyBeforeStartReturns(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	cfg := busybox("racer", "sleep", "1000")
	cfg.Init = true
	id := mustCreate(t, e, cfg)
	const runs = 15
	for i := range runs {
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		sf, err := readState(e.containerDir(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Kill(sf.Pid, unix.SIGTERM); err != nil {
			t.Fatalf("run %d: kill init %d: %v", i, sf.Pid, err)
		}
		st := waitExited(t, e, id)
		if st.ExitCode != 128+int(unix.SIGTERM) {
			t.Fatalf("run %d: exit code %d, want %d (the init did not forward SIGTERM)", i, st.ExitCode, 128+int(unix.SIGTERM))
		}
		if err := e.Stop(ctx, id, time.Second); err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: exited %s", i, strconv.Itoa(st.ExitCode))
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, id)
}
