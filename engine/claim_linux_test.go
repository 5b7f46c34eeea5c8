package engine

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// TestNameClaimsOfARoundWaitForEveryCaller: a round of name claims waits
// for the name lock (held here as by another process) until every claim's
// caller gave up: the one whose context is done fails no other's claim,
// and once the lock is free the round makes them all.
func TestNameClaimsOfARoundWaitForEveryCaller(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", false)
	unlock, err := e.lockNames(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unlock() }()
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	claim := func(ctx context.Context, name string) *nameClaim {
		id := newID()
		tmp := filepath.Join(e.containersDir(), ".tmp-"+ctrstate.Self()+"-"+string(id))
		if err := os.Mkdir(tmp, 0o711); err != nil {
			t.Fatal(err)
		}
		return &nameClaim{ctx: ctx, name: name, id: id, tmp: tmp}
	}
	batch := []*nameClaim{claim(gone, "a"), claim(t.Context(), "b")}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.claimNames(batch)
	}()
	lock := filepath.Join(e.containersDir(), "lock")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("the round ended while the lock was held: a: %v, b: %v", batch[0].err, batch[1].err)
		default:
		}
		if lockWaited(t, lock) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no wait for the name lock")
		}
	}
	unlock()
	unlock = func() {}
	<-done
	for _, c := range batch {
		if _, err := os.Stat(e.containerDir(c.id)); c.err != nil || err != nil {
			t.Errorf("claim %q: %v (directory: %v)", c.name, c.err, err)
		}
	}
}

// lockWaited tells whether a process waits for a flock on path
// (/proc/locks lists the waiters of a lock with "->").
func lockWaited(t *testing.T, path string) bool {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ino := strconv.FormatUint(st.Sys().(*syscall.Stat_t).Ino, 10)
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 6 && f[1] == "->" && f[2] == "FLOCK" && strings.HasSuffix(f[6], ":"+ino) {
			return true
		}
	}
	return false
}
