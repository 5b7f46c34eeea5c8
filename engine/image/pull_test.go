package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testimage"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func init() { retryDelay = time.Millisecond }

// testRegistry serves go-containerregistry's in-memory registry on
// 127.0.0.1 and returns its host:port. wrap, if not nil, wraps its handler
// (to corrupt, truncate or stall answers).
func testRegistry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// push uploads img (an image or an index) to ref and returns its digest.
func push(t testing.TB, ref string, img remote.Taggable) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	switch v := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(r, v, remote.WithContext(context.WithoutCancel(t.Context())))
	case v1.Image:
		err = remote.Write(r, v, remote.WithContext(context.WithoutCancel(t.Context())))
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.(interface{ Digest() (v1.Hash, error) }).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// layerOf makes a layer of a tarball (compressed or not).
func layerOf(t testing.TB, data []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage makes an image for platform ("os/arch[/variant]") of the
// given layer tarballs; the last layer records the platform, so images
// for two platforms differ.
func testImage(t testing.TB, platform string, layers ...[]byte) v1.Image {
	t.Helper()
	p, err := parsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	layers = append(layers, testimage.LayerTar(testimage.File("etc/platform", 0o644, []byte(platform))))
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range layers {
		if img, err = mutate.AppendLayers(img, layerOf(t, testimage.Gzip(l))); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func busyboxImage(t testing.TB) v1.Image {
	t.Helper()
	return testImage(t, DefaultPlatform, busybox(t))
}

func multiPlatform(t testing.TB, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
		}})
	}
	return idx
}

func configDigest(t testing.TB, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// blobsOf lists the blob files and the scratch files of the store.
func blobsOf(t testing.TB, s *Store) (blobs, scratch []string) {
	t.Helper()
	for _, d := range []string{s.blobsDir(), s.ingestDir(), s.leasesDir()} {
		ents, err := os.ReadDir(d)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, e := range ents {
			if d == s.blobsDir() {
				blobs = append(blobs, e.Name())
			} else {
				scratch = append(scratch, filepath.Join(filepath.Base(d), e.Name()))
			}
		}
	}
	return blobs, scratch
}

func noScratch(t testing.TB, s *Store) {
	t.Helper()
	if _, scratch := blobsOf(t, s); len(scratch) > 0 {
		t.Errorf("left behind: %q", scratch)
	}
}

// events records pull events.
type events struct {
	mu  sync.Mutex
	all []PullEvent
}

func (e *events) add(ev PullEvent) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

// statuses returns the statuses each layer went through, repeats dropped.
func (e *events) statuses() map[string][]PullStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string][]PullStatus{}
	for _, ev := range e.all {
		s := out[ev.Digest]
		if len(s) == 0 || s[len(s)-1] != ev.Status {
			out[ev.Digest] = append(s, ev.Status)
		}
	}
	return out
}

