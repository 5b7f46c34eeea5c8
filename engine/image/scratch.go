package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// scratchPrefix starts the name of every scratch file and directory: blobs
// being written (<root>/images/ingest) and layers being unpacked or removed
// (<root>/layers). Nothing ever uses a scratch entry by name; it becomes a
// blob or a layer only by an atomic rename.
const scratchPrefix = ".tmp-"

// staleAfter is how old an unlocked scratch entry must be before a sweep
// removes it; it covers the instant between creating an entry and locking
// it.
const staleAfter = time.Minute

// scratch is a scratch file or directory, flocked by its creator for as long
// as it is in use, so that sweep can tell the leftovers of a dead process
// from work in progress in another one.
type scratch struct {
	path string
	f    *os.File // holds the flock; for a file, also the handle to write
	done bool     // released or discarded
}

func newScratchFile(dir string) (*scratch, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	f, err := os.CreateTemp(dir, scratchPrefix)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return lockScratch(f)
}

func newScratchDir(dir string) (*scratch, error) {
	p, err := os.MkdirTemp(dir, scratchPrefix)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	// MkdirTemp makes it 0700; it becomes the root of a layer.
	if err := os.Chmod(p, 0o755); err != nil {
		return nil, errors.Join(fmt.Errorf("image store: %w", err), os.Remove(p))
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("image store: %w", err), os.Remove(p))
	}
	return lockScratch(f)
}

func lockScratch(f *os.File) (*scratch, error) {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil, errors.Join(fmt.Errorf("image store: lock %s: %w", f.Name(), err), f.Close(), os.RemoveAll(f.Name()))
	}
	return &scratch{path: f.Name(), f: f}, nil
}

// release drops the lock; the entry has been renamed into place.
func (t *scratch) release() {
	if !t.done {
		t.done = true
		_ = t.f.Close()
	}
}

// discard removes the entry and drops the lock. It does nothing once the
// entry is released, so it can be deferred for error paths.
func (t *scratch) discard() error {
	if t.done {
		return nil
	}
	err := removeAll(t.path)
	t.release()
	if err != nil {
		return fmt.Errorf("image store: remove scratch: %w", err)
	}
	return nil
}

// sweep removes scratch entries under dir whose creator is gone. It runs
// with the store lock held.
func sweep(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), scratchPrefix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleAfter {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			_ = f.Close() // in use by a live process
			continue
		}
		if err := removeAll(p); err != nil {
			errs = append(errs, err)
		}
		_ = f.Close()
	}
	return errors.Join(errs...)
}

// removeAll is os.RemoveAll that also removes directories whose mode forbids
// writing (a layer may well contain some when unpacked without root).
func removeAll(p string) error {
	err := os.RemoveAll(p)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
