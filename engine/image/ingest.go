package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// pending is a blob or layer written to scratch space, to be placed by
// commit.
type pending struct {
	blob    *scratch // the layer blob, or nil when the store has it
	digest  v1.Hash
	layer   *scratch // the unpacked layer, or nil
	chainID string
}

func (p *pending) discard() error {
	var errs []error
	if p.blob != nil {
		errs = append(errs, p.blob.discard())
	}
	if p.layer != nil {
		errs = append(errs, p.layer.discard())
	}
	return errors.Join(errs...)
}

// importLayer stores the tarball r as a one-layer image with configuration
// cfg and names it name.
func (s *Store) importLayer(ctx context.Context, r io.Reader, name string, cfg v1.Config, created time.Time, msg string) (_ *Image, retErr error) {
	l, p, err := s.ingestTarball(ctx, r)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, p.discard())
		}
	}()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     l,
		MediaType: l.mediaType,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "berth import", Comment: msg},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: created}
	cf.Config = cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	return s.commit(ctx, name, img, []*pending{p})
}

// commit places the pending blobs and layers, stores img's manifest and
// config, and names it, all under the store lock.
func (s *Store) commit(ctx context.Context, name string, img v1.Image, ps []*pending) (*Image, error) {
	st, err := stageImage(img, ps)
	if err != nil {
		return nil, err
	}
	if name != "" {
		st.names = []string{name}
	}
	out, err := s.commitAll(ctx, []*staged{st})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// staged is an image ready to be committed: its manifest and config, read
// and checked, the pending blobs and layers it brings, and the names to
// give it.
type staged struct {
	names          []string // normalised; none for an image without a name
	rawCfg, rawMan []byte
	m              *v1.Manifest
	cf             *v1.ConfigFile
	desc           v1.Descriptor // its descriptor in index.json, without digest nor names
	ps             []*pending
}

// stageImage reads img's manifest and config and checks the config against
// its digest.
func stageImage(img v1.Image, ps []*pending) (*staged, error) {
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	rawMan, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(rawCfg); sumDigest(sum) != m.Config.Digest {
		return nil, fmt.Errorf("config does not match its digest %s: %w", m.Config.Digest, errdefs.ErrDataLoss)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	desc := v1.Descriptor{
		MediaType: mt,
		Size:      int64(len(rawMan)),
		Platform:  &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
	}
	return &staged{rawCfg: rawCfg, rawMan: rawMan, m: m, cf: cf, desc: desc, ps: ps}, nil
}

// commitAll places the pending blobs and layers of every staged image,
// stores their manifests and configs and names them, all under one hold of
// the store lock and with one write of index.json: either every image is in
// the store afterwards, or (but for blobs, collected later) none is.
func (s *Store) commitAll(ctx context.Context, sts []*staged) ([]*Image, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.sweepLocked()
	for _, st := range sts {
		if st.desc.Digest, err = s.placeLocked(st.ps, st.rawCfg, st.rawMan); err != nil {
			return nil, err
		}
	}
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	for _, st := range sts {
		if len(st.names) == 0 {
			setName(im, "", st.desc)
		}
		for _, n := range st.names {
			setName(im, n, st.desc)
		}
	}
	if err := s.writeIndexLocked(im); err != nil {
		return nil, err
	}
	names := map[v1.Hash][]string{}
	for _, e := range entries(im) {
		names[e.desc.Digest] = e.names
	}
	out := make([]*Image, len(sts))
	for i, st := range sts {
		out[i] = newImage(st.desc.Digest, names[st.desc.Digest], st.m, st.cf)
	}
	return out, nil
}

func sumDigest(sum [32]byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// placeLocked moves the pending blobs and layers into place and stores the
// config and manifest; it returns the manifest's digest. The store lock is
// held.
func (s *Store) placeLocked(ps []*pending, rawCfg, rawMan []byte) (v1.Hash, error) {
	for _, p := range ps {
		if p.blob != nil {
			if err := s.placeBlobLocked(p.blob, p.digest); err != nil {
				return v1.Hash{}, err
			}
			continue
		}
		// The store had this blob before the lock was taken; a Remove
		// may have collected it since.
		if _, err := os.Stat(s.blobPath(p.digest)); err != nil {
			return v1.Hash{}, fmt.Errorf("blob %s removed meanwhile, try again: %w", p.digest, errdefs.ErrAborted)
		}
	}
	if _, err := s.putBlobLocked(rawCfg); err != nil {
		return v1.Hash{}, err
	}
	h, err := s.putBlobLocked(rawMan)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := syncDir(s.blobsDir()); err != nil {
		return v1.Hash{}, fmt.Errorf("image store: %w", err)
	}
	for _, p := range ps {
		if p.layer != nil {
			if err := s.placeLayerLocked(p.layer, p.chainID); err != nil {
				return v1.Hash{}, err
			}
		}
	}
	return h, nil
}

// ingestedLayer is the v1.Layer of a tarball Import has read: its digests
// and size are known, its content lives in scratch space until committed.
type ingestedLayer struct {
	digest, diffID v1.Hash
	size           int64
	mediaType      types.MediaType
}

func (l *ingestedLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *ingestedLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *ingestedLayer) Size() (int64, error)                { return l.size, nil }
func (l *ingestedLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *ingestedLayer) Compressed() (io.ReadCloser, error) {
	return nil, fmt.Errorf("layer %s: content not committed yet: %w", l.digest, errdefs.ErrFailedPrecondition)
}
func (l *ingestedLayer) Uncompressed() (io.ReadCloser, error) { return l.Compressed() }

// sniff tells the compression of a layer tarball by its first bytes.
func sniff(magic []byte) (types.MediaType, error) {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return types.OCILayer, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return types.OCILayerZStd, nil
	case bytes.HasPrefix(magic, []byte("BZh")), bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "", fmt.Errorf("bzip2 and xz tarballs are not supported, decompress it first: %w", errdefs.ErrInvalidArgument)
	}
	return types.OCIUncompressedLayer, nil
}

// countWriter counts what goes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ingestTarball reads the tarball r once: its bytes go to a scratch blob as
// they are (compressed or not) while its content is unpacked into a scratch
// layer directory, and both digests are computed on the way.
func (s *Store) ingestTarball(ctx context.Context, r io.Reader) (_ *ingestedLayer, _ *pending, retErr error) {
	p := &pending{}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, p.discard())
		}
	}()
	var err error
	if p.blob, err = newScratchFile(s.ingestDir()); err != nil {
		return nil, nil, err
	}
	if p.layer, err = newScratchDir(s.layersDir()); err != nil {
		return nil, nil, err
	}
	bw := bufio.NewWriterSize(p.blob.f, copyBufSize)
	cw := &countWriter{w: bw}
	ls, err := openLayerStream(r, cw)
	if err != nil {
		if !errdefs.IsInvalidArgument(err) {
			err = fmt.Errorf("read tarball: %w (%w)", err, errdefs.ErrInvalidArgument)
		}
		return nil, nil, err
	}
	defer ls.close()
	drain := func() error {
		if err := ls.finish(); err != nil {
			return fmt.Errorf("corrupt or truncated tarball: %w (%w)", err, errdefs.ErrInvalidArgument)
		}
		return nil
	}
	opt := unpackOptions{chown: s.chown, corrupt: errdefs.ErrInvalidArgument, verify: drain}
	if err := unpackLayer(ctx, ls.src, p.layer.path, opt); err != nil {
		return nil, nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, nil, fmt.Errorf("write blob: %w", err)
	}
	l := &ingestedLayer{digest: ls.digest(), diffID: ls.diffID(), size: cw.n, mediaType: ls.mediaType}
	p.digest, p.chainID = l.digest, l.diffID.String()
	return l, p, nil
}

