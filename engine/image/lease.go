package image

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// A lease keeps blobs that no image names yet, those a pull has placed in
// blobs/ before committing its image, from being collected by a Remove or
// Prune running meanwhile in this or another process. It is a file under
// <root>/images/leases, flocked by its holder for as long as it lives, with
// one blob digest (hex) a line. A lease whose holder is gone (the flock is
// free) protects nothing and is removed by the next collection.
//
// Digests are appended, and leases read, under the store lock only.
type lease struct {
	s *Store

	mu sync.Mutex // guards the fields below
	f  *os.File   // nil until the first hold; holds the flock
}

func (s *Store) leasesDir() string { return filepath.Join(s.imagesDir(), "leases") }

func (s *Store) newLease() *lease { return &lease{s: s} }

// addLocked records h in the lease, creating the lease file on first use.
// The store lock is held.
func (l *lease) addLocked(h v1.Hash) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		if err := os.MkdirAll(l.s.leasesDir(), 0o700); err != nil {
			return fmt.Errorf("image store: %w", err)
		}
		f, err := os.CreateTemp(l.s.leasesDir(), "lease-")
		if err != nil {
			return fmt.Errorf("image store: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			return errors.Join(fmt.Errorf("image store: lock %s: %w", f.Name(), err), f.Close(), os.Remove(f.Name()))
		}
		l.f = f
	}
	// Readers hold the store lock too: no fsync needed, and a crash ends
	// the lease anyway.
	if _, err := l.f.WriteString(h.Hex + "\n"); err != nil {
		return fmt.Errorf("image store: lease: %w", err)
	}
	return nil
}

// release ends the lease. Idempotent.
func (l *lease) release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := os.Remove(l.f.Name())
	_ = l.f.Close()
	l.f = nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("image store: end lease: %w", err)
	}
	return nil
}

// holdBlob reports whether the store has the blob h and, if so, adds it to
// the lease so that it stays until the lease ends. It takes the store lock
// only when the blob is there.
func (s *Store) holdBlob(ctx context.Context, l *lease, h v1.Hash) (bool, error) {
	if _, err := os.Stat(s.blobPath(h)); err != nil {
		return false, nil
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, err := os.Stat(s.blobPath(h)); err != nil {
		return false, nil // collected meanwhile
	}
	if err := l.addLocked(h); err != nil {
		return false, err
	}
	return true, nil
}

// leasedLocked returns the blobs (hex digests) live leases hold, and
// removes the leases of dead holders. The store lock is held.
func (s *Store) leasedLocked() (map[string]bool, error) {
	out := map[string]bool{}
	ents, err := os.ReadDir(s.leasesDir())
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(s.leasesDir(), e.Name())
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // ended meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("image store: lease %s: %w", p, err)
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == nil {
			// Nobody holds it: its pull died.
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove stale lease: %w", err))
			}
			_ = f.Close()
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if h := strings.TrimSpace(sc.Text()); isHex(h) {
				out[h] = true
			}
		}
		err = sc.Err()
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("image store: lease %s: %w (%w)", p, err, errdefs.ErrDataLoss)
		}
	}
	if len(errs) > 0 {
		s.log.Warn("image store: removing stale leases failed", "err", errors.Join(errs...))
	}
	return out, nil
}
