package build

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/internal/testimage"
)

// TestPrivPull: a FROM image in the store is used as it is, even when its
// registry has a newer one; with Pull the build pulls the newer one.
func TestPrivPull(t *testing.T) {
	b := newPrivBuilder(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/base:latest"
	busybox, err := b.images.Resolve(t.Context(), "busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	push := func(version string) {
		t.Helper()
		base, err := b.images.V1Image(t.Context(), busybox)
		if err != nil {
			t.Fatal(err)
		}
		data := testimage.LayerTar(testimage.File("version", 0o644, []byte(version)))
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, l)
		if err != nil {
			t.Fatal(err)
		}
		r, err := name.ParseReference(ref)
		if err == nil {
			err = remote.Write(r, img, remote.WithContext(t.Context()))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+ref+"\nRUN cp /version /seen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := Options{ContextDir: dir, Tags: []string{"t:1"}, Network: "none"}
	push("v1")
	buildOK(t, b, opt) // pulls v1: the store lacks it
	push("v2")
	buildOK(t, b, opt)
	wantFiles(t, b, "t:1", map[string]string{"seen": "v1"})
	opt.Pull = true
	buildOK(t, b, opt)
	wantFiles(t, b, "t:1", map[string]string{"seen": "v2"})
}
