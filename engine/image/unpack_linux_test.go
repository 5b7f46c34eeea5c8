package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// unpackTar unpacks entries into a fresh directory nested two levels below
// a sandbox, so that "../" entries would land in the sandbox, and returns
// the layer directory, the sandbox and unpackLayer's error.
func unpackTar(t testing.TB, entries ...testimage.Entry) (layer, sandbox string, err error) {
	t.Helper()
	sandbox = t.TempDir()
	layer = filepath.Join(sandbox, "a", "b", "layer")
	if err := os.MkdirAll(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	opt := unpackOptions{chown: os.Geteuid() == 0}
	err = unpackLayer(t.Context(), bytes.NewReader(testimage.LayerTar(entries...)), layer, opt)
	return layer, sandbox, err
}

// outside lists what exists in sandbox apart from the layer directory and
// its parents.
func outside(t testing.TB, sandbox, layer string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == layer {
			return filepath.SkipDir
		}
		if p != sandbox && !strings.HasPrefix(layer, p+"/") {
			out = append(out, strings.TrimPrefix(p, sandbox))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lstat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestUnpackKeepsMetadata(t *testing.T) { bothResolvers(t, testUnpackKeepsMetadata) }

func testUnpackKeepsMetadata(t *testing.T) {
	mtime := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	f := testimage.File("d/f", 0o4751, []byte("hello"))
	f.MTime = mtime
	f.Xattrs = map[string]string{"user.test": "v"}
	d := testimage.Dir("ro", 0o555)
	d.MTime = mtime
	layer, _, err := unpackTar(t,
		testimage.Dir("d", 0o750),
		f,
		testimage.Hardlink("d/link", "d/f"),
		testimage.Symlink("d/sym", "/etc/passwd"),
		testimage.Symlink("d/rel", "f"),
		testimage.File("implicit/parent/file", 0o644, nil),
		d,
		testimage.File("ro/inside", 0o444, []byte("x")),
	)
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(layer, "ro"), 0o755) }) // for TempDir's cleanup without root
	if err != nil {
		t.Fatal(err)
	}
	st := lstat(t, filepath.Join(layer, "d/f"))
	if st.Mode&0o7777 != 0o4751 || st.Size != 5 || st.Mtim.Sec != mtime.Unix() || st.Nlink != 2 {
		t.Errorf("d/f: mode %o size %d mtime %d nlink %d", st.Mode&0o7777, st.Size, st.Mtim.Sec, st.Nlink)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(layer, "d/f"), "user.test", buf); err != nil || string(buf[:n]) != "v" {
		t.Errorf("xattr: %q %v", buf[:n], err)
	}
	if target, err := os.Readlink(filepath.Join(layer, "d/sym")); err != nil || target != "/etc/passwd" {
		t.Errorf("d/sym -> %q, %v", target, err)
	}
	if st := lstat(t, filepath.Join(layer, "d")); st.Mode&0o777 != 0o750 {
		t.Errorf("d: mode %o", st.Mode&0o777)
	}
	st = lstat(t, filepath.Join(layer, "ro"))
	if st.Mode&0o777 != 0o555 || st.Mtim.Sec != mtime.Unix() {
		t.Errorf("ro: mode %o mtime %d (directory metadata must be applied last)", st.Mode&0o777, st.Mtim.Sec)
	}
	if st := lstat(t, filepath.Join(layer, "implicit/parent")); st.Mode&0o777 != 0o755 {
		t.Errorf("implicit parent: mode %o", st.Mode&0o777)
	}
}

func TestUnpackOwnersAndDevices(t *testing.T) {
	testutil.RequirePrivileged(t)
	f := testimage.File("f", 0o644, []byte("x"))
	f.UID, f.GID = 1234, 5678
	s := testimage.Symlink("s", "f")
	s.UID, s.GID = 42, 43
	layer, _, err := unpackTar(t,
		f, s,
		testimage.Entry{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		testimage.Entry{Name: "dev/loop0", Type: tar.TypeBlock, Mode: 0o660, Devmajor: 7, Devminor: 0},
		testimage.Entry{Name: "fifo", Type: tar.TypeFifo, Mode: 0o600},
	)
	if err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(layer, "f")); st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("f: owner %d:%d", st.Uid, st.Gid)
	}
	if st := lstat(t, filepath.Join(layer, "s")); st.Uid != 42 || st.Gid != 43 {
		t.Errorf("s: owner %d:%d (lchown)", st.Uid, st.Gid)
	}
	st := lstat(t, filepath.Join(layer, "dev/null"))
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) || st.Mode&0o777 != 0o666 {
		t.Errorf("dev/null: mode %o rdev %d", st.Mode, st.Rdev)
	}
	if st := lstat(t, filepath.Join(layer, "dev/loop0")); st.Mode&unix.S_IFMT != unix.S_IFBLK {
		t.Errorf("dev/loop0: mode %o", st.Mode)
	}
	if st := lstat(t, filepath.Join(layer, "fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: mode %o", st.Mode)
	}
}

