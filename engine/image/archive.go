package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// containerdNameAnnotation names an image in the index.json of archives
// written by containerd and Docker (a full reference, where
// org.opencontainers.image.ref.name often holds only the tag).
const containerdNameAnnotation = "io.containerd.image.name"

// errCorruptArchive classifies every problem with an archive's content.
var errCorruptArchive = fmt.Errorf("corrupt image archive (%w)", errdefs.ErrInvalidArgument)

func corrupt(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errCorruptArchive)...)
}

// doLoad is Load, without recording its event.
func (s *Store) doLoad(ctx context.Context, r io.Reader) ([]*Image, error) {
	imgs, err := s.loadArchive(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return imgs, nil
}

func (s *Store) loadArchive(ctx context.Context, r io.Reader) (_ []*Image, retErr error) {
	f, done, err := s.archiveFile(ctx, r)
	if err != nil {
		return nil, err
	}
	defer func() { retErr = errors.Join(retErr, done()) }()
	a, err := indexTar(ctx, f)
	if err != nil {
		return nil, err
	}
	al := &archiveLoad{s: s, a: a, byPath: map[string]*loadedBlob{}}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, al.discard())
		}
	}()
	var sts []*staged
	switch {
	case a.has("manifest.json"):
		sts, err = al.stageDockerArchive(ctx)
	case a.has("index.json"):
		sts, err = al.stageOCIArchive(ctx)
	default:
		return nil, corrupt("neither manifest.json (docker-archive) nor index.json (OCI layout) in the archive")
	}
	if err != nil {
		return nil, err
	}
	return s.commitAll(ctx, sts)
}

// archiveFile returns r as a file that can be read at any offset: r itself
// if it is a regular uncompressed file, else a scratch copy (decompressed).
// done releases it.
func (s *Store) archiveFile(ctx context.Context, r io.Reader) (*os.File, func() error, error) {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			magic := make([]byte, 6)
			n, _ := f.ReadAt(magic, 0)
			if mt, err := sniff(magic[:n]); err == nil && mt == types.OCIUncompressedLayer {
				return f, func() error { return nil }, nil
			}
		}
	}
	br := bufio.NewReaderSize(r, copyBufSize)
	magic, err := br.Peek(6)
	if len(magic) == 0 {
		if err == io.EOF {
			return nil, nil, corrupt("empty archive")
		}
		return nil, nil, fmt.Errorf("read archive: %w", err)
	}
	mt, err := sniff(magic)
	if err != nil {
		return nil, nil, err
	}
	src := io.Reader(br)
	if mt != types.OCIUncompressedLayer {
		rc, err := decompress(br)
		if err != nil {
			return nil, nil, corrupt("decompress: %v", err)
		}
		defer rc.Close()
		src = rc
	}
	t, err := newScratchFile(s.ingestDir())
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.Copy(t.f, &ctxReader{ctx, src}); err != nil {
		if ctx.Err() == nil && mt != types.OCIUncompressedLayer {
			err = corrupt("decompress: %v", err)
		}
		return nil, nil, errors.Join(err, t.discard())
	}
	return t.f, t.discard, nil
}

// tarArchive is an index of the regular files of a tarball kept in a file,
// to read them in any order.
type tarArchive struct {
	f     *os.File
	files map[string]tarEntry // cleaned name ("blobs/sha256/…") → where its data is
}

type tarEntry struct{ off, size int64 }

