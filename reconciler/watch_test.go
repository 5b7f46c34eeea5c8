package reconciler

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestWatchDebouncesAndSurvivesErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	other := filepath.Join(dir, "unrelated.txt")
	if err := os.WriteFile(file, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	var calls, errs atomic.Int32
	converged := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, WatchOptions{
			Files:    func() []string { return []string{file} },
			Debounce: 50 * time.Millisecond,
			Converge: func(context.Context) error {
				n := calls.Add(1)
				converged <- struct{}{}
				if n == 1 {
					return errors.New("invalid edit")
				}
				return nil
			},
			OnError: func(error) { errs.Add(1) },
		})
	}()
	time.Sleep(50 * time.Millisecond) // let the watcher start
	// A burst of writes is one reload; the unrelated file none.
	for i := range 5 {
		_ = os.WriteFile(file, []byte{byte('b' + i)}, 0o644)
		_ = os.WriteFile(other, []byte{byte(i)}, 0o644)
	}
	waitFor(t, converged)
	// A replace by rename (as editors save) is seen, after an error.
	tmp := file + ".swp"
	_ = os.WriteFile(tmp, []byte("z"), 0o644)
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, converged)
	time.Sleep(150 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v, want context.Canceled", err)
	}
	if calls.Load() != 2 || errs.Load() != 1 {
		t.Fatalf("converged %d times with %d errors, want 2 and 1", calls.Load(), errs.Load())
	}
}

func waitFor(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no reload within 5s")
	}
}
