package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/testimage"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// fuzzOutside is a directory outside every layer that FuzzUnpackLayer's
// seeds point absolute symbolic and hard links at: fixed, because the
// seeds are built before the sandbox of each run exists. It holds
// target/passwd, which no unpacking may change or link to.
var fuzzOutside = filepath.Join(os.TempDir(), "berth-fuzz-outside")

// FuzzUnpackLayer unpacks arbitrary bytes, plain or compressed, as a layer
// (with either directory resolver; as root, with owners and devices).
// Properties: it never panics; a bad tarball is an error; nothing is
// written outside the layer directory, neither beside it ("../" names)
// nor through a symbolic or hard link to fuzzOutside.
func FuzzUnpackLayer(f *testing.F) {
	if err := makeOutside(fuzzOutside); err != nil {
		f.Fatal(err)
	}
	for _, entries := range unpackSeeds(fuzzOutside) {
		b := testimage.LayerTar(entries...)
		f.Add(b, false)
		f.Add(testimage.Gzip(b), true)
	}
	f.Add(testimage.LayerTar(testimage.File("f", 0o644, []byte("xyz")))[:700], false)
	f.Fuzz(func(t *testing.T, data []byte, walk bool) {
		if layerTooLarge(data) {
			return
		}
		noOpenat2.Store(walk)
		defer noOpenat2.Store(false)
		sandbox := t.TempDir()
		if err := makeOutside(sandbox); err != nil {
			t.Fatal(err)
		}
		layer := filepath.Join(sandbox, "a", "b", "layer")
		if err := os.MkdirAll(layer, 0o755); err != nil {
			t.Fatal(err)
		}
		ls, err := openLayerStream(bytes.NewReader(data), nil)
		if err == nil {
			opt := unpackOptions{chown: os.Geteuid() == 0, verify: ls.finish}
			err = unpackLayer(t.Context(), ls.src, layer, opt)
			ls.close()
		}
		if err != nil && err.Error() == "" {
			t.Fatal("an error without a message")
		}
		for _, dir := range []string{sandbox, fuzzOutside} {
			checkOutside(t, dir)
		}
		if got := outside(t, sandbox, layer); !slices.Equal(got, []string{"/target", "/target/passwd"}) {
			t.Fatalf("written outside the layer: %q (unpack error: %v)", got, err)
		}
	})
}

// makeOutside makes dir/target holding only passwd, "host": afresh, in case
// a failed run changed it. Fuzzing workers do it while others run: the
// file is replaced by a rename, and the temporary copy is not in target.
func makeOutside(dir string) error {
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(target)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() != "passwd" {
			if err := os.RemoveAll(filepath.Join(target, e.Name())); err != nil {
				return err
			}
		}
	}
	tmp, err := os.CreateTemp(dir, ".passwd-")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString("host")
	err = errors.Join(err, tmp.Chmod(0o644), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(target, "passwd"))
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return nil
}

// checkOutside fails unless dir/target holds only passwd, unchanged and
// with no other link.
func checkOutside(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "target"))
	if err != nil || len(ents) != 1 || ents[0].Name() != "passwd" {
		t.Fatalf("%s/target changed: %v %v", dir, ents, err)
	}
	p := filepath.Join(dir, "target", "passwd")
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil || st.Nlink != 1 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("%s: linked or replaced: nlink %d mode %o %v", p, st.Nlink, st.Mode, err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "host" {
		t.Fatalf("%s changed: %q %v", p, b, err)
	}
}

// layerTooLarge tells a layer that would take more than a few MiB to
// unpack (a compression bomb, a huge sparse file): unpacking writes it all,
// which is not what is fuzzed.
func layerTooLarge(data []byte) bool {
	const limit = 8 << 20
	src := io.Reader(bytes.NewReader(data))
	if mt, err := sniff(data[:min(len(data), 6)]); err != nil {
		return false
	} else if mt != types.OCIUncompressedLayer {
		rc, err := decompress(src)
		if err != nil {
			return false
		}
		defer rc.Close()
		src = rc
	}
	r := &io.LimitedReader{R: src, N: 4 * limit}
	tr := tar.NewReader(r)
	var total int64
	for n := 0; n < 10000; n++ {
		hdr, err := tr.Next()
		if err != nil {
			return r.N <= 0
		}
		if total += hdr.Size; hdr.Size < 0 || total > limit {
			return true
		}
	}
	return true
}

// unpackSeeds are small layers of the kinds the unpack tests use:
// metadata, owners and devices, whiteouts, replacements and breakouts
// (through "../" names, absolute and relative symbolic links, hard links)
// towards outside.
func unpackSeeds(outside string) [][]testimage.Entry {
	target := filepath.Join(outside, "target")
	meta := testimage.File("d/f", 0o4751, []byte("hello"))
	meta.Xattrs = map[string]string{"user.test": "v", "trusted.overlay.redirect": "/x"}
	owned := testimage.File("o", 0o644, []byte("x"))
	owned.UID, owned.GID = 1234, 5678
	return [][]testimage.Entry{
		{
			testimage.Dir("d", 0o750), meta,
			testimage.Hardlink("d/link", "d/f"),
			testimage.Symlink("d/sym", "/etc/passwd"),
			testimage.Symlink("d/rel", "f"),
			testimage.File("implicit/parent/file", 0o644, nil),
			testimage.Dir("ro", 0o555),
			testimage.File("ro/inside", 0o444, []byte("x")),
		},
		{
			owned,
			testimage.Entry{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
			testimage.Entry{Name: "fifo", Type: tar.TypeFifo, Mode: 0o600},
		},
		whiteoutEntries(),
		{
			testimage.File("a/f", 0o644, []byte("1")),
			testimage.File("a/f", 0o600, []byte("2")),
			testimage.Dir("a/d", 0o700),
			testimage.File("a/d/x", 0o644, nil),
			testimage.File("a/d", 0o644, []byte("file now")),
			testimage.Dir("a/g", 0o711),
		},
		{testimage.File("../evil", 0o644, []byte("x"))},
		{testimage.File("a/../../../target/passwd", 0o644, []byte("x"))},
		{testimage.File("/../../evil", 0o644, []byte("x"))},
		{testimage.Symlink("x", target), testimage.File("x/passwd", 0o644, []byte("x"))},
		{testimage.Symlink("x", target), testimage.Hardlink("h", "x/passwd")},
		{testimage.Symlink("x", filepath.Join(target, "passwd")), testimage.File("x", 0o644, []byte("mine"))},
		{testimage.Symlink("y", "."), testimage.File("y/passwd", 0o644, []byte("x"))},
		{testimage.Symlink("d/y", "../../../target"), testimage.File("d/y/passwd", 0o644, []byte("x"))},
		{testimage.Hardlink("h", "../../../target/passwd")},
		{testimage.Hardlink("h", filepath.Join(target, "passwd"))},
	}
}
