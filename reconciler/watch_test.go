package reconciler

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// watchRun is a Watch of files under test: each converge sends what the
// first file held then.
type watchRun struct {
	seen   chan string
	errs   chan error
	cancel context.CancelFunc
	done   chan error
}

// startWatch watches files with debounce; the n-th converge (from 1) in
// failOn fails.
func startWatch(t *testing.T, files []string, debounce time.Duration, failOn ...int) *watchRun {
	t.Helper()
	r := &watchRun{seen: make(chan string, 100), errs: make(chan error, 100), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	r.cancel = cancel
	watching := make(chan struct{})
	calls := 0
	go func() {
		r.done <- Watch(ctx, WatchOptions{
			Files:    func() []string { return files },
			Watching: func() { close(watching) },
			Debounce: debounce,
			Converge: func(context.Context) error {
				calls++
				b, _ := os.ReadFile(files[0])
				r.seen <- string(b)
				if slices.Contains(failOn, calls) {
					return errors.New("invalid edit")
				}
				return nil
			},
			OnError: func(err error) { r.errs <- err },
		})
	}()
	select {
	case <-watching:
	case err := <-r.done:
		t.Fatalf("Watch returned %v", err)
	}
	t.Cleanup(func() {
		r.cancel()
		if err := <-r.done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	return r
}

// watchedFile is a new compose.yaml holding "a", watched by startWatch.
func watchedFile(t *testing.T, debounce time.Duration, failOn ...int) (string, *watchRun) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, startWatch(t, []string{file}, debounce, failOn...)
}

// next is what the next converge saw.
func (r *watchRun) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r.seen:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s")
		return ""
	}
}

// TestWatchActsOnCompleteWrites: a write is acted on once its writer has
// closed the file or renamed it into place, long before the quiet period;
// a file still open for writing is not read half-written, however long it
// takes; a file opened for writing and closed unwritten, and other files
// of the directory, count for nothing.
func TestWatchActsOnCompleteWrites(t *testing.T) {
	file, r := watchedFile(t, time.Hour)
	dir := filepath.Dir(file)

	unwritten, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unwritten.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * DefaultWatchSettle) // a reload, if it counted, would see "a"
	// Written in several writes through one descriptor, with pauses far
	// longer than the settle time: one reload, of the whole.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"b1", "b2", "b3"} {
		if _, err := f.WriteString(part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * DefaultWatchSettle) // a slow writer
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got != "b1b2b3" {
		t.Fatalf("the reload saw %q, want the whole write %q", got, "b1b2b3")
	}
	// An unrelated file: nothing. A replace by rename (as editors save):
	// one reload, of the new file.
	if err := os.WriteFile(filepath.Join(dir, "unrelated.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := file + ".swp"
	if err := os.WriteFile(tmp, []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got != "c" {
		t.Fatalf("the reload after the rename saw %q, want %q (a reload in between?)", got, "c")
	}
}

// TestWatchOpenWriteFallsBackToQuietPeriod: a writer that keeps the file
// open is acted on once the file has been quiet for the debounce period.
func TestWatchOpenWriteFallsBackToQuietPeriod(t *testing.T) {
	file, r := watchedFile(t, 50*time.Millisecond)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("b"); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got != "b" {
		t.Fatalf("the reload saw %q, want %q", got, "b")
	}
}

// TestWatchSurvivesErrors: a reload that fails is reported, and the next
// edit is acted on.
func TestWatchSurvivesErrors(t *testing.T) {
	file, r := watchedFile(t, time.Hour, 1)
	if err := os.WriteFile(file, []byte("bad"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got != "bad" {
		t.Fatalf("the reload saw %q, want %q", got, "bad")
	}
	if err := <-r.errs; err == nil || err.Error() != "invalid edit" {
		t.Fatalf("OnError got %v, want the reload's error", err)
	}
	if err := os.WriteFile(file, []byte("good"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got != "good" {
		t.Fatalf("the reload after the error saw %q, want %q", got, "good")
	}
}
