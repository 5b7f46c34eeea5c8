package inotify

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// next returns the next event of w that names name, skipping others.
func next(t *testing.T, w *Watcher, name string) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				t.Fatal("Events closed")
			}
			if ev.Name == name {
				return ev
			}
		case err := <-w.Errors:
			t.Fatalf("Errors: %v", err)
		case <-timeout:
			t.Fatalf("no event for %s within 10s", name)
		}
	}
}

func TestWatcherReportsWritesAndTheirEnd(t *testing.T) {
	dir := t.TempDir()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	if !w.Watching(dir) || w.Watching(filepath.Join(dir, "x")) {
		t.Fatal("Watching does not tell the watched directory")
	}
	file := filepath.Join(dir, "compose.yaml")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w, file); ev.Op != Create {
		t.Fatalf("create: got %v, want CREATE", ev)
	}
	if _, err := f.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w, file); ev.Op != Write {
		t.Fatalf("write: got %v, want WRITE", ev)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w, file); ev.Op != CloseWrite {
		t.Fatalf("close: got %v, want CLOSE_WRITE", ev)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.WriteFile(tmp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w, tmp); ev.Op != Create {
		t.Fatalf("rename: got %v for the old name first, want its CREATE", ev)
	}
	if ev := next(t, w, file); ev.Op != MovedTo {
		t.Fatalf("rename: got %v, want MOVED_TO", ev)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w, file); ev.Op != Remove {
		t.Fatalf("remove: got %v, want REMOVE", ev)
	}
	// A directory removed is no longer watched, and can be added again.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); w.Watching(dir); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the removed directory is still watched after 10s")
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(dir, "again")
	if err := os.WriteFile(again, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w, again); ev.Op != Create {
		t.Fatalf("after adding again: got %v, want CREATE", ev)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for range w.Events {
	}
	if _, ok := <-w.Errors; ok {
		t.Fatal("Errors not closed by Close")
	}
}

// TestCloseEndsTheReaderWithEventsUnread: a watcher closed while its
// events go unreceived leaves no goroutine behind.
func TestCloseEndsTheReaderWithEventsUnread(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	for i := range 3 * cap(w.Events) {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(w.Events) < cap(w.Events); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // the reader is to be blocked on a send
			t.Fatalf("%d events queued after 10s, want %d", len(w.Events), cap(w.Events))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10s after Close, %d before New", runtime.NumGoroutine(), before)
		}
	}
}