func TestPullByTagAndDigest(t *testing.T) {
	host := testRegistry(t, nil)
	src := busyboxImage(t)
	dgst := push(t, host+"/tools/bb:1", src)

	s := newStore(t)
	var ev events
	img, err := s.Pull(t.Context(), host+"/tools/bb:1", PullOptions{Progress: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != configDigest(t, src) || img.Digest != dgst.String() {
		t.Errorf("ID, Digest = %s, %s; want %s, %s", img.ID, img.Digest, configDigest(t, src), dgst)
	}
	if want := []string{host + "/tools/bb:1"}; !slices.Equal(img.RepoTags, want) {
		t.Errorf("RepoTags = %q, want %q", img.RepoTags, want)
	}
	m, _ := src.Manifest()
	st := ev.statuses()
	for _, l := range m.Layers {
		got := st[l.Digest.String()]
		if len(got) < 2 || got[0] != PullWaiting || got[len(got)-1] != PullDone {
			t.Errorf("layer %s: statuses %q", l.Digest, got)
		}
	}

	t.Run("rootfs works", func(t *testing.T) {
		dirs, err := s.LayerDirs(t.Context(), img)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(filepath.Join(dirs[0], "bin/busybox"), "echo", "hello").Output()
		if err != nil || string(out) != "hello\n" {
			t.Errorf("busybox echo = %q, %v", out, err)
		}
		if b, err := os.ReadFile(filepath.Join(dirs[1], "etc/platform")); err != nil || string(b) != DefaultPlatform {
			t.Errorf("etc/platform = %q, %v", b, err)
		}
	})

	t.Run("again: layers already exist", func(t *testing.T) {
		var ev events
		again, err := s.Pull(t.Context(), host+"/tools/bb:1", PullOptions{Progress: ev.add})
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != img.ID {
			t.Errorf("ID = %s, want %s", again.ID, img.ID)
		}
		for d, got := range ev.statuses() {
			if !slices.Equal(got, []PullStatus{PullWaiting, PullExists}) {
				t.Errorf("layer %s: statuses %q", d, got)
			}
		}
	})

	t.Run("by digest", func(t *testing.T) {
		s := newStore(t)
		ref := host + "/tools/bb@" + dgst.String()
		img, err := s.Pull(t.Context(), ref, PullOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img.ID != configDigest(t, src) || !slices.Equal(img.RepoDigests, []string{ref}) || len(img.RepoTags) != 0 {
			t.Errorf("image = %+v", img)
		}
		if _, err := s.Resolve(t.Context(), ref); err != nil {
			t.Error(err)
		}
	})
}

func TestPullDockerHubNames(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"busybox", "docker.io/library/busybox:latest"},
		{"me/app:1", "docker.io/me/app:1"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			// No network: a transport that fails every request shows the
			// name the pull would fetch.
			var host string
			tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				host = r.URL.Host
				return nil, errors.New("offline")
			})
			_, err := newStore(t).Pull(t.Context(), tc.in, PullOptions{Transport: tr})
			if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("pull %q: ", tc.want)) {
				t.Errorf("err = %v, want it to name %q", err, tc.want)
			}
			if host != "index.docker.io" {
				t.Errorf("asked %q, want index.docker.io", host)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPullPlatforms(t *testing.T) {
	host := testRegistry(t, nil)
	small := testimage.LayerTar(testimage.File("hello", 0o644, []byte("hi")))
	native := testImage(t, DefaultPlatform, small)
	arm64 := testImage(t, "linux/arm64", small)
	armv7 := testImage(t, "linux/arm/v7", small)
	amd64 := testImage(t, "linux/amd64", small)
	push(t, host+"/multi:1", multiPlatform(t, arm64, native, armv7))
	push(t, host+"/multi:amd", multiPlatform(t, arm64, amd64, armv7))
	push(t, host+"/armonly:1", multiPlatform(t, arm64, armv7))
	push(t, host+"/single-arm:1", arm64)

	for _, tc := range []struct {
		name, ref, platform string
		want                v1.Image
		wantErr             []string // substrings of a NotFound error
	}{
		{name: "default picks the host platform", ref: "/multi:1", want: native},
		{name: "linux/amd64", ref: "/multi:amd", platform: "linux/amd64", want: amd64},
		{name: "explicit platform", ref: "/multi:1", platform: "linux/arm64", want: arm64},
		{name: "variant", ref: "/multi:1", platform: "linux/arm/v7", want: armv7},
		{name: "single manifest, asked for", ref: "/single-arm:1", platform: "linux/arm64", want: arm64},
		{name: "index without the platform", ref: "/armonly:1", platform: "linux/amd64", wantErr: []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}},
		{name: "single manifest for another platform", ref: "/single-arm:1", platform: "linux/amd64", wantErr: []string{"linux/amd64", "linux/arm64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			img, err := s.Pull(t.Context(), host+tc.ref, PullOptions{Platform: tc.platform})
			if tc.wantErr != nil {
				if !errdefs.IsNotFound(err) {
					t.Fatalf("err = %v, want not found", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want it to name %s", err, w)
					}
				}
				if list, _ := s.List(t.Context()); len(list) != 0 {
					t.Errorf("store has %d images", len(list))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.ID != configDigest(t, tc.want) {
				t.Errorf("pulled %s/%s", img.OS, img.Architecture)
			}
		})
	}
	if _, err := newStore(t).Pull(t.Context(), host+"/multi:1", PullOptions{Platform: "linux"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad platform: err = %v", err)
	}
}

func TestPullUnknown(t *testing.T) {
	host := testRegistry(t, nil)
	push(t, host+"/there:1", testImage(t, DefaultPlatform))
	for _, ref := range []string{host + "/there:nope", host + "/nope:latest"} {
		t.Run(ref, func(t *testing.T) {
			_, err := newStore(t).Pull(t.Context(), ref, PullOptions{})
			if !errdefs.IsNotFound(err) {
				t.Fatalf("err = %v, want not found", err)
			}
			prefix := fmt.Sprintf("pull %q: ", ref)
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || strings.Contains(msg, "\n") || !strings.Contains(msg, "unknown") {
				t.Errorf("err = %q, want one line starting %s", msg, prefix)
			}
		})
	}
	if _, err := newStore(t).Pull(t.Context(), host+"/there:nope", PullOptions{}); !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("err = %v", err)
	}
}

// blobHandler calls f for blob GETs of the layer hex and next for the rest.
func blobHandler(hex string, f func(w http.ResponseWriter, r *http.Request, next http.Handler)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/sha256:"+hex) {
				f(w, r, next)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// flipWriter flips one byte of what goes through it.
type flipWriter struct {
	http.ResponseWriter
	n int
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if f.n < 100 && f.n+len(p) > 100 {
		p = slices.Clone(p)
		p[100-f.n] ^= 0xff
	}
	f.n += len(p)
	return f.ResponseWriter.Write(p)
}

// cutWriter aborts the response after half the body.
type cutWriter struct {
	http.ResponseWriter
	n, limit int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.n+len(p) > c.limit {
		_, _ = c.ResponseWriter.Write(p[:c.limit-c.n])
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // closes the connection mid-body
	}
	c.n += len(p)
	return c.ResponseWriter.Write(p)
}

func lastLayer(t testing.TB, img v1.Image) v1.Descriptor {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers[len(m.Layers)-1]
}

// checkFailedPull checks that the pull of ref into s left nothing.
func checkFailedPull(t *testing.T, s *Store, ref string, layer v1.Hash) {
	t.Helper()
	blobs, _ := blobsOf(t, s)
	if slices.Contains(blobs, layer.Hex) {
		t.Errorf("blob %s in the store", layer)
	}
	noScratch(t, s)
	if _, err := s.Resolve(t.Context(), ref); !errdefs.IsNotFound(err) {
		t.Errorf("Resolve %s: %v, want not found", ref, err)
	}
}

func TestPullDigestMismatch(t *testing.T) {
	src := busyboxImage(t)
	bad := lastLayer(t, src)
	var hits atomic.Int32
	host := testRegistry(t, blobHandler(bad.Digest.Hex, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		hits.Add(1)
		next.ServeHTTP(&flipWriter{ResponseWriter: w}, r)
	}))
	ref := host + "/bad:1"
	push(t, ref, src)
	s := newStore(t)
	_, err := s.Pull(t.Context(), ref, PullOptions{})
	if !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "layer "+bad.Digest.String()+": digest mismatch") {
		t.Fatalf("err = %v, want data loss naming the layer", err)
	}
	if hits.Load() != 1 {
		t.Errorf("blob fetched %d times; a digest mismatch is not retried", hits.Load())
	}
	checkFailedPull(t, s, ref, bad.Digest)
}

func TestPullTruncated(t *testing.T) {
	src := busyboxImage(t)
	first := m0(t, src)
	for _, tc := range []struct {
		name  string
		cuts  int32 // responses cut before good ones
		fails bool
	}{
		{"cut once, retried", 1, false},
		{"always cut", 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			host := testRegistry(t, blobHandler(first.Digest.Hex, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if n.Add(1) <= tc.cuts {
					next.ServeHTTP(&cutWriter{ResponseWriter: w, limit: int(first.Size / 2)}, r)
					return
				}
				next.ServeHTTP(w, r)
			}))
			ref := host + "/cut:1"
			push(t, ref, src)
			s := newStore(t)
			var ev events
			img, err := s.Pull(t.Context(), ref, PullOptions{Progress: ev.add})
			if tc.fails {
				if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "broke off") {
					t.Fatalf("err = %v, want unavailable", err)
				}
				if got := n.Load(); got != downloadAttempts {
					t.Errorf("%d attempts, want %d", got, downloadAttempts)
				}
				checkFailedPull(t, s, ref, first.Digest)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(ev.statuses()[first.Digest.String()], PullRetrying) {
				t.Errorf("no retrying event: %q", ev.statuses()[first.Digest.String()])
			}
			if _, err := s.LayerDirs(t.Context(), img); err != nil {
				t.Error(err)
			}
			noScratch(t, s)
		})
	}
}

