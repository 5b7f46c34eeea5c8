package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/engine/image"
)

// newRun starts a build: it sweeps what builds that died left and takes
// the lease under which the build's cache layers are safe from Prune.
func (b *Builder) newRun(ctx context.Context, opt Options, plan *Plan, tree *srcTree) (*run, error) {
	if err := b.cache.sweep(ctx, b.eng); err != nil {
		// Garbage only: the build can go on, the next sweep retries.
		b.log.Warn("build cache: removing what killed builds left failed", "err", err)
	}
	return &run{b: b, opt: opt, plan: plan, ctxDir: tree, states: map[*Stage]*stageState{}, lease: b.cache.newLease()}, nil
}

// end releases what the build held: its base images and its lease.
func (r *run) end() error {
	errs := []error{r.lease.release()}
	for _, release := range r.holds {
		errs = append(errs, release())
	}
	return errors.Join(errs...)
}

// base resolves a FROM image, pulling it when the store lacks it, and holds
// it until the build ends, so that an image prune meanwhile cannot take its
// content from under the build.
func (r *run) base(ctx context.Context, ref string) (*image.Image, v1.Image, error) {
	for attempt := 0; ; attempt++ {
		img, err := r.b.images.Resolve(ctx, ref)
		if errdefs.IsNotFound(err) {
			img, err = r.b.images.Pull(ctx, ref, image.PullOptions{})
		}
		if err != nil {
			return nil, nil, err
		}
		release, err := r.b.images.Hold(ctx, img)
		if errdefs.IsNotFound(err) && attempt == 0 {
			continue // removed between the two: once more
		}
		if err != nil {
			return nil, nil, err
		}
		r.holds = append(r.holds, release)
		v, err := r.b.images.V1Image(ctx, img)
		if err != nil {
			return nil, nil, err
		}
		return img, v, nil
	}
}

// use looks key up in the cache and, on a hit, leases its layer and marks
// the record used now, all under gc.lock so that no Prune comes between.
func (r *run) use(ctx context.Context, key string) (*cacheEntry, bool, error) {
	unlock, err := r.b.cache.gcLock(ctx, true)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	ent, hit, err := r.b.cache.get(key)
	if err != nil || !hit {
		return ent, hit, err
	}
	if ent.DiffID != "" {
		if err := r.lease.add(ent.DiffID); err != nil {
			return nil, false, err
		}
	}
	now := time.Now()
	if err := os.Chtimes(r.b.cache.entryFile(key), now, now); err != nil {
		return nil, false, fmt.Errorf("build cache: %w", err)
	}
	return ent, true, nil
}

// commitLayer puts a layer the build made in place, leased, under
// gc.lock: no Prune sees it before the lease names it.
func (r *run) commitLayer(ctx context.Context, w *layerWriter) (string, error) {
	unlock, err := r.b.cache.gcLock(ctx, true)
	if err != nil {
		w.abort()
		return "", err
	}
	defer unlock()
	if err := r.lease.add(w.diffID()); err != nil {
		w.abort()
		return "", err
	}
	return w.commit()
}
