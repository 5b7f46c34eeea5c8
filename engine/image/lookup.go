package image

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// lookup finds the image ref names in the index im. exact is the normalised
// name when ref matched one of the image's names (Remove then removes only
// that name), "" when it matched the image itself (ID, ID prefix, digest).
func (s *Store) lookup(im *v1.IndexManifest, ref string) (e *entry, exact string, err error) {
	es := entries(im)
	if id, ok, err := idQuery(ref); ok {
		if err != nil {
			return nil, "", err
		}
		return s.lookupID(es, ref, id)
	}
	norm, err := Normalize(ref)
	if err != nil {
		if isHex(ref) && len(ref) >= minIDPrefix {
			return s.lookupID(es, ref, ref)
		}
		return nil, "", err
	}
	for _, e := range es {
		if slices.Contains(e.names, norm) {
			return e, norm, nil
		}
	}
	if isDigestRef(norm) {
		repo, dgst, _ := strings.Cut(norm, "@")
		for _, e := range es {
			if e.desc.Digest.String() == dgst && slices.ContainsFunc(e.names, func(n string) bool { return repoOf(n) == repo }) {
				return e, "", nil
			}
		}
	}
	if isHex(ref) && len(ref) >= minIDPrefix {
		e, _, err := s.lookupID(es, ref, ref)
		if err == nil || !errdefs.IsNotFound(err) {
			return e, "", err
		}
	}
	display := FamiliarName(norm)
	if isHex(ref) {
		display = ref // more likely an ID prefix than a name
	}
	return nil, "", fmt.Errorf("image %q: %w", display, errdefs.ErrNotFound)
}

// idQuery tells whether ref is an image ID: "sha256:" followed by hex digits
// (the full ID or a prefix), or 64 hex digits. It returns the hex digits.
func idQuery(ref string) (string, bool, error) {
	if h, ok := strings.CutPrefix(ref, "sha256:"); ok {
		if !isHex(h) || len(h) > 64 || len(h) < minIDPrefix {
			return "", true, fmt.Errorf("image ID %q: want sha256: and %d to 64 hex digits: %w", ref, minIDPrefix, errdefs.ErrInvalidArgument)
		}
		return h, true, nil
	}
	if len(ref) == 64 && isHex(ref) {
		return ref, true, nil
	}
	return "", false, nil
}

// lookupID finds the image whose ID (config digest) starts with the hex
// digits prefix. Images whose manifest cannot be read are passed over; they
// are reported if nothing else matches.
func (s *Store) lookupID(es []*entry, ref, prefix string) (*entry, string, error) {
	var (
		found   *entry
		foundID string
		errs    []error
	)
	for _, e := range es {
		m, err := s.manifest(e.desc.Digest)
		if err != nil {
			errs = append(errs, fmt.Errorf("image %s: %w", e.desc.Digest, err))
			continue
		}
		id := m.Config.Digest.Hex
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		if found != nil && foundID != id {
			return nil, "", fmt.Errorf("image ID prefix %q is ambiguous: %w", ref, errdefs.ErrInvalidArgument)
		}
		if found == nil {
			found, foundID = e, id
		}
	}
	if found == nil {
		return nil, "", errors.Join(fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound), errors.Join(errs...))
	}
	return found, "", nil
}

// collectLocked deletes the blobs and unpacked layers no image of im uses
// (mark and sweep), sparing the blobs live leases hold. It runs under the store lock after index.json was
// written, so it also cleans what an interrupted run left. If an image of
// im cannot be read, nothing is deleted: its content is unknown.
func (s *Store) collectLocked(im *v1.IndexManifest) error {
	blobs := map[string]bool{}
	layers := map[string]bool{}
	for _, e := range entries(im) {
		m, err := s.manifest(e.desc.Digest)
		if err != nil {
			return fmt.Errorf("garbage collection skipped: image %s: %w", e.desc.Digest, err)
		}
		cf, err := s.config(m)
		if err != nil {
			return fmt.Errorf("garbage collection skipped: image %s: %w", e.desc.Digest, err)
		}
		blobs[e.desc.Digest.Hex] = true
		blobs[m.Config.Digest.Hex] = true
		for _, l := range m.Layers {
			blobs[l.Digest.Hex] = true
		}
		for _, id := range chainIDs(cf.RootFS.DiffIDs) {
			layers[trimAlgo(id)] = true
		}
	}
	leased, err := s.leasedLocked()
	if err != nil {
		return fmt.Errorf("garbage collection skipped: %w", err)
	}
	for h := range leased {
		blobs[h] = true  // placed by a pull still running, or held (Hold)
		layers[h] = true // a chain ID a Hold keeps unpacked
	}
	var errs []error
	ents, err := os.ReadDir(s.blobsDir())
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	for _, d := range ents {
		if n := d.Name(); isHex(n) && !blobs[n] {
			if err := os.Remove(s.blobsDir() + "/" + n); err != nil {
				errs = append(errs, fmt.Errorf("remove blob %s: %w", n, err))
			}
		}
	}
	if ents, err = os.ReadDir(s.layersDir()); err != nil {
		return errors.Join(append(errs, fmt.Errorf("image store: %w", err))...)
	}
	for _, d := range ents {
		if n := d.Name(); isHex(n) && len(n) == 64 && !layers[n] {
			errs = append(errs, s.removeLayerLocked("sha256:"+n))
		}
	}
	s.sweepLocked()
	return errors.Join(errs...)
}
