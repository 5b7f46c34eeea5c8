package build

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/flock"
)

// cacheVersion is the version of the cache entries this code reads and
// writes; an entry of another version is a miss.
const cacheVersion = 1

// cacheEntry is <root>/build/cache/<key>.json: what a layer step made.
type cacheEntry struct {
	Version int       `json:"version"`
	DiffID  string    `json:"diff_id,omitempty"` // "sha256:…"; "" for a step that changed nothing
	Created time.Time `json:"created"`
}

// stepKey is the cache key of a layer step: its parent's key, the expanded
// instruction (which holds the configuration it sees: environment, user,
// working directory, shell) and, for COPY and ADD, the checksum of its
// sources.
func stepKey(parent, instruction, sources string) string {
	h := sha256.New()
	for _, s := range []string{"berth-build-step/1", parent, instruction, sources} {
		fmt.Fprintf(h, "%d:%s\n", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cache is the build cache under <root>/build.
type cache struct {
	dir string
}

func (c *cache) layerFile(diffID string) string {
	return filepath.Join(c.dir, "layers", strings.TrimPrefix(diffID, "sha256:"))
}

func (c *cache) unpackedDir(diffID string) string {
	return filepath.Join(c.dir, "unpacked", strings.TrimPrefix(diffID, "sha256:"))
}

func (c *cache) entryFile(key string) string { return filepath.Join(c.dir, "cache", key+".json") }

func (c *cache) init() error {
	for _, d := range []string{"layers", "unpacked", "cache", "locks"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o700); err != nil {
			return fmt.Errorf("build cache: %w", err)
		}
	}
	return nil
}

// get returns the entry of key if there is a complete one: its layer file
// present. A missing or stale entry is a miss, not an error; a corrupt one
// is an error naming its path.
func (c *cache) get(key string) (*cacheEntry, bool, error) {
	b, err := os.ReadFile(c.entryFile(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("build cache: %w", err)
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, false, fmt.Errorf("build cache: %s: %w: %w", c.entryFile(key), err, errdefs.ErrDataLoss)
	}
	if e.Version != cacheVersion {
		return nil, false, nil
	}
	if e.DiffID != "" {
		if _, err := os.Stat(c.layerFile(e.DiffID)); err != nil {
			return nil, false, nil
		}
	}
	return &e, true, nil
}

func (c *cache) put(key string, e *cacheEntry) error {
	e.Version = cacheVersion
	return atomicfile.WriteJSON(c.entryFile(key), e, 0o600)
}

// lock takes the flock of key: held while the step is made.
func (c *cache) lock(ctx context.Context, key string) (func(), error) {
	return flock.Lock(ctx, filepath.Join(c.dir, "locks", key))
}

// tempName is a new name for a scratch file or directory in the cache,
// .tmp-<owner>-<random>: the next build's sweep removes it if this process
// dies before it is renamed into place or removed.
func (c *cache) tempName() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return filepath.Join(c.dir, ".tmp-"+self()+"-"+hex.EncodeToString(b[:]))
}

// layerWriter writes a layer tarball into the cache, hashing it on the way.
type layerWriter struct {
	c    *cache
	f    *os.File
	bw   *bufio.Writer // a tar writes each header and small file on its own
	h    io.Writer
	sum  func() []byte
	size int64
}

func (c *cache) newLayer() (*layerWriter, error) {
	f, err := os.OpenFile(c.tempName(), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	h := sha256.New()
	return &layerWriter{c: c, f: f, bw: bufio.NewWriterSize(f, 256<<10), h: h, sum: func() []byte { return h.Sum(nil) }}, nil
}

func (w *layerWriter) Write(p []byte) (int, error) {
	n, err := w.bw.Write(p)
	_, _ = w.h.Write(p[:n]) // a hash never fails
	w.size += int64(n)
	return n, err
}

// abort removes the unfinished layer.
func (w *layerWriter) abort() {
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

// diffID is the digest of what was written so far.
func (w *layerWriter) diffID() string { return "sha256:" + hex.EncodeToString(w.sum()) }

// commit syncs the layer and renames it into place under its digest.
func (w *layerWriter) commit() (string, error) {
	if err := w.bw.Flush(); err != nil {
		w.abort()
		return "", fmt.Errorf("build cache: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		w.abort()
		return "", fmt.Errorf("build cache: %w", err)
	}
	if err := w.f.Close(); err != nil {
		_ = os.Remove(w.f.Name())
		return "", fmt.Errorf("build cache: %w", err)
	}
	diffID := w.diffID()
	if err := os.Rename(w.f.Name(), w.c.layerFile(diffID)); err != nil {
		_ = os.Remove(w.f.Name())
		return "", fmt.Errorf("build cache: %w", err)
	}
	return diffID, nil
}

// unpacked returns the unpacked directory of a cached layer, unpacking it
// first if no build did yet.
func (c *cache) unpacked(ctx context.Context, diffID string) (_ string, retErr error) {
	dir := c.unpackedDir(diffID)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	f, err := os.Open(c.layerFile(diffID))
	if err != nil {
		return "", fmt.Errorf("build cache: layer %s: %w", diffID, err)
	}
	defer f.Close()
	tmp := c.tempName()
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := image.UnpackLayer(ctx, f, tmp); err != nil {
		return "", fmt.Errorf("build cache: unpack layer %s: %w", diffID, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil { // another build was quicker
			_ = os.RemoveAll(tmp)
			return dir, nil
		}
		return "", fmt.Errorf("build cache: %w", err)
	}
	return dir, nil
}