// indexTar reads the headers of the tarball f.
func indexTar(ctx context.Context, f *os.File) (*tarArchive, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	a := &tarArchive{f: f, files: map[string]tarEntry{}}
	tr := tar.NewReader(f) // reads whole blocks, no more: f's offset is exact
	for {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, corrupt("not a tarball, or truncated: %v", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		a.files[archivePath(hdr.Name)] = tarEntry{off: off, size: hdr.Size}
	}
	return a, nil
}

func archivePath(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }

func (a *tarArchive) has(name string) bool { _, ok := a.files[archivePath(name)]; return ok }

func (a *tarArchive) open(name string) (*io.SectionReader, error) {
	e, ok := a.files[archivePath(name)]
	if !ok {
		return nil, corrupt("%s missing from the archive", name)
	}
	return io.NewSectionReader(a.f, e.off, e.size), nil
}

// read reads a small file of the archive.
func (a *tarArchive) read(name string) ([]byte, error) {
	r, err := a.open(name)
	if err != nil {
		return nil, err
	}
	if r.Size() > maxMetaBlob {
		return nil, corrupt("%s: larger than %d bytes", name, maxMetaBlob)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read archive: %s: %w", name, err)
	}
	return b, nil
}

// archiveLoad is one Load: the archive and the layer blobs copied out of
// it so far, into scratch space.
type archiveLoad struct {
	s      *Store
	a      *tarArchive
	byPath map[string]*loadedBlob
}

// loadedBlob is a layer blob of the archive, checked and in scratch space.
type loadedBlob struct {
	desc    v1.Descriptor
	p       *pending
	claimed bool // a staged image owns p; later users get a pending without scratch
}

func (al *archiveLoad) discard() error {
	var errs []error
	for _, b := range al.byPath {
		errs = append(errs, b.p.discard())
	}
	return errors.Join(errs...)
}

// pendingFor returns the pending of b for one more image.
func (b *loadedBlob) pendingFor() *pending {
	if b.claimed {
		return &pending{digest: b.desc.Digest}
	}
	b.claimed = true
	return b.p
}

// layer copies the layer file p to scratch space, checking its content
// against diffID and, if known (non-zero), the blob against digest.
func (al *archiveLoad) layer(ctx context.Context, p string, digest, diffID v1.Hash) (_ *loadedBlob, retErr error) {
	if b := al.byPath[archivePath(p)]; b != nil {
		if (digest != v1.Hash{} && digest != b.desc.Digest) {
			return nil, corrupt("layer %s: digest %s, not %s", p, b.desc.Digest, digest)
		}
		return b, nil
	}
	r, err := al.a.open(p)
	if err != nil {
		return nil, err
	}
	t, err := newScratchFile(al.s.ingestDir())
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, t.discard())
		}
	}()
	bw := bufio.NewWriterSize(t.f, copyBufSize)
	ls, err := openLayerStream(&ctxReader{ctx, r}, bw)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, corrupt("layer %s: %v", p, err)
	}
	err = ls.finish()
	ls.close()
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, corrupt("layer %s: %v", p, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("layer %s: %w", p, err)
	}
	if got := ls.digest(); (digest != v1.Hash{} && got != digest) {
		return nil, corrupt("layer %s: digest mismatch (got %s)", digest, got)
	}
	if got := ls.diffID(); got != diffID {
		return nil, corrupt("layer %s: content does not match diff ID %s (got %s)", p, diffID, got)
	}
	mt := ls.mediaType // gzip, zstd or uncompressed: OCI types
	b := &loadedBlob{
		desc: v1.Descriptor{MediaType: mt, Size: r.Size(), Digest: ls.digest()},
		p:    &pending{blob: t, digest: ls.digest()},
	}
	al.byPath[archivePath(p)] = b
	return b, nil
}

// digestInName returns the digest a file name of the archive states, zero
// if none: the names that carry one are "<hex>", "sha256:<hex>", and
// either with .json, .tar, .tar.gz, .tgz or .tar.zst after it.
func digestInName(p string) v1.Hash {
	b := strings.TrimPrefix(path.Base(p), "sha256:")
	if len(b) < 64 || !isHex(b[:64]) {
		return v1.Hash{}
	}
	switch b[64:] {
	case "", ".json", ".tar", ".tar.gz", ".tgz", ".tar.zst":
		return v1.Hash{Algorithm: "sha256", Hex: b[:64]}
	}
	return v1.Hash{}
}