// whiteoutEntries is a layer of whiteouts: of a file, of a path whose
// directories do not exist, an opaque directory, AUFS bookkeeping.
func whiteoutEntries() []testimage.Entry {
	return []testimage.Entry{
		testimage.Dir("etc", 0o755),
		testimage.File("etc/gone", 0o644, []byte("replaced by the whiteout below")),
		testimage.Whiteout("etc/gone"),
		testimage.Whiteout("usr/lib/deep"),
		testimage.Opaque("var/cache"),
		testimage.File("var/cache/kept", 0o644, nil),
		testimage.File(".wh..wh.plnk/123", 0o644, nil),
	}
}

func TestUnpackWhiteouts(t *testing.T) {
	testutil.RequirePrivileged(t) // trusted.* extended attributes
	layer, _, err := unpackTar(t, whiteoutEntries()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/gone", "usr/lib/deep"} {
		st := lstat(t, filepath.Join(layer, p))
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, want a 0/0 character device", p, st.Mode, st.Rdev)
		}
	}
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(filepath.Join(layer, "var/cache"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("var/cache opaque: %q %v", buf[:n], err)
	}
	ents, _ := os.ReadDir(layer)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".wh.") {
			t.Errorf("whiteout entry %s kept as is", e.Name())
		}
	}
	if _, err := os.Lstat(filepath.Join(layer, "var/cache/.wh..wh..opq")); err == nil {
		t.Error("opaque marker kept as a file")
	}
}

// bothResolvers runs f with openat2 and with the component walk that
// replaces it where openat2 is missing.
func bothResolvers(t *testing.T, f func(t *testing.T)) {
	for _, walk := range []bool{false, true} {
		t.Run(fmt.Sprintf("walk=%v", walk), func(t *testing.T) {
			noOpenat2.Store(walk)
			t.Cleanup(func() { noOpenat2.Store(false) })
			f(t)
		})
	}
}

func TestUnpackRefusesBreakouts(t *testing.T) { bothResolvers(t, testUnpackRefusesBreakouts) }

func testUnpackRefusesBreakouts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries func(sandbox string) []testimage.Entry
		unsafe  bool // want ErrUnsafeLayer; otherwise the entry is confined
		inside  string
	}{
		{name: "dotdot", unsafe: true, entries: func(string) []testimage.Entry {
			return []testimage.Entry{testimage.File("../evil", 0o644, []byte("x"))}
		}},
		{name: "deep dotdot", unsafe: true, entries: func(string) []testimage.Entry {
			return []testimage.Entry{testimage.File("a/../../../evil", 0o644, []byte("x"))}
		}},
		{name: "absolute path is confined", inside: "abs", entries: func(string) []testimage.Entry {
			return []testimage.Entry{testimage.File("/abs", 0o644, []byte("x"))}
		}},
		{name: "absolute dotdot is confined", inside: "evil", entries: func(string) []testimage.Entry {
			return []testimage.Entry{testimage.File("/../../evil", 0o644, []byte("x"))}
		}},
		{name: "write through absolute symlink", unsafe: true, entries: func(sandbox string) []testimage.Entry {
			return []testimage.Entry{
				testimage.Symlink("x", filepath.Join(sandbox, "target")),
				testimage.File("x/passwd", 0o644, []byte("x")),
			}
		}},
		{name: "write through relative symlink", unsafe: true, entries: func(sandbox string) []testimage.Entry {
			return []testimage.Entry{
				testimage.Symlink("y", "."),
				testimage.File("y/passwd", 0o644, []byte("x")),
			}
		}},
		{name: "relative symlink out", unsafe: true, entries: func(string) []testimage.Entry {
			return []testimage.Entry{testimage.Symlink("d/y", "../../target")}
		}},
		{name: "hard link out", unsafe: true, entries: func(string) []testimage.Entry {
			return []testimage.Entry{testimage.Hardlink("h", "../../target/passwd")}
		}},
		{name: "hard link through symlink", unsafe: true, entries: func(sandbox string) []testimage.Entry {
			return []testimage.Entry{
				testimage.Symlink("x", filepath.Join(sandbox, "target")),
				testimage.Hardlink("h", "x/passwd"),
			}
		}},
		{name: "replace symlink by file", inside: "x", entries: func(sandbox string) []testimage.Entry {
			return []testimage.Entry{
				testimage.Symlink("x", filepath.Join(sandbox, "target", "passwd")),
				testimage.File("x", 0o644, []byte("mine")),
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandbox := t.TempDir()
			target := filepath.Join(sandbox, "target")
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(target, "passwd"), []byte("host"), 0o644); err != nil {
				t.Fatal(err)
			}
			layer := filepath.Join(sandbox, "a", "layer")
			if err := os.MkdirAll(layer, 0o755); err != nil {
				t.Fatal(err)
			}
			r := bytes.NewReader(testimage.LayerTar(tc.entries(sandbox)...))
			err := unpackLayer(t.Context(), r, layer, unpackOptions{})
			if tc.unsafe {
				if !errors.Is(err, ErrUnsafeLayer) || !errdefs.IsInvalidArgument(err) {
					t.Errorf("err = %v, want ErrUnsafeLayer", err)
				}
			} else if err != nil {
				t.Errorf("err = %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(target, "passwd")); err != nil || string(b) != "host" {
				t.Errorf("file outside the layer changed: %q %v", b, err)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(target, "passwd"), &st); err != nil || st.Nlink != 1 {
				t.Errorf("file outside the layer got linked: nlink %d %v", st.Nlink, err)
			}
			got := outside(t, sandbox, layer)
			if want := []string{"/target", "/target/passwd"}; !slices.Equal(got, want) {
				t.Errorf("outside the layer: %q, want %q", got, want)
			}
			if tc.inside != "" {
				if st, err := os.Lstat(filepath.Join(layer, tc.inside)); err != nil || !st.Mode().IsRegular() {
					t.Errorf("%s: want a regular file inside the layer: %v", tc.inside, err)
				}
			}
		})
	}
}

