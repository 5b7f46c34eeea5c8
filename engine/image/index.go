package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/internal/smallfile"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refNameAnnotation names an image in index.json: one descriptor per name,
// several descriptors may share a manifest digest. A descriptor without it
// is an image that lost its last name (Docker's "<none>:<none>").
const refNameAnnotation = "org.opencontainers.image.ref.name"

// maxMetaBlob bounds manifests and configs read into memory.
const maxMetaBlob = 64 << 20

func (s *Store) imagesDir() string { return filepath.Join(s.root, "images") }
func (s *Store) layersDir() string { return filepath.Join(s.root, "layers") }
func (s *Store) ingestDir() string { return filepath.Join(s.root, "images", "ingest") }
func (s *Store) indexPath() string { return filepath.Join(s.root, "images", "index.json") }
func (s *Store) blobsDir() string  { return filepath.Join(s.root, "images", "blobs", "sha256") }

func (s *Store) blobPath(h v1.Hash) string { return filepath.Join(s.blobsDir(), h.Hex) }

// layerDir is the unpacked layer with the given chain ID ("sha256:…").
func (s *Store) layerDir(chainID string) string {
	return filepath.Join(s.layersDir(), trimAlgo(chainID))
}

func trimAlgo(d string) string {
	if len(d) > len("sha256:") && d[:len("sha256:")] == "sha256:" {
		return d[len("sha256:"):]
	}
	return d
}

// lock takes the store's cross-process lock. Everything that changes
// index.json, blobs or layer directories holds it; readers do not need it
// (every change is an atomic rename).
func (s *Store) lock(ctx context.Context) (func(), error) {
	unlock, err := flock.Lock(ctx, filepath.Join(s.imagesDir(), "lock"))
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return unlock, nil
}

// editRef runs edit on the index with the image ref names (see lookup),
// holding the store's lock; edit writes what it changes.
func (s *Store) editRef(ctx context.Context, ref string, edit func(im *v1.IndexManifest, e *entry, exact string) error) error {
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
	return edit(im, e, exact)
}

// readIndex reads index.json; a store nothing was written to yet has an
// empty one.
func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := smallfile.Read(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("image store: %s: %w (%w)", s.indexPath(), err, errdefs.ErrDataLoss)
	}
	if im.SchemaVersion != 2 {
		return nil, fmt.Errorf("image store: %s: unknown schemaVersion %d: %w", s.indexPath(), im.SchemaVersion, errdefs.ErrFailedPrecondition)
	}
	return im, nil
}

// writeIndexLocked replaces index.json atomically; the store lock is held.
func (s *Store) writeIndexLocked(im *v1.IndexManifest) error {
	im.SchemaVersion = 2
	im.MediaType = types.OCIImageIndex
	if im.Manifests == nil {
		im.Manifests = []v1.Descriptor{}
	}
	if err := atomicfile.WriteJSON(s.indexPath(), im, 0o644); err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	return nil
}

// descName returns the name a descriptor gives its image, "" for none.
func descName(d v1.Descriptor) string { return d.Annotations[refNameAnnotation] }

// entry is one image of the index: a manifest digest with its names, in
// index order.
type entry struct {
	desc  v1.Descriptor // the first descriptor of the image
	names []string
}

// entries groups the index's descriptors by manifest digest.
func entries(im *v1.IndexManifest) []*entry {
	var out []*entry
	byDigest := map[v1.Hash]*entry{}
	for _, d := range im.Manifests {
		e := byDigest[d.Digest]
		if e == nil {
			e = &entry{desc: d}
			byDigest[d.Digest] = e
			out = append(out, e)
		}
		if n := descName(d); n != "" {
			e.names = append(e.names, n)
		}
	}
	return out
}

