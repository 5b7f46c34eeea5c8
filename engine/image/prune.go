package image

import (
	"context"
	"fmt"
	"os"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PruneReport says what Prune removed.
type PruneReport struct {
	Untagged       []string // names removed, normalised
	Deleted        []string // IDs of the images removed
	SpaceReclaimed int64    // bytes of blobs deleted
}

// Prune removes the images no container uses: with all false only those
// without any name (dangling, "<none>:<none>"), with all true every one.
// The store does not know containers: inUse(imageID) tells, and nil means
// none is used. inUse is called before the store lock is taken (it may
// read other state); an image that gets a new name meanwhile is kept. The
// caller makes sure no container is created from a pruned image while
// Prune runs (for instance by holding its own lock). Blobs and unpacked
// layers no remaining image uses are deleted, as Remove does.
func (s *Store) Prune(ctx context.Context, all bool, inUse func(imageID string) bool) (*PruneReport, error) {
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	type candidate struct {
		id    string
		names []string
	}
	cands := map[v1.Hash]candidate{}
	for _, e := range entries(im) {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		if len(e.names) > 0 && !all {
			continue
		}
		m, err := s.manifest(e.desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("prune: image %s: %w", e.desc.Digest, err)
		}
		id := m.Config.Digest.String()
		if inUse != nil && inUse(id) {
			continue
		}
		cands[e.desc.Digest] = candidate{id: id, names: e.names}
	}
	rep := &PruneReport{}
	if len(cands) == 0 {
		return rep, nil
	}

	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if im, err = s.readIndex(); err != nil {
		return nil, err
	}
	gone := map[v1.Hash]bool{}
	for _, e := range entries(im) {
		c, ok := cands[e.desc.Digest]
		if !ok || !slices.Equal(c.names, e.names) {
			continue // not a candidate, or named differently since
		}
		gone[e.desc.Digest] = true
		rep.Untagged = append(rep.Untagged, e.names...)
		rep.Deleted = append(rep.Deleted, c.id)
	}
	if len(gone) == 0 {
		return rep, nil
	}
	im.Manifests = slices.DeleteFunc(im.Manifests, func(d v1.Descriptor) bool { return gone[d.Digest] })
	before := s.blobBytes()
	if err := s.writeIndexLocked(im); err != nil {
		return nil, err
	}
	if err := s.collectLocked(im); err != nil {
		return rep, fmt.Errorf("prune: images removed, but not all their content: %w", err)
	}
	rep.SpaceReclaimed = max(0, before-s.blobBytes())
	return rep, nil
}

// blobBytes sums the sizes of the blobs; for reporting only, so errors
// count as zero.
func (s *Store) blobBytes() int64 {
	ents, err := os.ReadDir(s.blobsDir())
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}