func TestUnpackCorrupt(t *testing.T) {
	good := testimage.LayerTar(testimage.File("f", 0o644, bytes.Repeat([]byte("x"), 4096)))
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated data", good[:1000]},
		{"garbage header", append(bytes.Repeat([]byte{'z'}, 512), good...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := unpackLayer(t.Context(), bytes.NewReader(tc.data), t.TempDir(), unpackOptions{corrupt: errdefs.ErrDataLoss})
			if !errdefs.IsDataLoss(err) {
				t.Errorf("err = %v, want data loss", err)
			}
		})
	}
}

func TestUnpackReplaces(t *testing.T) {
	layer, _, err := unpackTar(t,
		testimage.File("a/f", 0o644, []byte("1")),
		testimage.File("a/f", 0o600, []byte("2")), // later entry wins
		testimage.Dir("a/d", 0o700),
		testimage.File("a/d/x", 0o644, nil),
		testimage.File("a/d", 0o644, []byte("file now")), // a file replaces a directory
		testimage.File("a/g", 0o644, nil),
		testimage.Dir("a/g", 0o711), // and a directory a file
	)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(layer, "a/f")); string(b) != "2" {
		t.Errorf("a/f = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(layer, "a/d")); string(b) != "file now" {
		t.Errorf("a/d = %q", b)
	}
	if st := lstat(t, filepath.Join(layer, "a/g")); st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o777 != 0o711 {
		t.Errorf("a/g: mode %o", st.Mode)
	}
}

// benchLayer is a ~50 MB layer of many files of mixed sizes in nested
// directories, with some symbolic and hard links. The content compresses
// about 3:1, like the binaries and libraries of a real image.
func benchLayer(tb testing.TB) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := make([][]byte, 256)
	for i := range words {
		words[i] = make([]byte, 1+rng.IntN(12))
		for j := range words[i] {
			words[i][j] = byte(rng.Uint32())
		}
	}
	blob := make([]byte, 0, 1<<20+16)
	for len(blob) < 1<<20 {
		blob = append(blob, words[rng.IntN(len(words))]...)
	}
	var entries []testimage.Entry
	total := 0
	for d := 0; total < 50<<20; d++ {
		dir := fmt.Sprintf("usr/lib/pkg%03d/sub%d", d, d%7)
		entries = append(entries, testimage.Dir(dir, 0o755))
		for f := 0; f < 40 && total < 50<<20; f++ {
			size := 512 << rng.IntN(10) // 512 B … 256 KiB
			off := rng.IntN(len(blob) - size)
			name := fmt.Sprintf("%s/file%02d", dir, f)
			entries = append(entries, testimage.File(name, 0o644, blob[off:off+size]))
			total += size
			if f%10 == 0 {
				entries = append(entries, testimage.Symlink(name+".so", fmt.Sprintf("file%02d", f)))
				entries = append(entries, testimage.Hardlink(name+".hard", name))
			}
		}
	}
	return testimage.LayerTar(entries...)
}

func BenchmarkUnpack(b *testing.B) {
	data := benchLayer(b)
	b.SetBytes(int64(len(data)))
	opt := unpackOptions{chown: os.Geteuid() == 0}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := unpackLayer(b.Context(), bytes.NewReader(data), dir, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLayerDirs measures unpacking a stored gzip layer blob: reading,
// checking both digests, decompressing and unpacking.
func BenchmarkLayerDirs(b *testing.B) {
	data := benchLayer(b)
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	img, err := s.Import(b.Context(), bytes.NewReader(testimage.Gzip(data)), "bench", ImportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := os.RemoveAll(s.layerDir(img.ChainIDs[0])); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.LayerDirs(b.Context(), img); err != nil {
			b.Fatal(err)
		}
	}
}
