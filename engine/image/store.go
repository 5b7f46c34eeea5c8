// Package image is berth's image store: an OCI image layout (content-addressed
// blobs and an index naming images) kept with go-containerregistry under
// <root>/images, and read-only unpacked layers under <root>/layers/<chain-id>,
// stacked with overlayfs by the engine.
//
// Lock order: the store lock (<root>/images/lock) is taken for any change of
// index.json and for unpacking; it is never held while calling out of the
// package.
package image

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"
)

// Store is the image store rooted at a state root. Safe for concurrent use by
// several goroutines and several processes.
type Store struct {
	root string // state root; immutable
	log  *slog.Logger
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
	ExposedPorts []string          `json:"ExposedPorts,omitempty"` // "80/tcp"
	Volumes      []string          `json:"Volumes,omitempty"`      // mount points
}

// Image is one image in the store.
type Image struct {
	ID       string    // config digest, "sha256:…"
	Digest   string    // manifest digest, "sha256:…"
	RepoTags []string  // normalised references naming it, e.g. "docker.io/library/busybox:latest"
	Created  time.Time // from the image config
	Size     int64     // sum of compressed layer sizes
	Config   Config
	ChainIDs []string // one per layer, lowest first; names the directories under <root>/layers
}

// ImportOptions change the image made by Import, like `docker import --change`.
type ImportOptions struct {
	Changes []string // Dockerfile-style CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL
}

var errUnimplemented = errors.New("not implemented")

// Open opens (creating if needed) the store under root.
func Open(root string, log *slog.Logger) (*Store, error) {
	return &Store{root: root, log: log}, nil
}

// Import reads a rootfs tarball (plain or gzip) and stores it as a one-layer
// image named ref. The layer is unpacked at once.
func (s *Store) Import(ctx context.Context, r io.Reader, ref string, opt ImportOptions) (*Image, error) {
	return nil, errUnimplemented
}

// Resolve finds the image named by ref (a name, name:tag, name@digest, or an
// image ID or unique ID prefix). errdefs.ErrNotFound if there is none.
func (s *Store) Resolve(ctx context.Context, ref string) (*Image, error) {
	return nil, errUnimplemented
}

// LayerDirs makes sure every layer of img is unpacked and returns their
// directories, lowest first, ready to be used as overlay lowerdirs.
func (s *Store) LayerDirs(ctx context.Context, img *Image) ([]string, error) {
	return nil, errUnimplemented
}

// List returns every image in the store, sorted by first name.
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	return nil, errUnimplemented
}

// Remove removes the name ref; when no name is left the image's blobs (and
// layers no other image uses) are deleted.
func (s *Store) Remove(ctx context.Context, ref string) error {
	return errUnimplemented
}
