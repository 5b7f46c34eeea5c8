package image

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Hold keeps img's content, its manifest, config and layer blobs and its
// unpacked layers, from being collected by a Remove or Prune of this or
// another process until release is called or the process ends, even if
// every name of img goes meanwhile. A builder holds its base images this
// way for as long as a build uses them. errdefs.ErrNotFound when img was
// removed before it could be held. release is idempotent.
func (s *Store) Hold(ctx context.Context, img *Image) (release func() error, err error) {
	d, err := v1.NewHash(img.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, errdefs.ErrInvalidArgument)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(s.blobPath(d)); err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, errdefs.ErrNotFound)
	}
	m, err := s.manifest(d)
	if err != nil {
		return nil, err
	}
	l := s.newLease()
	hold := []v1.Hash{d, m.Config.Digest}
	for _, ld := range m.Layers {
		hold = append(hold, ld.Digest)
	}
	for _, id := range img.ChainIDs {
		h, err := v1.NewHash(id)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("image %s: chain ID %q: %w", img.ID, id, errdefs.ErrDataLoss), l.release())
		}
		hold = append(hold, h)
	}
	for _, h := range hold {
		if err := l.addLocked(h); err != nil {
			return nil, errors.Join(err, l.release())
		}
	}
	return l.release, nil
}
