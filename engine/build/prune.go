package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/diskusage"
)

// CacheRecord is one step of the build cache, as `berth builder du` lists
// it.
type CacheRecord struct {
	ID       string // the step's cache key, hex
	DiffID   string // its layer, "sha256:…"; "" for a step that changed no file
	Size     int64  // bytes on disk of its layer, tarball and unpacked directory
	Created  time.Time
	LastUsed time.Time // when a build last made or reused it
	InUse    bool      // a running build uses its layer
	Shared   bool      // another record has the same layer
	InImage  bool      // an image of the store has its layer; without, the record is dangling
}

// Usage is what the build cache holds.
type Usage struct {
	Records []CacheRecord // oldest use first
	// Size counts every layer once, those no record names (left by a
	// build killed before it recorded them) too.
	Size int64
	// Reclaimable is what a prune of everything unused would free now.
	Reclaimable int64
}

// PruneOptions say what Prune removes, as `docker builder prune` takes
// them.
type PruneOptions struct {
	// All removes every record no running build uses; without, only the
	// dangling ones: those whose layer no image of the store has (and the
	// steps that made no layer).
	All bool
	// Until, when not zero, spares the records used within that long.
	Until time.Duration
	// KeepStorage, when not zero, stops once the cache holds no more than
	// that many bytes, removing the least recently used records first.
	KeepStorage int64
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Deleted        []string // IDs of the records removed
	SpaceReclaimed int64
}

// cacheState is the build cache as read under gc.lock.
type cacheState struct {
	records []CacheRecord
	layers  map[string]int64 // diff ID hex → bytes (tarball and unpacked directory)
	leased  map[string]bool  // diff ID hex
}

