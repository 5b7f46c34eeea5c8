package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/internal/leasefile"
)

// A lease keeps blobs that no image names yet, those a pull has placed in
// blobs/ before committing its image, from being collected by a Remove or
// Prune running meanwhile in this or another process. It is a file under
// <root>/images/leases, flocked by its holder for as long as it lives, with
// one blob digest (hex) a line. A lease whose holder is gone (the flock is
// free) protects nothing and is removed by the next collection.
//
// Digests are appended, and leases read, under the store lock only.
type lease struct{ l *leasefile.Lease }

func (s *Store) leasesDir() string { return filepath.Join(s.imagesDir(), "leases") }

func (s *Store) newLease() *lease { return &lease{leasefile.New(s.leasesDir())} }

// addLocked records h in the lease, creating the lease file on first use.
// The store lock is held.
func (l *lease) addLocked(h v1.Hash) error {
	if err := l.l.Add(h.Hex); err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	return nil
}

// release ends the lease. Idempotent.
func (l *lease) release() error {
	if err := l.l.Release(); err != nil {
		return fmt.Errorf("image store: %w", err)
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
	out, err := leasefile.Live(s.leasesDir())
	if out == nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err != nil {
		s.log.Warn("image store: removing stale leases failed", "err", err)
	}
	return out, nil
}
