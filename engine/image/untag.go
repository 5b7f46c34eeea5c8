package image

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// doUntag is Untag, without recording its event.
func (s *Store) doUntag(ctx context.Context, ref string) error {
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