func m0(t testing.TB, img v1.Image) v1.Descriptor {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers[0]
}

func TestPullHangingRegistry(t *testing.T) {
	src := busyboxImage(t)
	layer := m0(t, src)
	var hang atomic.Bool
	hang.Store(true)
	host := testRegistry(t, blobHandler(layer.Digest.Hex, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if hang.Load() {
			// Half the blob, then nothing until the client goes away.
			w.Header().Set("Content-Length", fmt.Sprint(layer.Size))
			w.WriteHeader(http.StatusOK)
			rc, _ := src.LayerByDigest(layer.Digest)
			b, _ := rc.Compressed()
			_, _ = io.CopyN(w, b, layer.Size/2)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		next.ServeHTTP(w, r)
	}))
	ref := host + "/hang:1"
	push(t, ref, src)
	s := newStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Pull(ctx, ref, PullOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("pull returned after %v", d)
	}
	checkFailedPull(t, s, ref, layer.Digest)

	hang.Store(false)
	img, err := s.Pull(t.Context(), ref, PullOptions{})
	if err != nil {
		t.Fatalf("pull after the registry came back: %v", err)
	}
	if _, err := s.LayerDirs(t.Context(), img); err != nil {
		t.Error(err)
	}
	noScratch(t, s)
}

