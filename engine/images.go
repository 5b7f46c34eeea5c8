package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/image"
)

// ImageStore is the engine's image store: image.Store, with a Remove that
// refuses an image a container (running or not) was made from.
type ImageStore struct {
	*image.Store
	e *Engine
}

// Images returns the engine's image store.
func (e *Engine) Images() *ImageStore { return &ImageStore{Store: e.images, e: e} }

// Remove removes the name ref as image.Store.Remove does, unless ref names
// an image a container was made from: errdefs.ErrConflict naming the
// containers, as Docker refuses it. It holds the engine's name lock, so no
// container is made from the image meanwhile. errdefs.ErrNotFound if ref
// names no image.
func (s *ImageStore) Remove(ctx context.Context, ref string) error {
	unlock, err := s.e.lockNames(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	img, err := s.Store.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	all, err := s.e.allRecords()
	if err != nil {
		return err
	}
	var users []string
	for _, ent := range all {
		if ent.rec.ImageID == img.ID {
			users = append(users, ent.rec.Config.Name)
		}
	}
	if len(users) > 0 {
		slices.Sort(users)
		return fmt.Errorf("image %q is in use by container %s: %w", ref, strings.Join(users, ", "), errdefs.ErrConflict)
	}
	return s.Store.Remove(ctx, ref)
}
