package engine

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
)

// Size returns the size of the changes container id made to its root
// filesystem (its writable layer: the files its overlay's upper directory
// holds) and that plus its image's size, as docker's SizeRw and SizeRootFs.
// errdefs.ErrNotFound for an unknown container.
func (e *Engine) Size(ctx context.Context, id ContainerID) (rw, rootfs int64, err error) {
	upper, err := e.UpperDir(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	err = filepath.WalkDir(upper, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rw += fi.Size()
		}
		return ctx.Err()
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, 0, err
	}
	rootfs = rw
	c, err := e.Get(ctx, string(id))
	if err != nil {
		return 0, 0, err
	}
	if img, err := e.images.Resolve(ctx, c.ImageID); err == nil {
		rootfs += img.Size
	}
	return rw, rootfs, nil
}
