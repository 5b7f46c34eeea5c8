package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testimage"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"golang.org/x/sys/unix"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func busybox(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := testimage.BusyboxRootfs(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func importTar(t testing.TB, s *Store, data []byte, ref string, changes ...string) *Image {
	t.Helper()
	img, err := s.Import(t.Context(), bytes.NewReader(data), ref, ImportOptions{Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layerNames lists the entries of <root>/layers, scratch entries included.
func layerNames(t testing.TB, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(s.layersDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestImportBusybox(t *testing.T) {
	s := newStore(t)
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			data := busybox(t)
			if gz {
				data = testimage.Gzip(data)
			}
			img := importTar(t, s, data, "hello")
			if !slices.Equal(img.RepoTags, []string{"docker.io/library/hello:latest"}) {
				t.Errorf("RepoTags = %q", img.RepoTags)
			}
			if img.OS != "linux" || len(img.ChainIDs) != 1 || !strings.HasPrefix(img.ID, "sha256:") {
				t.Errorf("image = %+v", img)
			}
			for _, ref := range []string{"hello", "hello:latest", "docker.io/library/hello:latest", "index.docker.io/library/hello",
				img.ID, strings.TrimPrefix(img.ID, "sha256:"), img.ID[:len("sha256:")+6], img.ID[len("sha256:"):][:8],
				"hello@" + img.Digest} {
				got, err := s.Resolve(t.Context(), ref)
				if err != nil {
					t.Errorf("Resolve(%q): %v", ref, err)
					continue
				}
				if got.ID != img.ID || got.Digest != img.Digest || !slices.Equal(got.ChainIDs, img.ChainIDs) {
					t.Errorf("Resolve(%q) = %+v, want %+v", ref, got, img)
				}
			}
			dirs, err := s.LayerDirs(t.Context(), img)
			if err != nil {
				t.Fatal(err)
			}
			if len(dirs) != 1 || dirs[0] != filepath.Join(s.Root(), "layers", strings.TrimPrefix(img.ChainIDs[0], "sha256:")) {
				t.Fatalf("dirs = %q", dirs)
			}
			if fi, err := os.Stat(filepath.Join(dirs[0], "bin/busybox")); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("bin/busybox: %v %v", fi, err)
			}
			for _, applet := range []string{"bin/sh", "usr/bin/wget", "usr/sbin/httpd"} {
				if target, err := os.Readlink(filepath.Join(dirs[0], applet)); err != nil || target != "/bin/busybox" {
					t.Errorf("%s -> %q, %v", applet, target, err)
				}
			}
			if fi, err := os.Stat(filepath.Join(dirs[0], "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
				t.Errorf("tmp: %v %v", fi, err)
			}
		})
	}
}

func TestImportChanges(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, busybox(t), "localhost:5000/app:v1",
		`CMD ["httpd", "-f", "-p", "80"]`,
		`ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin GREETING="hello world"`,
		`ENV LEGACY some value`,
		`WORKDIR /var/www`,
		`USER www-data`,
		`LABEL org.example.name=app "quoted key"=v`,
		`EXPOSE 80 53/udp`,
		`VOLUME /data`,
		`STOPSIGNAL SIGQUIT`,
		`ENTRYPOINT /bin/sh -c`,
		`HEALTHCHECK --interval=5s --retries=3 CMD wget -q -O- http://localhost/`,
	)
	want := Config{
		Entrypoint:   []string{"/bin/sh", "-c", "/bin/sh -c"},
		Cmd:          []string{"httpd", "-f", "-p", "80"},
		Env:          []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello world", "LEGACY=some value"},
		WorkingDir:   "/var/www",
		User:         "www-data",
		Labels:       map[string]string{"org.example.name": "app", "quoted key": "v"},
		StopSignal:   "SIGQUIT",
		ExposedPorts: []string{"53/udp", "80/tcp"},
		Volumes:      []string{"/data"},
		Healthcheck:  &Healthcheck{Test: []string{"CMD-SHELL", "wget -q -O- http://localhost/"}, Interval: 5 * time.Second, Retries: 3},
	}
	got, err := s.Resolve(t.Context(), "localhost:5000/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{img.Config, got.Config} {
		if !reflect.DeepEqual(c, want) {
			t.Errorf("config\n got %+v\nwant %+v", c, want)
		}
	}
	if !slices.Equal(got.RepoTags, []string{"localhost:5000/app:v1"}) {
		t.Errorf("RepoTags = %q", got.RepoTags)
	}
}

