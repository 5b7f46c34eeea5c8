package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// streamLayer lets go-containerregistry pick the decompressor (gzip, zstd or
// none, by the stream's magic bytes) for a layer blob read from r.
type streamLayer struct{ r io.Reader }

func (l streamLayer) Digest() (v1.Hash, error)            { return v1.Hash{}, errors.ErrUnsupported }
func (l streamLayer) Compressed() (io.ReadCloser, error)  { return io.NopCloser(l.r), nil }
func (l streamLayer) Size() (int64, error)                { return -1, nil }
func (l streamLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// decompress returns the uncompressed content of the layer blob read from r.
func decompress(r io.Reader) (io.ReadCloser, error) {
	l, err := partial.CompressedToLayer(streamLayer{r})
	if err != nil {
		return nil, err
	}
	return l.Uncompressed()
}

// digestOf returns the digest a hash has computed.
func digestOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// layerExists reports whether the layer with this chain ID is unpacked.
// Only a complete layer ever has its final name.
func (s *Store) layerExists(chainID string) (bool, error) {
	fi, err := os.Lstat(s.layerDir(chainID))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("layer %s: %w", chainID, err)
	}
	return fi.IsDir(), nil
}

// unpackBlobLocked unpacks the stored layer blob l (diff ID diffID) as the
// layer chainID, checking the blob against its digest and the uncompressed
// content against diffID before the layer gets its name. The store lock is
// held.
func (s *Store) unpackBlobLocked(ctx context.Context, l v1.Descriptor, diffID v1.Hash, chainID string) (retErr error) {
	f, err := os.Open(s.blobPath(l.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("layer %s: blob missing from the store (%w)", l.Digest, errdefs.ErrDataLoss)
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer f.Close()
	ls, err := openLayerStream(f, nil)
	if err != nil {
		return fmt.Errorf("layer %s: %w (%w)", l.Digest, err, errdefs.ErrDataLoss)
	}
	defer ls.close()

	t, err := newScratchDir(s.layersDir())
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, t.discard())
		}
	}()
	verify := func() error {
		if err := ls.finish(); err != nil {
			return fmt.Errorf("corrupt or truncated blob: %w (%w)", err, errdefs.ErrDataLoss)
		}
		if got := ls.digest(); got != l.Digest {
			return fmt.Errorf("blob does not match its digest (got %s): %w", got, errdefs.ErrDataLoss)
		}
		if got := ls.diffID(); got != diffID {
			return fmt.Errorf("content does not match diff ID %s (got %s): %w", diffID, got, errdefs.ErrDataLoss)
		}
		return nil
	}
	opt := unpackOptions{chown: s.chown, corrupt: errdefs.ErrDataLoss, verify: verify}
	if err := unpackLayer(ctx, ls.src, t.path, opt); err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	return s.placeLayerLocked(t, chainID)
}

// layerStream reads a layer blob for unpacking: the raw bytes are hashed
// (and copied to a writer) and decompressed in a goroutine that runs ahead
// of the consumer, so that decompression overlaps with hashing the content
// and writing files.
type layerStream struct {
	mediaType types.MediaType // by the magic bytes: gzip, zstd or uncompressed
	src       *bufio.Reader   // the uncompressed tarball

	raw    *bufio.Reader // the blob as read
	un     io.ReadCloser // the decompressor; nil for an uncompressed blob
	dh, uh hash.Hash     // digests of the blob and of its content
	pr     *io.PipeReader
	done   chan struct{} // closed when the goroutine has returned
}

// errStopped ends the read-ahead goroutine when the consumer stops early.
var errStopped = errors.New("layer stream closed")

// openLayerStream starts reading the blob r, copying what it reads to tee
// if not nil. Call close when done, before closing r.
func openLayerStream(r io.Reader, tee io.Writer) (*layerStream, error) {
	ls := &layerStream{dh: sha256.New(), done: make(chan struct{})}
	w := io.Writer(ls.dh)
	if tee != nil {
		w = io.MultiWriter(tee, ls.dh)
	}
	ls.raw = bufio.NewReaderSize(io.TeeReader(r, w), copyBufSize)
	magic, err := ls.raw.Peek(6)
	if len(magic) == 0 {
		if err == io.EOF {
			return nil, fmt.Errorf("empty tarball: %w", errdefs.ErrInvalidArgument)
		}
		return nil, err
	}
	if ls.mediaType, err = sniff(magic); err != nil {
		return nil, err
	}
	content := io.Reader(ls.raw)
	ls.uh = ls.dh
	if ls.mediaType != types.OCIUncompressedLayer {
		if ls.un, err = decompress(ls.raw); err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		content = ls.un
		ls.uh = sha256.New()
	}
	pr, pw := io.Pipe()
	ls.pr = pr
	go func() {
		defer close(ls.done)
		// Whole buffers go through the pipe: the decompressor returns small
		// reads, and each pipe hand-over costs a goroutine switch.
		bw := bufio.NewWriterSize(pw, copyBufSize)
		_, err := bw.ReadFrom(content)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err) // nil: the consumer sees io.EOF
	}()
	// The consumer hashes the content: decompressing is the slower half.
	src := io.Reader(pr)
	if ls.un != nil {
		src = io.TeeReader(pr, ls.uh)
	}
	ls.src = bufio.NewReaderSize(src, copyBufSize)
	return ls, nil
}

// finish reads the rest of the blob, past the end of the tarball, so that
// the digests cover all of it.
func (ls *layerStream) finish() error {
	if _, err := io.Copy(io.Discard, ls.src); err != nil {
		return err
	}
	<-ls.done
	if ls.un != nil {
		if _, err := io.Copy(io.Discard, ls.raw); err != nil {
			return err
		}
	}
	return nil
}

// close stops the read-ahead goroutine and waits for it.
func (ls *layerStream) close() {
	ls.pr.CloseWithError(errStopped)
	<-ls.done
	if ls.un != nil {
		_ = ls.un.Close()
	}
}

func (ls *layerStream) digest() v1.Hash { return digestOf(ls.dh) }
func (ls *layerStream) diffID() v1.Hash { return digestOf(ls.uh) }

// placeLayerLocked renames the unpacked scratch directory t to the layer
// chainID, or drops it when that layer exists already. The store lock is
// held.
func (s *Store) placeLayerLocked(t *scratch, chainID string) error {
	ok, err := s.layerExists(chainID)
	if err != nil {
		return errors.Join(err, t.discard())
	}
	if ok {
		return t.discard()
	}
	if err := os.Rename(t.path, s.layerDir(chainID)); err != nil {
		return errors.Join(fmt.Errorf("layer %s: %w", chainID, err), t.discard())
	}
	t.release()
	return nil
}

// removeLayerLocked removes the unpacked layer chainID. It is first renamed
// to a scratch name, so that no one sees it half-removed; if removal stops
// half-way a later sweep finishes it. The store lock is held.
func (s *Store) removeLayerLocked(chainID string) error {
	dir := s.layerDir(chainID)
	if ok, err := s.layerExists(chainID); err != nil || !ok {
		return err
	}
	// rename(2) of a directory over an empty one replaces it (os.Rename
	// refuses to).
	tmp, err := os.MkdirTemp(s.layersDir(), scratchPrefix+"rm-")
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", chainID, err)
	}
	if err := unix.Rename(dir, tmp); err != nil {
		return errors.Join(fmt.Errorf("remove layer %s: %w", chainID, err), os.Remove(tmp))
	}
	if err := removeAll(tmp); err != nil {
		return fmt.Errorf("remove layer %s: %w", chainID, err)
	}
	return nil
}
