// Package image is berth's image store: an OCI image layout (content-addressed
// blobs and an index naming images) kept with go-containerregistry under
// <root>/images, and read-only unpacked layers under <root>/layers/<chain-id>,
// stacked with overlayfs by the engine.
//
// # On disk
//
//	<root>/images/oci-layout, index.json   the OCI image layout; each image's
//	                                       manifest descriptor carries its
//	                                       normalised name in the annotation
//	                                       org.opencontainers.image.ref.name,
//	                                       one descriptor per name
//	<root>/images/blobs/sha256/<hex>       manifests, configs, layer blobs
//	<root>/images/ingest/.tmp-*            blobs being written
//	<root>/images/leases/lease-*           blobs a running pull has placed
//	                                       but not committed yet; see lease
//	<root>/images/lock                     the store lock (flock)
//	<root>/images/pulled/<hex>.json        when a reference was last pulled
//	                                       (LastPulled)
//	<root>/layers/<chain-id hex>/          one unpacked layer, an overlay lowerdir
//	<root>/layers/.tmp-*                   layers being unpacked or removed
//
// An image that loses its last name to another image (Import or Tag of a
// name it had) stays in the index without a name, like Docker's
// "<none>:<none>", until it is removed by ID.
//
// # Concurrency
//
// Several berth processes use one store at once. Readers (Resolve, List,
// the fast path of LayerDirs) take no lock: index.json, blobs and layer
// directories only ever appear by an atomic rename. Every change (index.json,
// placing or deleting blobs and layers, LayerDirs unpacking a layer) holds
// the store lock, <root>/images/lock, and re-reads index.json after taking
// it. Import and Put write and unpack into scratch entries before taking the
// lock, so a slow input does not hold it; each scratch entry is flocked by
// its writer, and a sweep under the store lock removes those whose writer
// died. Pull renames each verified layer blob into blobs/ as soon as it is
// downloaded, under the store lock, and records it in a lease (a flocked
// file) that Remove and Prune honour until the pull has committed its
// image; Load keeps everything in scratch space until it commits all its
// images under one hold of the lock.
//
// Unpacked layers are not written to disk synchronously (as in Docker): a
// crash of the machine can leave a layer directory with lost content. Blobs
// and index.json are synced.
//
// Lock order: the store lock is the only lock of the package; it is never
// held while calling out of the package.
//
// # Errors
//
// Errors are classified with github.com/containerd/errdefs: an unknown image
// is ErrNotFound, a malformed reference, change or tarball is
// ErrInvalidArgument (ErrUnsafeLayer for a layer that tries to write outside
// its directory), and a blob or layer that does not match its digest is
// ErrDataLoss.
package image

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/google/go-containerregistry/pkg/name"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/eventlog"
	"github.com/berth-dev/berth/internal/topdir"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"golang.org/x/sync/singleflight"
)

// Store is the image store rooted at a state root. Safe for concurrent use by
// several goroutines and several processes.
type Store struct {
	root  string // state root; immutable
	log   *slog.Logger
	chown bool // keep file owners when unpacking; only root can
	// localOnly refuses pulls and pushes to registries off this machine
	// (SetLocalRegistriesOnly); set before use, then read only.
	localOnly bool

	// events is the state root's event journal: pulls, pushes, loads,
	// imports, tags, untags and deletions are recorded there (events.go).
	events *eventlog.Log

	// downloads makes pulls running at once in this process fetch a blob
	// once; keyed by the blob's hex digest. Other processes may download
	// it too: whoever renames it into blobs/ first wins.
	downloads singleflight.Group
}

// Config is the part of an image's configuration that decides how a container
// of it runs.
type Config struct {
	Entrypoint   []string          `json:"Entrypoint,omitempty"`
	Cmd          []string          `json:"Cmd,omitempty"`
	Env          []string          `json:"Env,omitempty"`
	WorkingDir   string            `json:"WorkingDir,omitempty"`
	User         string            `json:"User,omitempty"`
	Labels       map[string]string `json:"Labels,omitempty"`
	StopSignal   string            `json:"StopSignal,omitempty"`
	ExposedPorts []string          `json:"ExposedPorts,omitempty"` // "80/tcp", sorted
	Volumes      []string          `json:"Volumes,omitempty"`      // mount points, sorted
	Healthcheck  *Healthcheck      `json:"Healthcheck,omitempty"`
}