// TestPullConcurrent pulls one image at once through two Stores on one root
// (two processes) and through one Store (one process): all succeed, the
// index has the image once, and one process fetches each blob once.
func TestPullConcurrent(t *testing.T) {
	src, err := random.Image(512<<10, 4)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	gets := map[string]int{}
	host := testRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if i := strings.Index(r.URL.Path, "/blobs/"); i >= 0 && r.Method == http.MethodGet {
				mu.Lock()
				gets[r.URL.Path[i+len("/blobs/"):]]++
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := host + "/shared:1"
	push(t, ref, src)
	m, _ := src.Manifest()

	pullAll := func(stores []*Store) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(stores))
		for i, s := range stores {
			wg.Go(func() { _, errs[i] = s.Pull(t.Context(), ref, PullOptions{}) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("two processes", func(t *testing.T) {
		root := t.TempDir()
		a, _ := Open(root, nil)
		b, _ := Open(root, nil)
		pullAll([]*Store{a, b})
		list, err := a.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != configDigest(t, src) {
			t.Fatalf("list = %+v", list)
		}
		im, _ := a.readIndex()
		if len(im.Manifests) != 1 {
			t.Errorf("index has %d descriptors", len(im.Manifests))
		}
		noScratch(t, a)
	})
	t.Run("one process", func(t *testing.T) {
		mu.Lock()
		clear(gets)
		mu.Unlock()
		s := newStore(t)
		pullAll([]*Store{s, s, s, s})
		for _, l := range m.Layers {
			if n := gets[l.Digest.String()]; n != 1 {
				t.Errorf("layer %s fetched %d times", l.Digest, n)
			}
		}
		if _, err := s.Resolve(t.Context(), ref); err != nil {
			t.Error(err)
		}
		noScratch(t, s)
	})
}

// TestPullLeaseSurvivesRemove removes an image while a pull that has
// already placed a blob is still running: the lease keeps the blob.
func TestPullLeaseSurvivesRemove(t *testing.T) {
	src, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := src.Manifest()
	first, second := m.Layers[0], m.Layers[1]
	release := make(chan struct{})
	host := testRegistry(t, blobHandler(second.Digest.Hex, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	}))
	ref := host + "/lease:1"
	push(t, ref, src)
	s := newStore(t)
	importTar(t, s, testimage.LayerTar(testimage.File("x", 0o644, []byte("x"))), "other")

	done := make(chan error, 1)
	go func() { _, err := s.Pull(t.Context(), ref, PullOptions{}); done <- err }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(s.blobPath(first.Digest)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first layer never placed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Remove(t.Context(), "other"); err != nil { // collects unreferenced blobs
		t.Fatal(err)
	}
	if _, err := os.Stat(s.blobPath(first.Digest)); err != nil {
		t.Fatalf("leased blob collected: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	noScratch(t, s)
	if err := s.Remove(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	if blobs, _ := blobsOf(t, s); len(blobs) != 0 {
		t.Errorf("blobs left after removing everything: %q", blobs)
	}
}

func TestPushPullRoundTrip(t *testing.T) {
	host := testRegistry(t, nil)
	s := newStore(t)
	ref := host + "/round/trip:1"
	orig := importTar(t, s, busybox(t), ref, "CMD [\"/bin/sh\"]")
	var calls atomic.Int32
	dgst, err := s.Push(t.Context(), ref, PushOptions{Progress: func(done, total int64) { calls.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if dgst != orig.Digest || calls.Load() == 0 {
		t.Errorf("digest %s (want %s), %d progress calls", dgst, orig.Digest, calls.Load())
	}
	s2 := newStore(t)
	got, err := s2.Pull(t.Context(), ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != orig.ID || got.Digest != orig.Digest || !slices.Equal(got.Config.Cmd, []string{"/bin/sh"}) {
		t.Errorf("pulled %+v, pushed %+v", got, orig)
	}
	if _, err := s2.LayerDirs(t.Context(), got); err != nil {
		t.Error(err)
	}
	if _, err := s.Push(t.Context(), host+"/not/here:1", PushOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("push of a missing image: %v", err)
	}
}

// benchImage makes an image of n layers of size random bytes each,
// gzip-compressed once.
func benchImage(b testing.TB, n, size int) v1.Image {
	b.Helper()
	rng := rand.NewChaCha8([32]byte{1})
	img := empty.Image
	for i := range n {
		data := make([]byte, size)
		_, _ = rng.Read(data)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		_, _ = zw.Write(testimage.LayerTar(testimage.File(fmt.Sprintf("data%d", i), 0o644, data)))
		_ = zw.Close()
		var err error
		if img, err = mutate.AppendLayers(img, layerOf(b, gz.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	return img
}

// BenchmarkPull pulls a ~100 MB image of 5 layers from an in-process
// registry on 127.0.0.1 into an empty store.
func BenchmarkPull(b *testing.B) {
	host := testRegistry(b, nil)
	src := benchImage(b, 5, 20<<20)
	ref := host + "/bench:1"
	push(b, ref, src)
	m, _ := src.Manifest()
	var total int64
	for _, l := range m.Layers {
		total += l.Size
	}
	b.SetBytes(total)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		root, err := os.MkdirTemp(b.TempDir(), "")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(root, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.Pull(b.Context(), ref, PullOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = os.RemoveAll(root)
		b.StartTimer()
	}
}

func TestPullUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens there now
	_, err := newStore(t).Pull(t.Context(), host+"/x:1", PullOptions{})
	if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "registry unreachable") || strings.Count(err.Error(), "connection refused") != 1 {
		t.Errorf("err = %v, want one unavailable line", err)
	}
}