// setName makes name (normalised; "" for none) point at the image desc
// describes, keeping the index's invariant: an image has either one
// descriptor without a name or one descriptor per name. An image that loses
// its last name to this call stays, without a name, until removed.
func setName(im *v1.IndexManifest, name string, desc v1.Descriptor) {
	has := func(h v1.Hash) bool {
		return slices.ContainsFunc(im.Manifests, func(d v1.Descriptor) bool { return d.Digest == h })
	}
	desc.Annotations = nil
	if name == "" {
		if !has(desc.Digest) {
			im.Manifests = append(im.Manifests, desc)
		}
		return // an image already in the store keeps its names
	}
	var moved []v1.Descriptor
	im.Manifests = slices.DeleteFunc(im.Manifests, func(d v1.Descriptor) bool {
		if descName(d) == name || (d.Digest == desc.Digest && descName(d) == "") {
			moved = append(moved, d)
			return true
		}
		return false
	})
	desc.Annotations = map[string]string{refNameAnnotation: name}
	im.Manifests = append(im.Manifests, desc)
	for _, d := range moved {
		if !has(d.Digest) {
			d.Annotations = nil
			im.Manifests = append(im.Manifests, d)
		}
	}
}

// readBlob reads a small blob and checks it against its digest.
func (s *Store) readBlob(h v1.Hash) ([]byte, error) {
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm: %w", h, errdefs.ErrNotImplemented)
	}
	f, err := os.Open(s.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: missing from the store (%w)", h, errdefs.ErrDataLoss)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaBlob+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	if len(b) > maxMetaBlob {
		return nil, fmt.Errorf("blob %s: larger than %d bytes: %w", h, maxMetaBlob, errdefs.ErrInvalidArgument)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != h.Hex {
		return nil, fmt.Errorf("blob %s: content does not match its digest (%w)", h, errdefs.ErrDataLoss)
	}
	return b, nil
}

// manifest reads and checks the image manifest with digest h.
func (s *Store) manifest(h v1.Hash) (*v1.Manifest, error) {
	b, err := s.readBlob(h)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w (%w)", h, err, errdefs.ErrDataLoss)
	}
	if !isImageManifest(m.MediaType) && m.MediaType != "" {
		return nil, fmt.Errorf("manifest %s: media type %s is not an image manifest: %w", h, m.MediaType, errdefs.ErrNotImplemented)
	}
	return m, nil
}

func isImageManifest(mt types.MediaType) bool {
	return mt == types.OCIManifestSchema1 || mt == types.DockerManifestSchema2
}

// config reads and checks the image configuration of m.
func (s *Store) config(m *v1.Manifest) (*v1.ConfigFile, error) {
	b, err := s.readBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w (%w)", m.Config.Digest, err, errdefs.ErrDataLoss)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config %s: %d diff IDs for %d layers (%w)", m.Config.Digest, len(cf.RootFS.DiffIDs), len(m.Layers), errdefs.ErrDataLoss)
	}
	return cf, nil
}

// load reads the image e names.
func (s *Store) load(e *entry) (*Image, error) {
	m, err := s.manifest(e.desc.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := s.config(m)
	if err != nil {
		return nil, err
	}
	return newImage(e.desc.Digest, e.names, m, cf), nil
}

// putBlobLocked stores data as a blob unless it is there already; the store
// lock is held.
func (s *Store) putBlobLocked(data []byte) (v1.Hash, error) {
	sum := sha256.Sum256(data)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if fi, err := os.Stat(s.blobPath(h)); err == nil && fi.Size() == int64(len(data)) {
		return h, nil
	}
	t, err := newScratchFile(s.ingestDir())
	if err != nil {
		return h, err
	}
	if _, err := t.f.Write(data); err != nil {
		return h, errors.Join(fmt.Errorf("blob %s: %w", h, err), t.discard())
	}
	return h, s.placeBlobLocked(t, h)
}

// placeBlobLocked syncs the scratch file t and renames it to the blob h,
// unless the store has it already; t is released either way.
func (s *Store) placeBlobLocked(t *scratch, h v1.Hash) error {
	dst := s.blobPath(h)
	if _, err := os.Stat(dst); err == nil {
		return t.discard()
	}
	if err := t.f.Sync(); err != nil {
		return errors.Join(fmt.Errorf("blob %s: sync: %w", h, err), t.discard())
	}
	if err := os.Rename(t.path, dst); err != nil {
		return errors.Join(fmt.Errorf("blob %s: %w", h, err), t.discard())
	}
	t.release()
	return nil
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// ociLayout is the content of the oci-layout file.
var ociLayout, _ = json.Marshal(map[string]string{"imageLayoutVersion": "1.0.0"})