// readState reads every record and layer. The caller holds gc.lock
// exclusively. inImage tells whether an image has a layer.
func (c *cache) readState(inImage map[string]bool) (*cacheState, error) {
	leased, err := c.leased()
	if err != nil {
		return nil, err
	}
	st := &cacheState{layers: map[string]int64{}, leased: leased}
	ents, err := os.ReadDir(filepath.Join(c.dir, "layers"))
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		st.layers[n] = diskusage.Of(filepath.Join(c.dir, "layers", n)) + diskusage.Of(c.unpackedDir(n))
	}
	if ents, err = os.ReadDir(filepath.Join(c.dir, "cache")); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	users := map[string]int{}
	for _, e := range ents {
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		p := c.entryFile(key)
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("build cache: %w", err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("build cache: %w", err)
		}
		var ent cacheEntry
		if err := json.Unmarshal(b, &ent); err != nil {
			return nil, fmt.Errorf("build cache: %s: %w: %w", p, err, errdefs.ErrDataLoss)
		}
		h := strings.TrimPrefix(ent.DiffID, "sha256:")
		rec := CacheRecord{ID: key, DiffID: ent.DiffID, Created: ent.Created, LastUsed: fi.ModTime(),
			Size: diskusage.Of(p), InUse: h != "" && leased[h], InImage: h != "" && inImage[h]}
		if h != "" {
			rec.Size += st.layers[h]
			users[h]++
		}
		st.records = append(st.records, rec)
	}
	for i := range st.records {
		if h := strings.TrimPrefix(st.records[i].DiffID, "sha256:"); h != "" && users[h] > 1 {
			st.records[i].Shared = true
		}
	}
	slices.SortFunc(st.records, func(a, b CacheRecord) int {
		if c := a.LastUsed.Compare(b.LastUsed); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return st, nil
}

// total is the bytes the cache holds: every layer once, and the records.
func (st *cacheState) total() int64 {
	var n int64
	for _, sz := range st.layers {
		n += sz
	}
	for _, r := range st.records {
		if r.DiffID == "" {
			n += r.Size
		}
	}
	return n
}

// storedDiffIDs is the set of the layers (diff ID hex) the images of the
// store have.
func (b *Builder) storedDiffIDs(ctx context.Context) (map[string]bool, error) {
	imgs, err := b.images.List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, img := range imgs {
		for _, d := range img.DiffIDs {
			out[strings.TrimPrefix(d, "sha256:")] = true
		}
	}
	return out, nil
}

// lockedState takes gc.lock exclusively and reads the cache; the caller
// calls unlock.
func (b *Builder) lockedState(ctx context.Context) (_ *cacheState, unlock func(), _ error) {
	inImage, err := b.storedDiffIDs(ctx)
	if err != nil {
		return nil, nil, err
	}
	if unlock, err = b.cache.gcLock(ctx, false); err != nil {
		return nil, nil, err
	}
	st, err := b.cache.readState(inImage)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

// DiskUsage lists the build cache's records and sizes.
func (b *Builder) DiskUsage(ctx context.Context) (*Usage, error) {
	st, unlock, err := b.lockedState(ctx)
	if err != nil {
		return nil, err
	}
	unlock()
	u := &Usage{Records: st.records, Size: st.total()}
	for h, sz := range st.layers {
		if !st.leased[h] {
			u.Reclaimable += sz
		}
	}
	for _, r := range st.records {
		if r.DiffID == "" {
			u.Reclaimable += r.Size
		}
	}
	return u, nil
}

// Prune removes records of the build cache as opt says, never one whose
// layer a running build (of this process or another) uses, and the
// layers no record is left to name. Builds may run meanwhile: a build
// looks up and leases a record under the same lock Prune holds while it
// decides and deletes. A build that no longer finds a record makes its
// step again.
func (b *Builder) Prune(ctx context.Context, opt PruneOptions) (*PruneReport, error) {
	st, unlock, err := b.lockedState(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := time.Now()
	users := map[string]int{}
	for _, r := range st.records {
		users[strings.TrimPrefix(r.DiffID, "sha256:")]++
	}
	total := st.total()
	rep := &PruneReport{}
	var errs []error
	for _, r := range st.records { // least recently used first
		if opt.KeepStorage > 0 && total <= opt.KeepStorage {
			break
		}
		if r.InUse || (!opt.All && r.InImage) || (opt.Until > 0 && now.Sub(r.LastUsed) < opt.Until) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, context.Cause(ctx)
		}
		if err := os.Remove(b.cache.entryFile(r.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("build cache: %w", err))
			continue
		}
		rep.Deleted = append(rep.Deleted, r.ID)
		h := strings.TrimPrefix(r.DiffID, "sha256:")
		freed := r.Size - st.layers[h] // the entry file
		if users[h]--; h != "" && users[h] == 0 {
			if err := b.cache.removeLayer(h); err != nil {
				errs = append(errs, err)
			} else {
				freed += st.layers[h]
				delete(st.layers, h)
			}
		}
		total -= freed
		rep.SpaceReclaimed += freed
	}
	if opt.All && opt.Until == 0 && opt.KeepStorage == 0 {
		if err := b.cache.forgetSums(); err != nil {
			errs = append(errs, err)
		}
	}
	// Layers no record names: left by builds killed between making a
	// layer and recording it.
	for h, sz := range st.layers {
		if users[h] == 0 && !st.leased[h] {
			if err := b.cache.removeLayer(h); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.SpaceReclaimed += sz
		}
	}
	return rep, errors.Join(errs...)
}

// removeLayer deletes a layer's tarball, then its unpacked directory (moved
// aside first, so that no half-deleted directory is ever taken for one).
func (c *cache) removeLayer(h string) error {
	if err := os.Remove(c.layerFile(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("build cache: %w", err)
	}
	return c.removeAside(c.unpackedDir(h))
}

// removeAside removes the directory p, moving it aside first so that no
// half-removed directory is ever found under its name. Nothing there is
// not an error.
func (c *cache) removeAside(p string) error {
	tmp := c.tempName()
	if err := os.Rename(p, tmp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("build cache: %w", err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}
