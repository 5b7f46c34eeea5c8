package engine

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// TestAwaitGone: waiting on a process ends when it exits, at once for
// one that is gone or whose PID names another process now, and when the
// context ends.
func TestAwaitGone(t *testing.T) {
	e := &Engine{alive: ctrstate.Alive, log: slog.New(slog.DiscardHandler)}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	start, _, err := ctrstate.ProcStart(pid)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.awaitGone(t.Context(), pid, start) }()
	select {
	case err := <-done:
		t.Fatalf("returned while the process runs: %v", err)
	case <-time.After(50 * time.Millisecond): // it must still be waiting: a negative check, bounded
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("after the exit: %v", err)
	}
	_ = cmd.Wait()
	if err := e.awaitGone(t.Context(), pid, start); err != nil {
		t.Errorf("a process gone: %v", err)
	}

	// Another process's start time: not the one meant.
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	ostart, _, err := ctrstate.ProcStart(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.awaitGone(t.Context(), other.Process.Pid, ostart+1); err != nil {
		t.Errorf("a PID that names another process: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- e.awaitGone(ctx, other.Process.Pid, ostart) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled wait: %v, want context.Canceled", err)
	}
}
