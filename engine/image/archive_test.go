package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testimage"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func save(t testing.TB, s *Store, refs ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.Save(t.Context(), &b, refs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sameImages compares what matters of two images: content and names.
func sameImage(a, b *Image) bool {
	// The order of an image's names carries no meaning.
	return a.ID == b.ID && slices.Equal(a.ChainIDs, b.ChainIDs) &&
		slices.Equal(slices.Sorted(slices.Values(a.RepoTags)), slices.Sorted(slices.Values(b.RepoTags)))
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := newStore(t)
	bb := importTar(t, s, busybox(t), "bb:1", "CMD [\"/bin/sh\"]")
	if err := s.Tag(t.Context(), "bb:1", "registry.example/bb:2"); err != nil {
		t.Fatal(err)
	}
	rnd, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Put(t.Context(), rnd, "rnd:1")
	if err != nil {
		t.Fatal(err)
	}
	bb, _ = s.Resolve(t.Context(), "bb:1")
	archive := save(t, s, "bb:1", "registry.example/bb:2", "rnd:1", r.ID)

	for _, viaFile := range []bool{false, true} {
		name := "reader"
		if viaFile {
			name = "file"
		}
		t.Run(name, func(t *testing.T) {
			s2 := newStore(t)
			var in io.Reader = bytes.NewReader(archive)
			if viaFile {
				p := filepath.Join(t.TempDir(), "a.tar")
				if err := os.WriteFile(p, archive, 0o644); err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				in = f
			}
			got, err := s2.Load(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("loaded %d images", len(got))
			}
			for _, want := range []*Image{bb, r} {
				img, err := s2.Resolve(t.Context(), want.RepoTags[0])
				if err != nil {
					t.Fatal(err)
				}
				if !sameImage(img, want) {
					t.Errorf("loaded %+v, saved %+v", img, want)
				}
				if _, err := s2.LayerDirs(t.Context(), img); err != nil {
					t.Error(err)
				}
			}
			noScratch(t, s2)
		})
	}

	t.Run("gzip", func(t *testing.T) {
		s2 := newStore(t)
		if _, err := s2.Load(t.Context(), bytes.NewReader(testimage.Gzip(archive))); err != nil {
			t.Fatal(err)
		}
		if _, err := s2.Resolve(t.Context(), "rnd:1"); err != nil {
			t.Error(err)
		}
		noScratch(t, s2)
	})

	t.Run("by ID has no name", func(t *testing.T) {
		s2 := newStore(t)
		got, err := s2.Load(t.Context(), bytes.NewReader(save(t, s, bb.ID)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != bb.ID || len(got[0].RepoTags) != 0 {
			t.Errorf("got %+v", got[0])
		}
	})

	if err := s.Save(t.Context(), io.Discard, []string{"nope"}); !errdefs.IsNotFound(err) {
		t.Errorf("save of a missing image: %v", err)
	}
}

// TestLoadDockerSaveLayout loads an archive shaped like Docker 25's `docker
// save`: uncompressed layers under blobs/sha256, manifest.json and an
// index.json beside it.
func TestLoadDockerSaveLayout(t *testing.T) {
	layer := busybox(t)
	src := testImage(t, DefaultPlatform) // one small gzip layer
	cf, err := src.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	diff := sumDigest(sha256Sum(layer))
	cf.RootFS.DiffIDs = append([]v1.Hash{diff}, cf.RootFS.DiffIDs...)
	rawCfg, _ := json.Marshal(cf)
	cfgDigest := sumDigest(sha256Sum(rawCfg))
	small, _ := src.Manifest()
	smallBlob := blobBytes(t, src, small.Layers[0].Digest)
	man, _ := json.Marshal([]map[string]any{{
		"Config":   "blobs/sha256/" + cfgDigest.Hex,
		"RepoTags": []string{"docker/saved:1"},
		"Layers":   []string{"blobs/sha256/" + diff.Hex, "blobs/sha256/" + small.Layers[0].Digest.Hex},
	}})
	archive := tarOf(t, map[string][]byte{
		"manifest.json":                              man,
		"index.json":                                 []byte(`{"schemaVersion":2,"manifests":[]}`),
		"oci-layout":                                 ociLayout,
		"blobs/sha256/" + cfgDigest.Hex:              rawCfg,
		"blobs/sha256/" + diff.Hex:                   layer,
		"blobs/sha256/" + small.Layers[0].Digest.Hex: smallBlob,
		"repositories":                               []byte(`{"docker/saved":{"1":"x"}}`),
	})
	s := newStore(t)
	got, err := s.Load(t.Context(), bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != cfgDigest.String() || !slices.Equal(got[0].RepoTags, []string{"docker.io/docker/saved:1"}) {
		t.Fatalf("got %+v", got)
	}
	dirs, err := s.LayerDirs(t.Context(), got[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "bin/busybox")); err != nil {
		t.Error(err)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func blobBytes(t testing.TB, img v1.Image, h v1.Hash) []byte {
	t.Helper()
	l, err := img.LayerByDigest(h)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tarOf makes a tarball of files, in name order.
func tarOf(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tarDir makes a tarball of the files under dir.
func tarDir(t testing.TB, dir string) []byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files["./"+filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tarOf(t, files)
}

func TestLoadOCILayout(t *testing.T) {
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	single := busyboxImage(t)
	if err := p.AppendImage(single, layout.WithAnnotations(map[string]string{refNameAnnotation: "example.com/oci/single:1"})); err != nil {
		t.Fatal(err)
	}
	small := testimage.LayerTar(testimage.File("hello", 0o644, []byte("hi")))
	native, arm := testImage(t, DefaultPlatform, small), testImage(t, "linux/arm64", small)
	if err := p.AppendIndex(multiPlatform(t, arm, native), layout.WithAnnotations(map[string]string{
		containerdNameAnnotation: "example.com/oci/multi:2",
		refNameAnnotation:        "2",
	})); err != nil {
		t.Fatal(err)
	}
	unnamed, _ := random.Image(1024, 1)
	if err := p.AppendImage(unnamed, layout.WithAnnotations(map[string]string{refNameAnnotation: "latest"})); err != nil {
		t.Fatal(err)
	}

	s := newStore(t)
	got, err := s.Load(t.Context(), bytes.NewReader(tarDir(t, dir)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("loaded %d images", len(got))
	}
	for _, tc := range []struct {
		ref  string
		want v1.Image
	}{
		{"example.com/oci/single:1", single},
		{"example.com/oci/multi:2", native},
	} {
		img, err := s.Resolve(t.Context(), tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := tc.want.Digest()
		if img.ID != configDigest(t, tc.want) || img.Digest != d.String() {
			t.Errorf("%s: got %s %s", tc.ref, img.ID, img.Digest)
		}
		if _, err := s.LayerDirs(t.Context(), img); err != nil {
			t.Error(err)
		}
	}
	if _, err := s.Resolve(t.Context(), configDigest(t, unnamed)); err != nil {
		t.Errorf("unnamed image: %v", err)
	}
	noScratch(t, s)
}

// TestLoadCorrupt loads broken archives into a store holding an image
// whose layers are not unpacked yet: each load fails, and the store is as
// it was.
func TestLoadCorrupt(t *testing.T) {
	src := newStore(t)
	importTar(t, src, busybox(t), "bb:1")
	good := save(t, src, "bb:1")

	var man []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(readTarFile(t, good, "manifest.json"), &man); err != nil {
		t.Fatal(err)
	}
	layerFile := man[0].Layers[0]
	flipped := slices.Clone(good)
	off := bytes.Index(flipped, readTarFile(t, good, layerFile))
	flipped[off+len(readTarFile(t, good, layerFile))/2] ^= 0xff

	badDiff := tarReplace(t, good, man[0].Config, func(b []byte) []byte {
		return append(b, ' ') // still valid JSON, another digest
	})

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", bytes.Repeat([]byte("not a tarball "), 100)},
		{"truncated", good[:len(good)/2]},
		{"layer byte flipped", flipped},
		{"layer missing", tarReplace(t, good, layerFile, nil)},
		{"config missing", tarReplace(t, good, man[0].Config, nil)},
		{"config not its digest", badDiff},
		{"layer not its diff ID", oldLayout(t, flipped, layerFile)},
		{"no manifest", tarOf(t, map[string][]byte{"hello": []byte("hi")})},
		{"bad manifest.json", tarReplace(t, good, "manifest.json", func([]byte) []byte { return []byte("{") })},
		{"gzip broken", testimage.Gzip(good)[:len(good)/3]},
		{"descriptor without a digest", tarOf(t, map[string][]byte{"index.json": []byte(`{"schemaVersion":2,"manifests":[{}]}`)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			rnd, _ := random.Image(2048, 2)
			put, err := s.Put(t.Context(), rnd, "kept:1") // layers not unpacked
			if err != nil {
				t.Fatal(err)
			}
			before, _ := blobsOf(t, s)
			_, err = s.Load(t.Context(), bytes.NewReader(tc.data))
			if !errdefs.IsInvalidArgument(err) || !strings.HasPrefix(err.Error(), "load: ") {
				t.Fatalf("err = %v, want invalid argument", err)
			}
			t.Log(err)
			list, err := s.List(t.Context())
			if err != nil || len(list) != 1 || !sameImage(list[0], put) {
				t.Fatalf("store changed: %+v, %v", list, err)
			}
			if after, _ := blobsOf(t, s); !slices.Equal(before, after) {
				t.Errorf("blobs %q, were %q", after, before)
			}
			noScratch(t, s)
			if _, err := s.LayerDirs(t.Context(), put); err != nil {
				t.Errorf("kept image does not unpack: %v", err)
			}
		})
	}
}

func readTarFile(t testing.TB, archive []byte, name string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if archivePath(h.Name) == archivePath(name) {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// tarReplace rewrites archive with the file name changed by f (nil: removed).
func tarReplace(t testing.TB, archive []byte, name string, f func([]byte) []byte) []byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if archivePath(h.Name) == archivePath(name) {
			if f == nil {
				continue
			}
			b = f(b)
		}
		files[h.Name] = b
	}
	return tarOf(t, files)
}

// oldLayout moves the layer file to <dir>/layer.tar, as Docker before 25
// wrote it: a name that gives no digest, so only the diff ID can tell.
func oldLayout(t testing.TB, archive []byte, layerFile string) []byte {
	t.Helper()
	data := readTarFile(t, archive, layerFile)
	out := tarReplace(t, archive, layerFile, nil)
	out = tarReplace(t, out, "manifest.json", func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte(layerFile), []byte("0123/layer.tar"))
	})
	files := map[string][]byte{"0123/layer.tar": data}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	return tarOf(t, files)
}
