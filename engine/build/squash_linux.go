package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fscopy"
)

// squash merges the layers stage ss made over its base (its FROM image or
// stage) into one layer, as docker build --squash does: the history keeps
// every step, each marked as making no layer, and one entry more for the
// merged layer. The merged layer is what the overlay of the new layers
// over the base shows changed: their unpacked directories merged in
// order into one upper directory (whiteouts and opaque directories as
// the overlay reads them), packed against the base's layers.
func (r *run) squash(ctx context.Context, ss *stageState) (retErr error) {
	merged := ss.layers[ss.baseLayers:]
	if len(merged) == 0 {
		return nil
	}
	base := *ss
	base.layers = ss.layers[:ss.baseLayers:ss.baseLayers]
	below, err := r.lowers(ctx, &base)
	if err != nil {
		return err
	}
	upper := r.b.cache.tempName()
	if err := os.Mkdir(upper, 0o755); err != nil {
		return fmt.Errorf("squash: %w", err)
	}
	defer func() { retErr = errors.Join(retErr, os.RemoveAll(upper)) }()
	for _, l := range merged {
		dir, err := r.b.cache.unpacked(ctx, l.diffID)
		if err != nil {
			return err
		}
		if err := mergeLayerDir(upper, dir); err != nil {
			return fmt.Errorf("squash: layer %s: %w", l.diffID, err)
		}
	}
	w, err := r.b.cache.newLayer()
	if err != nil {
		return err
	}
	changed, err := packUpper(upper, below, w)
	if err != nil {
		w.abort()
		return fmt.Errorf("squash: %w", err)
	}
	ss.layers = base.layers
	if changed {
		diffID, err := r.commitLayer(ctx, w)
		if err != nil {
			return err
		}
		ss.layers = append(ss.layers, builtLayer{diffID: diffID})
	} else {
		w.abort()
	}
	ss.history = slices.Clone(ss.history)
	for i := ss.baseHistory; i < len(ss.history); i++ {
		ss.history[i].EmptyLayer = true
	}
	ss.history = append(ss.history, v1.History{Created: v1.Time{Time: ss.created}, CreatedBy: "berth build --squash",
		Comment: fmt.Sprintf("berth: %d layers merged into one", len(merged)), EmptyLayer: !changed})
	return nil
}

// mergeLayerDir lays the unpacked layer src (overlay form: whiteouts are
// 0/0 character devices, opaque directories carry opaqueXattr) over dst,
// an upper directory holding the layers below src merged: a whiteout
// replaces what dst has; an opaque directory, or a directory over what
// dst holds as something else, replaces dst's and hides what is below
// (opaque); any other directory merges; anything else replaces. Hard
// links within src stay links.
func mergeLayerDir(dst, src string) error {
	var dirs []string // made or merged, for their times once filled
	links := map[uint64]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		var tst unix.Stat_t
		terr := unix.Lstat(target, &tst)
		if terr != nil && !errors.Is(terr, unix.ENOENT) {
			return terr
		}
		if !d.IsDir() {
			if terr == nil {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
			}
			return fscopy.Entry(p, target, &st, false, links)
		}
		opaque := isOpaque(p)
		exists := terr == nil
		if exists && (tst.Mode&unix.S_IFMT != unix.S_IFDIR || opaque) {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
			exists, opaque = false, true
		}
		dirs = append(dirs, rel)
		if err := fscopy.Entry(p, target, &st, exists, links); err != nil {
			return err
		}
		if opaque {
			if err := unix.Lsetxattr(target, opaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("%s: %w", target, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, rel := range slices.Backward(dirs) {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(src, rel), &st); err != nil {
			return err
		}
		if err := fscopy.SetTimes(filepath.Join(dst, rel), &st); err != nil {
			return err
		}
	}
	return nil
}