// Image is one image in the store.
type Image struct {
	ID           string    // config digest, "sha256:…"
	Digest       string    // manifest digest, "sha256:…"
	RepoTags     []string  // normalised references naming it, e.g. "docker.io/library/busybox:latest"
	RepoDigests  []string  // normalised digest references naming it, e.g. "docker.io/library/busybox@sha256:…"
	Created      time.Time // from the image config
	OS           string    // from the image config, e.g. "linux"
	Architecture string    // from the image config, e.g. "amd64"
	Size         int64     // sum of compressed layer sizes
	Config       Config
	ChainIDs     []string // one per layer, lowest first; names the directories under <root>/layers
	DiffIDs      []string // the uncompressed layers' digests, lowest first (the config's rootfs)
}

// ImportOptions change the image made by Import, like `docker import`.
type ImportOptions struct {
	// Changes are Dockerfile instructions applied to the image
	// configuration, in order: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL,
	// EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK (`docker import --change`).
	Changes []string
	// Message is recorded in the image history (`docker import --message`).
	Message string
	// Created is the image's creation time; zero means now. A fixed time
	// makes the import reproducible: the same tarball gives the same ID.
	Created time.Time
}

// Open opens (creating if needed) the store under root. log may be nil.
func Open(root string, log *slog.Logger) (*Store, error) {
	if root == "" {
		return nil, fmt.Errorf("image store: empty root: %w", errdefs.ErrInvalidArgument)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{root: root, log: log, chown: os.Geteuid() == 0, events: eventlog.Open(root)}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	for _, d := range []string{s.blobsDir(), s.ingestDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	// One tree per layer: see topdir for why they are spread.
	if err := topdir.MkdirAll(s.layersDir(), 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	p := s.imagesDir() + "/oci-layout"
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		// Every writer writes the same bytes: no lock needed.
		if err := atomicfile.WriteFile(p, ociLayout, 0o644); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	return s, nil
}

// Root returns the state root the store was opened on.
func (s *Store) Root() string { return s.root }

// doImport is Import, without recording its event.
func (s *Store) doImport(ctx context.Context, r io.Reader, ref string, opt ImportOptions) (*Image, error) {
	var name string
	if ref != "" {
		n, err := normalizeTag(ref)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		name = n
	}
	var cfg v1.Config
	if err := applyChanges(&cfg, opt.Changes); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	created := opt.Created
	if created.IsZero() {
		created = time.Now()
	}
	img, err := s.importLayer(ctx, r, name, cfg, created.UTC(), opt.Message)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", cmp.Or(FamiliarName(name), "image"), err)
	}
	return img, nil
}

// Resolve finds the image named by ref: a name (normalised first, so "hello"
// finds docker.io/library/hello:latest), name@sha256:… (the manifest digest
// of an image of that repository), an image ID ("sha256:…" or its 64 hex
// digits), or a unique prefix of an ID's hex digits (at least 4; a name
// wins over a prefix). errdefs.ErrNotFound if there is none,
// errdefs.ErrInvalidArgument for an ambiguous prefix or malformed reference.
func (s *Store) Resolve(ctx context.Context, ref string) (*Image, error) {
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	e, _, err := s.lookup(im, ref)
	if err != nil {
		return nil, err
	}
	img, err := s.load(e)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return img, nil
}

// LayerDirs makes sure every layer of img is unpacked and returns their
// directories, lowest first, ready to be used as overlay lowerdirs. A
// missing layer is unpacked under the store lock from its blob, which is
// checked against its digest and its content against the diff ID; a layer
// that does not match is an errdefs.ErrDataLoss error and leaves nothing
// behind. errdefs.ErrNotFound if img is no longer in the store.
func (s *Store) LayerDirs(ctx context.Context, img *Image) ([]string, error) {
	if dirs, ok, err := s.existingDirs(img.ChainIDs); err != nil || ok {
		return dirs, err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.sweepLocked()
	h, err := v1.NewHash(img.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: bad digest %q: %w", img.ID, img.Digest, errdefs.ErrInvalidArgument)
	}
	if _, err := os.Stat(s.blobPath(h)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image %s: %w", img.ID, errdefs.ErrNotFound)
	}
	m, err := s.manifest(h)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	cf, err := s.config(m)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	ids := chainIDs(cf.RootFS.DiffIDs)
	dirs := make([]string, len(ids))
	for i, id := range ids {
		dirs[i] = s.layerDir(id)
		ok, err := s.layerExists(id)
		if err != nil {
			return nil, err
		}
		if ok {
			continue
		}
		if err := s.unpackBlobLocked(ctx, m.Layers[i], cf.RootFS.DiffIDs[i], id); err != nil {
			return nil, fmt.Errorf("image %s: %w", img.ID, err)
		}
	}
	return dirs, nil
}

// existingDirs returns the layer directories of chain IDs if all exist.
func (s *Store) existingDirs(ids []string) ([]string, bool, error) {
	if len(ids) == 0 {
		return nil, false, nil
	}
	dirs := make([]string, len(ids))
	for i, id := range ids {
		ok, err := s.layerExists(id)
		if err != nil || !ok {
			return nil, false, err
		}
		dirs[i] = s.layerDir(id)
	}
	return dirs, true, nil
}

// List returns every image in the store, sorted by first name; images
// without a name come last, by ID.
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, e := range entries(im) {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		img, err := s.load(e)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", e.desc.Digest, err)
		}
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b *Image) int {
		an, bn := firstName(a), firstName(b)
		switch {
		case an == "" && bn != "":
			return 1
		case an != "" && bn == "":
			return -1
		}
		return cmp.Or(strings.Compare(an, bn), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

func firstName(img *Image) string {
	if len(img.RepoTags) > 0 {
		return slices.Min(img.RepoTags)
	}
	if len(img.RepoDigests) > 0 {
		return slices.Min(img.RepoDigests)
	}
	return ""
}

// doRemove is Remove, without recording its event.
func (s *Store) doRemove(ctx context.Context, ref string) error {
	return s.editRef(ctx, ref, func(im *v1.IndexManifest, e *entry, exact string) error {
		im.Manifests = slices.DeleteFunc(im.Manifests, func(d v1.Descriptor) bool {
			if exact != "" {
				return descName(d) == exact
			}
			return d.Digest == e.desc.Digest
		})
		if err := s.writeIndexLocked(im); err != nil {
			return err
		}
		if err := s.collectLocked(im); err != nil {
			return fmt.Errorf("image %q removed, but not all its content: %w", ref, err)
		}
		return nil
	})
}

// doTag is Tag, without recording its event.
func (s *Store) doTag(ctx context.Context, src, ref string) error {
	name, err := normalizeTag(ref)
	if err != nil {
		return err
	}
	return s.editRef(ctx, src, func(im *v1.IndexManifest, e *entry, _ string) error {
		setName(im, name, e.desc)
		return s.writeIndexLocked(im)
	})
}

// V1Image returns img as a go-containerregistry image reading the store's
// blobs, for pushing or saving it. The blobs are read lazily: removing the
// image meanwhile makes those reads fail.
func (s *Store) V1Image(ctx context.Context, img *Image) (v1.Image, error) {
	h, err := v1.NewHash(img.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: bad digest %q: %w", img.ID, img.Digest, errdefs.ErrInvalidArgument)
	}
	p, err := layout.FromPath(s.imagesDir())
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, errdefs.ErrNotFound)
	}
	v, err := p.Image(h)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w (%w)", img.ID, err, errdefs.ErrNotFound)
	}
	return v, nil
}

// sweepLocked removes the scratch entries of dead processes. Best effort:
// a failure only leaves garbage behind, so it is logged, not returned.
func (s *Store) sweepLocked() {
	if err := errors.Join(sweep(s.layersDir()), sweep(s.ingestDir())); err != nil {
		s.log.Warn("image store: removing leftovers failed", "err", err)
	}
}

// SetLocalRegistriesOnly makes the store refuse to pull from or push to a
// registry that is not on this machine (isLocalRegistry; berth sets it with
// BERTH_NO_OUTBOUND=1, so that no test reaches off the machine). Call it
// before the store is used.
func (s *Store) SetLocalRegistriesOnly() { s.localOnly = true }

// LocalRegistriesOnly tells whether SetLocalRegistriesOnly was called: the
// builder then keeps its downloads on this machine too.
func (s *Store) LocalRegistriesOnly() bool { return s.localOnly }

// checkRegistry is errdefs.ErrUnavailable when the store keeps to local
// registries and norm names another one.
func (s *Store) checkRegistry(norm string) error {
	if !s.localOnly {
		return nil
	}
	r, err := name.ParseReference(norm)
	if err != nil {
		return nil // remoteRef reports it
	}
	if h := r.Context().RegistryStr(); !isLocalRegistry(h) {
		return fmt.Errorf("registry %s is off this machine, and BERTH_NO_OUTBOUND=1 keeps pulls and pushes on it: %w", h, errdefs.ErrUnavailable)
	}
	return nil
}
