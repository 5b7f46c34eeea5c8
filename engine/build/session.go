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
	return &run{b: b, opt: opt, plan: plan, ctxDir: tree, lease: b.cache.newLease()}, nil
}

// end releases what the build held: its base images and its lease.
func (r *run) end() error {
	errs := []error{r.lease.release()}
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
	for _, release := range r.holds {
		errs = append(errs, release())
	}
	return errors.Join(errs...)
}

// base resolves a FROM image, pulling it when the store lacks it, and holds
// it until the build ends, so that an image prune meanwhile cannot take its
// content from under the build.
func (r *run) base(ctx context.Context, ref string) (*image.Image, v1.Image, error) {
	r.holdMu.Lock()
	b, ok := r.bases[ref]
	r.holdMu.Unlock()
	if ok { // another stage of the build has it: the same image
		return b.img, b.v1, nil
	}
	for attempt := 0; ; attempt++ {
		img, err := r.resolveImage(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		err = r.hold(ctx, img)
		if errdefs.IsNotFound(err) && attempt == 0 {
			continue // removed between the two: once more
		}
		if err != nil {
			return nil, nil, err
		}
		v, err := r.b.images.V1Image(ctx, img)
		if err != nil {
			return nil, nil, err
		}
		r.holdMu.Lock()
		defer r.holdMu.Unlock()
		if r.bases == nil {
			r.bases = map[string]heldBase{}
		}
		r.bases[ref] = heldBase{img, v}
		return img, v, nil
	}
}

// alreadyNamed tells whether every tag of the build already names img
// (same manifest), as after a build that changed nothing: then the store
// is left as it is, not written again, and the result is returned.
func (r *run) alreadyNamed(ctx context.Context, img v1.Image) (*Result, bool) {
	if len(r.opt.Tags) == 0 {
		return nil, false
	}
	d, err := img.Digest()
	if err != nil {
		return nil, false
	}
	res := &Result{}
	for _, t := range r.opt.Tags {
		have, err := r.b.images.Resolve(ctx, t)
		if err != nil || have.Digest != d.String() {
			return nil, false
		}
		n, err := image.Normalize(t)
		if err != nil {
			return nil, false
		}
		res.ImageID = have.ID
		res.Tags = append(res.Tags, n)
	}
	return res, true
}

// heldBase is a base image a build resolved and holds.
type heldBase struct {
	img *image.Image
	v1  v1.Image
}

// hold holds img until the build ends, once however many stages use it.
func (r *run) hold(ctx context.Context, img *image.Image) error {
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
	if r.held[img.Digest] {
		return nil
	}
	release, err := r.b.images.Hold(ctx, img)
	if err != nil {
		return err
	}
	if r.held == nil {
		r.held = map[string]bool{}
	}
	r.held[img.Digest] = true
	r.holds = append(r.holds, release)
	return nil
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
