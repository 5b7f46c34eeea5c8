package image

import (
	"context"
	"fmt"
	"maps"

	"github.com/containerd/errdefs"
)

// Untag removes the name ref but keeps the image, nameless when it was its
// last name (as `docker rmi -f` does to an image a container uses), so the
// layers under a container's root filesystem stay. errdefs.ErrNotFound if
// ref names no image; errdefs.ErrInvalidArgument if ref is not a name.
func (s *Store) Untag(ctx context.Context, ref string) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	im, err := s.readIndex()
	if err != nil {
		return err
	}
	e, exact, err := s.lookup(im, ref)
	if err != nil {
		return err
	}
	if exact == "" {
		return fmt.Errorf("image %q: untag needs a name, not an ID or digest: %w", ref, errdefs.ErrInvalidArgument)
	}
	if len(e.names) > 1 {
		out := im.Manifests[:0]
		for _, d := range im.Manifests {
			if descName(d) != exact {
				out = append(out, d)
			}
		}
		im.Manifests = out
	} else {
		for i, d := range im.Manifests {
			if descName(d) == exact {
				d.Annotations = maps.Clone(d.Annotations)
				delete(d.Annotations, refNameAnnotation)
				im.Manifests[i] = d
			}
		}
	}
	return s.writeIndexLocked(im)
}
