package image

import (
	"context"
	"io"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/internal/eventlog"
)

// event records an image event in the state root's journal (see
// engine.Engine.Journal): Docker's Actor ID (an image ID or a reference)
// and the name attribute.
func (s *Store) event(ctx context.Context, action, id, name string) {
	s.events.Record(ctx, s.log, eventlog.Event{Type: "image", Action: action, ID: id, Name: name})
}

// Pull fetches the image ref (normalised first: "busybox" is
// docker.io/library/busybox:latest; a digest reference pins the manifest)
// from its registry and names it ref in the store. Registries on the
// loopback interface are spoken to over plain HTTP, others over HTTPS.
// From a multi-platform index the image for opt.Platform is taken; an
// index without it, or a single image built for another platform, is an
// errdefs.ErrNotFound error naming the platforms there are.
//
// Layers are downloaded in parallel, each checked against its digest
// (errdefs.ErrDataLoss "layer sha256:…: digest mismatch" otherwise) before
// it is renamed into the store's blobs; blobs the store has are not
// fetched again, and pulls running at once in this process download a
// shared blob once. Layers are unpacked later, on first use, by LayerDirs.
// A pull that fails or is cancelled leaves no partial blob and changes no
// name; running it again starts over cleanly, reusing the layers it had
// completed (the next Remove or Prune collects those if no image comes to
// use them).
//
// Errors name the reference: `pull "localhost:5000/nope:latest": manifest
// unknown` (errdefs.ErrNotFound). Unreachable registries are
// errdefs.ErrUnavailable, refused credentials ErrPermissionDenied or
// ErrUnauthenticated, a malformed reference or platform ErrInvalidArgument.
func (s *Store) Pull(ctx context.Context, ref string, opt PullOptions) (*Image, error) {
	img, err := s.doPull(ctx, ref, opt)
	if err == nil {
		s.event(ctx, "pull", FamiliarName(ref), FamiliarName(ref))
	}
	return img, err
}

// Push uploads the image named ref (normalised; it must carry a tag) to
// the registry ref names, with the manifest it has in the store, so the
// registry knows it by the same manifest digest, which Push returns.
// Blobs the registry has already are not sent again. Registries on the
// loopback interface are spoken to over plain HTTP. Errors:
// errdefs.ErrNotFound if the store has no image named ref, the classes of
// Pull for the registry's answers.
func (s *Store) Push(ctx context.Context, ref string, opt PushOptions) (string, error) {
	d, err := s.doPush(ctx, ref, opt)
	if err == nil {
		s.event(ctx, "push", FamiliarName(ref), FamiliarName(ref))
	}
	return d, err
}

// Load reads an image archive and stores every image in it: a
// docker-archive (what `docker save` writes: manifest.json naming configs
// and layer files, with the images' names) or an OCI image layout
// tarball (index.json and blobs/; images are named by the
// io.containerd.image.name or, if it is a full reference,
// org.opencontainers.image.ref.name annotation; a multi-platform index
// gives its DefaultPlatform image). The archive may be gzip- or
// zstd-compressed; told apart by magic bytes and by which of manifest.json
// (preferred, as Docker does) and index.json it has.
//
// Every blob is checked (layers against the config's diff IDs and, where
// the archive names them, their digests) before anything is committed;
// then all images are committed at once. A corrupt, truncated or
// unrecognised archive is an errdefs.ErrInvalidArgument error and leaves
// the store unchanged. An image that had one of the names loses it.
// Layers are stored as they are in the archive (compressed or not) and
// unpacked later by LayerDirs. A reader that is a regular, uncompressed
// file is read in place; any other is first copied to scratch space.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	imgs, err := s.doLoad(ctx, r)
	for _, img := range imgs {
		if len(img.RepoTags) == 0 {
			s.event(ctx, "load", img.ID, img.ID)
		}
		for _, t := range img.RepoTags {
			s.event(ctx, "load", img.ID, FamiliarName(t))
		}
	}
	return imgs, err
}

// Import reads a rootfs tarball (plain, gzip or zstd; told apart by their
// magic bytes) and stores it as a one-layer image named ref (normalised; ""
// for no name). An image that had the name before keeps its content and
// loses the name. The layer is unpacked at once, in the same pass that
// stores its blob; Import returns when r has been read to its end. Errors: ErrInvalidArgument for a bad reference, change or
// tarball (ErrUnsafeLayer for one that tries to write outside the layer).
func (s *Store) Import(ctx context.Context, r io.Reader, ref string, opt ImportOptions) (*Image, error) {
	img, err := s.doImport(ctx, r, ref, opt)
	if err == nil {
		s.event(ctx, "import", img.ID, FamiliarName(ref))
	}
	return img, err
}

// Put stores img, as pulled from a registry or loaded from an archive,
// under ref (normalised; a tag, or a digest reference matching img's
// manifest; "" for no name). Blobs the store has are not read again. Layers
// are unpacked later, by LayerDirs. Errors: ErrInvalidArgument for a bad
// reference or an image that is not a single-platform image manifest,
// ErrDataLoss when a blob read from img does not match its digest.
func (s *Store) Put(ctx context.Context, img v1.Image, ref string) (*Image, error) {
	stored, err := s.doPut(ctx, img, ref)
	if err == nil && ref != "" {
		s.event(ctx, "tag", stored.ID, FamiliarName(ref))
	}
	return stored, err
}

// Tag gives the image src the name ref, taking it from any image that had
// it. errdefs.ErrNotFound if src names no image.
func (s *Store) Tag(ctx context.Context, src, ref string) error {
	if err := s.doTag(ctx, src, ref); err != nil {
		return err
	}
	if img, err := s.Resolve(ctx, ref); err == nil {
		s.event(ctx, "tag", img.ID, FamiliarName(ref))
	}
	return nil
}

// Untag removes the name ref but keeps the image, nameless when it was its
// last name (as `docker rmi -f` does to an image a container uses), so the
// layers under a container's root filesystem stay. errdefs.ErrNotFound if
// ref names no image; errdefs.ErrInvalidArgument if ref is not a name.
func (s *Store) Untag(ctx context.Context, ref string) error {
	img, _ := s.Resolve(ctx, ref)
	if err := s.doUntag(ctx, ref); err != nil {
		return err
	}
	if img != nil {
		s.event(ctx, "untag", img.ID, FamiliarName(ref))
	}
	return nil
}

// Remove removes the name ref. Given an image ID, ID prefix or digest
// reference instead, it removes every name of that image. An image left
// without a name is deleted: its manifest, config and layer blobs and its
// unpacked layers, except those another image still uses. The caller makes
// sure no container uses the image. errdefs.ErrNotFound if ref names no
// image.
func (s *Store) Remove(ctx context.Context, ref string) error {
	img, _ := s.Resolve(ctx, ref)
	if err := s.doRemove(ctx, ref); err != nil {
		return err
	}
	if img == nil {
		return nil
	}
	s.event(ctx, "untag", img.ID, FamiliarName(ref))
	if _, err := s.Resolve(ctx, img.ID); errdefs.IsNotFound(err) {
		s.event(ctx, "delete", img.ID, FamiliarName(ref))
	}
	return nil
}
