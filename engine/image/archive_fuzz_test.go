package image

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testimage"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// FuzzLoadArchive loads arbitrary bytes as an image archive (`image load`)
// into a store that holds one image. Properties: Load never panics; a
// failed load is an errdefs.ErrInvalidArgument (or ErrNotImplemented)
// error and leaves the store
// as it was (the same images, the same blobs, no scratch files); a
// successful one gives images that resolve by ID, and keeps the image that
// was there.
func FuzzLoadArchive(f *testing.F) {
	for _, a := range archiveSeeds(f) {
		f.Add(a)
	}
	kept, err := random.Image(256, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newStore(t)
		put, err := s.Put(t.Context(), kept, "kept:1")
		if err != nil {
			t.Fatal(err)
		}
		blobs, _ := blobsOf(t, s)
		imgs, err := s.Load(t.Context(), bytes.NewReader(data))
		noScratch(t, s)
		if err != nil {
			// Not implemented: a well-formed archive of what berth does
			// not take (a digest other than sha256, an artifact).
			if !(errdefs.IsInvalidArgument(err) || errdefs.IsNotImplemented(err)) || !strings.HasPrefix(err.Error(), "load: ") {
				t.Fatalf("err = %v, want invalid argument", err)
			}
			list, err := s.List(t.Context())
			if err != nil || len(list) != 1 || !sameImage(list[0], put) {
				t.Fatalf("a failed load changed the images: %+v, %v", list, err)
			}
			if after, _ := blobsOf(t, s); !slices.Equal(after, blobs) {
				t.Fatalf("a failed load changed the blobs: %q, were %q", after, blobs)
			}
			return
		}
		for _, img := range append(imgs, put) {
			got, err := s.Resolve(t.Context(), img.ID)
			if err != nil || got.ID != img.ID || !slices.Equal(got.ChainIDs, img.ChainIDs) {
				t.Fatalf("image %s: resolves to %+v, %v", img.ID, got, err)
			}
		}
	})
}

// archiveSeeds are archives of the kinds the archive tests load: a
// docker-archive as Save writes it (plain and gzip-compressed), an OCI
// layout with a multi-platform index, and broken ones.
func archiveSeeds(tb testing.TB) [][]byte {
	src := newStore(tb)
	small := testimage.LayerTar(testimage.File("hello", 0o644, []byte("hi")), testimage.Symlink("link", "hello"))
	importTar(tb, src, small, "small:1", `CMD ["/hello"]`)
	docker := save(tb, src, "small:1")

	dir := tb.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		tb.Fatal(err)
	}
	single := testImage(tb, DefaultPlatform)
	if err := p.AppendImage(single, layout.WithAnnotations(map[string]string{refNameAnnotation: "example.com/oci/single:1"})); err != nil {
		tb.Fatal(err)
	}
	multi := multiPlatform(tb, testImage(tb, "linux/arm64"), testImage(tb, DefaultPlatform))
	if err := p.AppendIndex(multi, layout.WithAnnotations(map[string]string{containerdNameAnnotation: "example.com/oci/multi:2"})); err != nil {
		tb.Fatal(err)
	}
	oci := tarDir(tb, dir)

	return [][]byte{
		docker,
		testimage.Gzip(docker),
		oci,
		docker[:len(docker)/2],
		tarReplace(tb, docker, "manifest.json", func([]byte) []byte { return []byte("{") }),
		tarOf(tb, map[string][]byte{"index.json": []byte(`{"schemaVersion":2,"manifests":[{}]}`)}),
	}
}
