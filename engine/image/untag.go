package image

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Untag removes the name ref but keeps the image, nameless when it was its
// last name (as `docker rmi -f` does to an image a container uses), so the
// layers under a container's root filesystem stay. errdefs.ErrNotFound if
// ref names no image; errdefs.ErrInvalidArgument if ref is not a name.
func (s *Store) Untag(ctx context.Context, ref string) error {
	return s.editRef(ctx, ref, func(im *v1.IndexManifest, e *entry, exact string) error {
		if exact == "" {
			return fmt.Errorf("image %q: untag needs a name, not an ID or digest: %w", ref, errdefs.ErrInvalidArgument)
		}
		if len(e.names) > 1 {
			im.Manifests = slices.DeleteFunc(im.Manifests, func(d v1.Descriptor) bool { return descName(d) == exact })
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
	})
}
