// Package leasefile keeps sets of names (blob digests, layer IDs) from being
// collected while a process uses them, across processes and with no
// daemon. A lease is a file in a directory, flocked by its holder for as
// long as it lives, with one name a line. A lease whose flock is free
// belongs to a process that died: it protects nothing, and Live removes it.
//
// The owner of the directory serialises Add and Live with a lock of its
// own (a store lock, a collection lock), so that a collector never misses a
// name being added while it decides.
package leasefile

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Lease is one holder's set of names. Its file is made on the first Add.
// Safe for concurrent use.
type Lease struct {
	dir string

	mu   sync.Mutex // guards the fields below
	f    *os.File   // holds the flock; nil before the first Add and after Release
	held map[string]bool
}

// New returns an empty lease whose file will be in dir.
func New(dir string) *Lease { return &Lease{dir: dir, held: map[string]bool{}} }

// Add records name in the lease. Collectors read leases under the
// owner's lock: no fsync is needed, and a crash ends the lease anyway.
func (l *Lease) Add(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] {
		return nil
	}
	if l.f == nil {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		f, err := os.CreateTemp(l.dir, "lease-")
		if err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			return errors.Join(fmt.Errorf("lease: lock %s: %w", f.Name(), err), f.Close(), os.Remove(f.Name()))
		}
		l.f = f
	}
	if _, err := l.f.WriteString(name + "\n"); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	l.held[name] = true
	return nil
}

// Release ends the lease. Idempotent; the lease may be used again after.
func (l *Lease) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.held)
	if l.f == nil {
		return nil
	}
	err := os.Remove(l.f.Name())
	_ = l.f.Close()
	l.f = nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("end lease: %w", err)
	}
	return nil
}

// Live returns the names the live leases in dir hold, and removes the
// leases of dead holders. A nil map comes with the error that prevented
// reading; a map with an error means only that a dead lease could not be
// removed (garbage, for the next call).
func Live(dir string) (map[string]bool, error) {
	out := map[string]bool{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	var stale []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // ended meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("lease %s: %w", p, err)
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == nil { // its holder is gone
			_ = f.Close()
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				stale = append(stale, fmt.Errorf("remove stale lease: %w", err))
			}
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if n := strings.TrimSpace(sc.Text()); n != "" {
				out[n] = true
			}
		}
		err = sc.Err()
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("lease %s: %w", p, err)
		}
	}
	return out, errors.Join(stale...)
}