// doPut is Put, without recording its event.
func (s *Store) doPut(ctx context.Context, img v1.Image, ref string) (_ *Image, retErr error) {
	var name string
	if ref != "" {
		n, err := Normalize(ref)
		if err != nil {
			return nil, err
		}
		name = n
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("put %s: %w", ref, err)
	}
	if !isImageManifest(mt) {
		return nil, fmt.Errorf("put %s: media type %s is not an image manifest: %w", ref, mt, errdefs.ErrInvalidArgument)
	}
	if isDigestRef(name) {
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		if want := name[len(repoOf(name))+1:]; d.String() != want {
			return nil, fmt.Errorf("put %s: image digest is %s: %w", ref, d, errdefs.ErrInvalidArgument)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("put %s: %w", ref, err)
	}
	ps := make([]*pending, len(layers))
	defer func() {
		if retErr != nil {
			for _, p := range ps {
				if p != nil {
					retErr = errors.Join(retErr, p.discard())
				}
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(3)
	for i, l := range layers {
		g.Go(func() error {
			p, err := s.fetchBlob(gctx, l)
			ps[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("put %s: %w", ref, err)
	}
	out, err := s.commit(ctx, name, img, ps)
	if err != nil {
		return nil, fmt.Errorf("put %s: %w", ref, err)
	}
	return out, nil
}

// fetchBlob copies the compressed blob of l to scratch space, checking it
// against its digest, unless the store has it.
func (s *Store) fetchBlob(ctx context.Context, l v1.Layer) (_ *pending, retErr error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	p := &pending{digest: d}
	if _, err := os.Stat(s.blobPath(d)); err == nil {
		return p, nil
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d, err)
	}
	defer rc.Close()
	if p.blob, err = newScratchFile(s.ingestDir()); err != nil {
		return nil, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(p.blob.f, h), &ctxReader{ctx, rc})
	if err == nil && digestOf(h) != d {
		err = fmt.Errorf("blob does not match its digest (got %s): %w", digestOf(h), errdefs.ErrDataLoss)
	}
	if err != nil {
		return p, fmt.Errorf("layer %s: %w", d, err)
	}
	return p, nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}