// stageDockerArchive reads a docker-archive. Its manifest.json lists, per
// image, a config file, the layer files and the image's names; the
// manifest stored for it is made here (OCI, layers kept as they are), so
// the image ID (config digest) is the one it had when saved.
func (al *archiveLoad) stageDockerArchive(ctx context.Context) ([]*staged, error) {
	raw, err := al.a.read("manifest.json")
	if err != nil {
		return nil, err
	}
	var man tarball.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return nil, corrupt("manifest.json: %v", err)
	}
	if len(man) == 0 {
		return nil, corrupt("manifest.json lists no image")
	}
	var out []*staged
	for _, d := range man {
		st, err := al.stageDockerImage(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (al *archiveLoad) stageDockerImage(ctx context.Context, d tarball.Descriptor) (*staged, error) {
	rawCfg, err := al.a.read(d.Config)
	if err != nil {
		return nil, err
	}
	cfgDigest := sumDigest(sha256.Sum256(rawCfg))
	if h := digestInName(d.Config); (h != v1.Hash{} && h != cfgDigest) {
		return nil, corrupt("config %s: digest mismatch (got %s)", d.Config, cfgDigest)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, corrupt("config %s: %v", d.Config, err)
	}
	if len(cf.RootFS.DiffIDs) != len(d.Layers) {
		return nil, corrupt("config %s: %d diff IDs for %d layers", d.Config, len(cf.RootFS.DiffIDs), len(d.Layers))
	}
	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(rawCfg)), Digest: cfgDigest},
	}
	var ps []*pending
	for i, lp := range d.Layers {
		b, err := al.layer(ctx, lp, digestInName(lp), cf.RootFS.DiffIDs[i])
		if err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, b.desc)
		ps = append(ps, b.pendingFor())
	}
	rawMan, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	st := &staged{rawCfg: rawCfg, rawMan: rawMan, m: m, cf: cf, ps: ps, desc: v1.Descriptor{
		MediaType: types.OCIManifestSchema1,
		Size:      int64(len(rawMan)),
		Platform:  &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
	}}
	for _, tag := range d.RepoTags {
		n, err := normalizeTag(tag)
		if err != nil {
			return nil, corrupt("manifest.json: %v", err)
		}
		st.names = append(st.names, n)
	}
	return st, nil
}

// stageOCIArchive reads an OCI image layout tarball. Manifests and configs
// are stored as they are, so an image keeps its manifest digest.
func (al *archiveLoad) stageOCIArchive(ctx context.Context) ([]*staged, error) {
	raw, err := al.a.read("index.json")
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, corrupt("index.json: %v", err)
	}
	if len(im.Manifests) == 0 {
		return nil, corrupt("index.json lists no image")
	}
	want, err := parsePlatform("")
	if err != nil {
		return nil, err
	}
	var out []*staged
	for _, d := range im.Manifests {
		md, err := al.resolve(d, want, 0)
		if err != nil {
			return nil, err
		}
		st, err := al.stageOCIImage(ctx, md)
		if err != nil {
			return nil, err
		}
		n, err := archiveName(d.Annotations, md.Digest)
		if err != nil {
			return nil, err
		}
		if n != "" {
			st.names = []string{n}
		}
		out = append(out, st)
	}
	return out, nil
}

// archiveName is the name an OCI index descriptor gives its image: the
// containerd annotation, else the OCI one if it is a full reference (it is
// often only a tag, which names no repository). A digest reference is kept
// only if it names this manifest.
func archiveName(ann map[string]string, manifest v1.Hash) (string, error) {
	n := ann[containerdNameAnnotation]
	if n == "" {
		n = ann[refNameAnnotation]
		if !strings.ContainsAny(n, "/:") {
			return "", nil
		}
	}
	norm, err := Normalize(n)
	if err != nil {
		return "", corrupt("index.json: image name: %v", err)
	}
	if isDigestRef(norm) && !strings.HasSuffix(norm, "@"+manifest.String()) {
		return "", nil
	}
	return norm, nil
}

// blob reads a small blob of an OCI layout and checks its digest.
func (al *archiveLoad) blob(h v1.Hash) ([]byte, error) {
	if (h == v1.Hash{}) {
		return nil, corrupt("a descriptor without a digest")
	}
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm: %w", h, errdefs.ErrNotImplemented)
	}
	b, err := al.a.read("blobs/sha256/" + h.Hex)
	if err != nil {
		return nil, err
	}
	if got := sumDigest(sha256.Sum256(b)); got != h {
		return nil, corrupt("blob %s: digest mismatch (got %s)", h, got)
	}
	return b, nil
}

