package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/internal/leasefile"
)

// The cache's garbage collection (Prune) and the builds that use it meet
// at two points:
//
//   - <root>/build/gc.lock: a build holds it shared while it finds a cache
//     entry and leases its layer, and while it puts a new layer in place;
//     Prune holds it exclusively while it decides and deletes.
//   - <root>/build/leases/<name>: each build's lease, a file flocked by the
//     build for as long as it runs, listing the layers (diff ID hex, one a
//     line) it uses. Prune deletes no leased layer. A lease whose flock is
//     free belongs to a build that died: it protects nothing and goes.
//
// What a build killed half-way leaves, scratch files and directories
// (.tmp-<owner>-…, perhaps with an overlay mounted on one) and RUN
// containers (each announced by a .run-<owner>-<name> marker before it is
// created), carries its owner and is removed by the next build's sweep.

func (c *cache) gcLock(ctx context.Context, shared bool) (func(), error) {
	p := filepath.Join(c.dir, "gc.lock")
	if shared {
		return flock.LockShared(ctx, p)
	}
	return flock.Lock(ctx, p)
}

func (c *cache) leasesDir() string { return filepath.Join(c.dir, "leases") }

// lease is the layers one build uses, by diff ID. The caller holds
// gc.lock (shared) while it adds.
type lease struct{ l *leasefile.Lease }

func (c *cache) newLease() *lease { return &lease{leasefile.New(c.leasesDir())} }

func (l *lease) add(diffID string) error {
	if err := l.l.Add(strings.TrimPrefix(diffID, "sha256:")); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}

func (l *lease) release() error {
	if err := l.l.Release(); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}

// leased returns the layers (diff ID hex) live leases hold and removes the
// leases of dead builds. The caller holds gc.lock exclusively.
func (c *cache) leased() (map[string]bool, error) {
	out, err := leasefile.Live(c.leasesDir())
	if out == nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return out, err
}

// runMarker announces a RUN container named name before it is created; the
// returned function removes the marker once the container is gone.
func (c *cache) runMarker(name string) (func() error, error) {
	p := filepath.Join(c.dir, ".run-"+self()+"-"+name)
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return func() error {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("build cache: %w", err)
		}
		return nil
	}, nil
}

// sweep removes what builds that died left: their RUN containers, the
// overlays mounted on their scratch directories, and their scratch files
// and directories. What a live build owns is left alone. Safe to run by
// several processes at once.
func (c *cache) sweep(ctx context.Context, eng *engine.Engine) error {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	var errs []error
	for _, e := range ents {
		kind, rest, ok := strings.Cut(e.Name(), "-")
		if !ok || (kind != ".tmp" && kind != ".run") {
			continue
		}
		owner, what, _ := strings.Cut(rest, "-")
		if ownerAlive(owner) {
			continue
		}
		p := filepath.Join(c.dir, e.Name())
		if kind == ".run" {
			err := eng.Remove(ctx, engine.ContainerID(what), true)
			if err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("build cache: RUN container %s of a dead build: %w", what, err))
				continue // the marker stays for the next sweep
			}
		} else if e.IsDir() {
			// An overlay mounted by mountLowers on it, or what a RUN
			// step's scratch directory has mounted below it: unmount
			// that first, or leave it for the next sweep (never remove
			// through a mount).
			if err := unmountUnder(p); err != nil {
				errs = append(errs, fmt.Errorf("build cache: %w", err))
				continue
			}
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("build cache: %w", err))
		}
	}
	return errors.Join(errs...)
}