func TestImportBadInput(t *testing.T) {
	tarball := testimage.LayerTar(testimage.File("f", 0o644, bytes.Repeat([]byte("data"), 10000)))
	gz := testimage.Gzip(tarball)
	badCRC := slices.Clone(gz)
	badCRC[len(badCRC)-6] ^= 0xff // the CRC-32 in the gzip trailer
	for _, tc := range []struct {
		name    string
		data    []byte
		changes []string
		ref     string
	}{
		{name: "truncated tar", data: tarball[:3000]},
		{name: "truncated gzip", data: gz[:len(gz)/2]},
		{name: "corrupt gzip", data: badCRC},
		{name: "not a tarball", data: bytes.Repeat([]byte("not a tar "), 100)},
		{name: "empty", data: nil},
		{name: "unsafe", data: testimage.LayerTar(testimage.File("../evil", 0o644, nil))},
		{name: "unknown change", data: tarball, changes: []string{"RUN rm -rf /"}},
		{name: "bad reference", data: tarball, ref: "UPPER/case"},
		{name: "digest reference", data: tarball, ref: "x@sha256:" + strings.Repeat("0", 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ref := cmpOr(tc.ref, "bad")
			_, err := s.Import(t.Context(), bytes.NewReader(tc.data), ref, ImportOptions{Changes: tc.changes})
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("err = %v, want invalid argument", err)
			}
			if tc.name == "unknown change" && !strings.Contains(err.Error(), "RUN") {
				t.Errorf("error does not name the instruction: %v", err)
			}
			if got := layerNames(t, s); len(got) != 0 {
				t.Errorf("left in layers: %q", got)
			}
			if ents, _ := os.ReadDir(s.ingestDir()); len(ents) != 0 {
				t.Errorf("left in ingest: %v", ents)
			}
			if ents, _ := os.ReadDir(s.blobsDir()); len(ents) != 0 {
				t.Errorf("left in blobs: %v", ents)
			}
			if _, err := s.Resolve(t.Context(), ref); !errdefs.IsNotFound(err) && tc.ref == "" {
				t.Errorf("Resolve after failed import: %v", err)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestResolveNotFound(t *testing.T) {
	s := newStore(t)
	importTar(t, s, busybox(t), "hello")
	for _, ref := range []string{"nothere", "hello:other", "other/hello", "sha256:" + strings.Repeat("0", 64), "00000000", "hello@sha256:" + strings.Repeat("0", 64)} {
		_, err := s.Resolve(t.Context(), ref)
		if !errdefs.IsNotFound(err) {
			t.Errorf("Resolve(%q) = %v, want not found", ref, err)
		}
	}
	_, err := s.Resolve(t.Context(), "hello:other")
	if err == nil || err.Error() != `image "hello:other": not found` {
		t.Errorf("message = %v", err)
	}
	if err := s.Remove(t.Context(), "nothere"); !errdefs.IsNotFound(err) {
		t.Errorf("Remove = %v, want not found", err)
	}
	for _, ref := range []string{"", "sha256:xyz", "Bad:Name!"} {
		if _, err := s.Resolve(t.Context(), ref); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Resolve(%q) = %v, want invalid argument", ref, err)
		}
	}
}

func TestReimportMovesName(t *testing.T) {
	s := newStore(t)
	first := importTar(t, s, busybox(t), "app", "CMD one")
	second := importTar(t, s, busybox(t), "app", "CMD two")
	if first.ID == second.ID {
		t.Fatal("same ID for different configs")
	}
	got, err := s.Resolve(t.Context(), "app")
	if err != nil || got.ID != second.ID {
		t.Fatalf("Resolve(app) = %v, %v; want the second image", got, err)
	}
	old, err := s.Resolve(t.Context(), first.ID)
	if err != nil {
		t.Fatalf("first image gone: %v", err)
	}
	if len(old.RepoTags) != 0 {
		t.Errorf("first image still named %q", old.RepoTags)
	}
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID {
		t.Errorf("List = %+v", list)
	}
	// Both share the one layer, unpacked once.
	if got := layerNames(t, s); len(got) != 1 {
		t.Errorf("layers = %q", got)
	}
	if err := s.Remove(t.Context(), first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LayerDirs(t.Context(), second); err != nil {
		t.Errorf("second image lost its layer: %v", err)
	}
}

func TestSharedLayerUnpackedOnce(t *testing.T) {
	s := newStore(t)
	data := busybox(t)
	a := importTar(t, s, data, "a")
	dirs, err := s.LayerDirs(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	var before unix.Stat_t
	if err := unix.Stat(dirs[0], &before); err != nil {
		t.Fatal(err)
	}
	b := importTar(t, s, data, "b", "CMD sh")
	if a.ID == b.ID || a.ChainIDs[0] != b.ChainIDs[0] {
		t.Fatalf("want two images sharing a layer: %+v %+v", a, b)
	}
	dirsB, err := s.LayerDirs(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	var after unix.Stat_t
	if err := unix.Stat(dirsB[0], &after); err != nil {
		t.Fatal(err)
	}
	if dirsB[0] != dirs[0] || after.Ino != before.Ino {
		t.Errorf("layer unpacked again: %s (inode %d) vs %s (inode %d)", dirsB[0], after.Ino, dirs[0], before.Ino)
	}
	if got := layerNames(t, s); len(got) != 1 {
		t.Errorf("layers = %q", got)
	}

	// Removing one keeps what the other uses.
	if err := s.Remove(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(t.Context(), "a"); !errdefs.IsNotFound(err) {
		t.Errorf("a still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "bin/busybox")); err != nil {
		t.Errorf("shared layer removed: %v", err)
	}
	bb, err := s.Resolve(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.V1Image(t.Context(), bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateImage(v); err != nil {
		t.Errorf("b is incomplete after removing a: %v", err)
	}
	if _, err := os.Stat(s.blobPath(mustHash(t, a.ID))); err == nil {
		t.Error("config of a kept")
	}

	// Removing the last image empties the store.
	if err := s.Remove(t.Context(), bb.ID[:12]); err != nil {
		t.Fatal(err)
	}
	if got := layerNames(t, s); len(got) != 0 {
		t.Errorf("layers left: %q", got)
	}
	if ents, _ := os.ReadDir(s.blobsDir()); len(ents) != 0 {
		t.Errorf("blobs left: %v", ents)
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// validateImage reads every blob of v and checks it against its digest.
func validateImage(v v1.Image) error {
	if _, err := v.ConfigFile(); err != nil {
		return err
	}
	ls, err := v.Layers()
	if err != nil {
		return err
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		rc.Close()
	}
	return nil
}

func TestRemoveNames(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, busybox(t), "one")
	if err := s.Tag(t.Context(), "one", "two:2"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(t.Context(), "two:2")
	if err != nil || got.ID != img.ID {
		t.Fatalf("Resolve(two:2) = %v, %v", got, err)
	}
	if !slices.Equal(got.RepoTags, []string{"docker.io/library/one:latest", "docker.io/library/two:2"}) {
		t.Errorf("RepoTags = %q", got.RepoTags)
	}
	// Removing one name keeps the image.
	if err := s.Remove(t.Context(), "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(t.Context(), "one"); !errdefs.IsNotFound(err) {
		t.Errorf("one: %v", err)
	}
	if _, err := s.LayerDirs(t.Context(), got); err != nil {
		t.Errorf("image lost with a name left: %v", err)
	}
	// Removing by ID removes every name.
	if err := s.Tag(t.Context(), "two:2", "three"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(t.Context(), img.ID); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(t.Context())
	if err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v", list, err)
	}
	if _, err := s.LayerDirs(t.Context(), got); !errdefs.IsNotFound(err) {
		t.Errorf("LayerDirs of a removed image = %v, want not found", err)
	}
}

func TestLayerDirsCorruptBlob(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(b []byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			img := importTar(t, s, testimage.Gzip(busybox(t)), "x")
			v, err := s.V1Image(t.Context(), img)
			if err != nil {
				t.Fatal(err)
			}
			m, err := v.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			blob := s.blobPath(m.Layers[0].Digest)
			b, err := os.ReadFile(blob)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(blob, tc.corrupt(b), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(s.layerDir(img.ChainIDs[0])); err != nil {
				t.Fatal(err)
			}
			_, err = s.LayerDirs(t.Context(), img)
			if !errdefs.IsDataLoss(err) {
				t.Fatalf("err = %v, want data loss", err)
			}
			if !strings.Contains(err.Error(), m.Layers[0].Digest.String()) {
				t.Errorf("error does not name the layer: %v", err)
			}
			if got := layerNames(t, s); len(got) != 0 {
				t.Errorf("left in layers: %q", got)
			}
		})
	}
}

func TestPut(t *testing.T) {
	s := newStore(t)
	v, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Put(t.Context(), v, "localhost:5000/random:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(img.ChainIDs) != 3 || !slices.Equal(img.RepoTags, []string{"localhost:5000/random:1"}) {
		t.Errorf("image = %+v", img)
	}
	dirs, err := s.LayerDirs(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 3 {
		t.Errorf("dirs = %q", dirs)
	}
	d, _ := v.Digest()
	byDigest, err := s.Put(t.Context(), v, "localhost:5000/random@"+d.String())
	if err != nil {
		t.Fatal(err)
	}
	if byDigest.ID != img.ID || len(byDigest.RepoDigests) != 1 || len(byDigest.RepoTags) != 1 {
		t.Errorf("by digest: %+v", byDigest)
	}
	if _, err := s.Resolve(t.Context(), "localhost:5000/random@"+d.String()); err != nil {
		t.Errorf("Resolve by digest: %v", err)
	}
}

// TestConcurrentStores imports from several goroutines, each with its own
// Store, as separate berth processes would: the index must end up with
// every image.
func TestConcurrentStores(t *testing.T) {
	root := t.TempDir()
	data := busybox(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root, nil)
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = s.Import(t.Context(), bytes.NewReader(data), fmt.Sprintf("img%d", i), ImportOptions{Changes: []string{fmt.Sprintf("ENV N=%d", i)}})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range list {
		names = append(names, img.RepoTags...)
	}
	if len(names) != n {
		t.Errorf("names = %q", names)
	}
	if got := layerNames(t, s); len(got) != 1 {
		t.Errorf("layers = %q", got)
	}
}

func TestImportCancelled(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Import(ctx, bytes.NewReader(busybox(t)), "x", ImportOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	if got := layerNames(t, s); len(got) != 0 {
		t.Errorf("left in layers: %q", got)
	}
}

func TestSweepStaleScratch(t *testing.T) {
	s := newStore(t)
	stale := filepath.Join(s.layersDir(), scratchPrefix+"dead")
	if err := os.MkdirAll(filepath.Join(stale, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	live, err := newScratchDir(s.layersDir())
	if err != nil {
		t.Fatal(err)
	}
	defer live.discard()
	if err := os.Chtimes(live.path, old, old); err != nil {
		t.Fatal(err)
	}
	importTar(t, s, busybox(t), "x") // sweeps under the lock
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale scratch directory kept")
	}
	if _, err := os.Stat(live.path); err != nil {
		t.Errorf("scratch directory in use removed: %v", err)
	}
}