// resolve returns the image manifest descriptor d stands for: d itself, or
// for an index, its image for want among those the archive has.
func (al *archiveLoad) resolve(d v1.Descriptor, want v1.Platform, depth int) (v1.Descriptor, error) {
	switch {
	case d.MediaType.IsImage() || d.MediaType == "":
		return d, nil
	case !d.MediaType.IsIndex():
		return v1.Descriptor{}, fmt.Errorf("%s: media type %s is not an image: %w", d.Digest, d.MediaType, errdefs.ErrNotImplemented)
	case depth > 3:
		return v1.Descriptor{}, corrupt("index %s: nested too deep", d.Digest)
	}
	raw, err := al.blob(d.Digest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, corrupt("index %s: %v", d.Digest, err)
	}
	// `docker save --platform` keeps the whole index but only some images.
	present := *im
	present.Manifests = slices.DeleteFunc(slices.Clone(im.Manifests), func(c v1.Descriptor) bool {
		return !al.a.has("blobs/sha256/" + c.Digest.Hex)
	})
	if len(present.Manifests) == 1 && present.Manifests[0].Platform == nil {
		return al.resolve(present.Manifests[0], want, depth+1)
	}
	c, err := pickManifest(&present, want)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("index %s: %w", d.Digest, err)
	}
	return al.resolve(c, want, depth+1)
}

func (al *archiveLoad) stageOCIImage(ctx context.Context, md v1.Descriptor) (*staged, error) {
	rawMan, err := al.blob(md.Digest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawMan))
	if err != nil {
		return nil, corrupt("manifest %s: %v", md.Digest, err)
	}
	mt := cmpMediaType(m.MediaType, md.MediaType, types.OCIManifestSchema1)
	if !isImageManifest(mt) {
		return nil, fmt.Errorf("manifest %s: media type %s is not an image manifest: %w", md.Digest, mt, errdefs.ErrNotImplemented)
	}
	rawCfg, err := al.blob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, corrupt("config %s: %v", m.Config.Digest, err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, corrupt("config %s: %d diff IDs for %d layers", m.Config.Digest, len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	var ps []*pending
	for i, l := range m.Layers {
		b, err := al.layer(ctx, "blobs/sha256/"+l.Digest.Hex, l.Digest, cf.RootFS.DiffIDs[i])
		if err != nil {
			return nil, err
		}
		if b.desc.Size != l.Size {
			return nil, corrupt("layer %s: %d bytes, the manifest says %d", l.Digest, b.desc.Size, l.Size)
		}
		ps = append(ps, b.pendingFor())
	}
	return &staged{rawCfg: rawCfg, rawMan: rawMan, m: m, cf: cf, ps: ps, desc: v1.Descriptor{
		MediaType: mt,
		Size:      int64(len(rawMan)),
		Platform:  &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
	}}, nil
}

func cmpMediaType(ts ...types.MediaType) types.MediaType {
	for _, t := range ts {
		if t != "" {
			return t
		}
	}
	return ""
}

// Save writes the images refs name to w as a docker-archive, which
// `docker load` and Load read. An image named by one of its names keeps
// that name in the archive; one named by ID or digest is saved without a
// name. An image named twice is written once. errdefs.ErrNotFound if a
// reference names no image; nothing useful is left in w then.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string) error {
	if len(refs) == 0 {
		return fmt.Errorf("save: no image given: %w", errdefs.ErrInvalidArgument)
	}
	byDigest := map[string]v1.Image{}
	toWrite := map[name.Reference]v1.Image{}
	for _, ref := range refs {
		img, err := s.Resolve(ctx, ref)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		v := byDigest[img.Digest]
		if v == nil {
			if v, err = s.V1Image(ctx, img); err != nil {
				return fmt.Errorf("save: %w", err)
			}
			byDigest[img.Digest] = v
		}
		var key name.Reference
		if n, err := normalizeTag(ref); err == nil && slices.Contains(img.RepoTags, n) {
			key, err = name.NewTag(n)
			if err != nil {
				return fmt.Errorf("save %s: %w (%w)", ref, err, errdefs.ErrInvalidArgument)
			}
		} else {
			// Not a tag: a key for the map only, MultiRefWrite writes no
			// name for it.
			key, err = name.NewDigest("untagged@" + img.Digest)
			if err != nil {
				return fmt.Errorf("save %s: %w", ref, err)
			}
		}
		toWrite[key] = v
	}
	if err := tarball.MultiRefWrite(toWrite, &ctxWriter{ctx, w}); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("save: %w", context.Cause(ctx))
		}
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

// ctxWriter stops a copy when ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.w.Write(p)
}
