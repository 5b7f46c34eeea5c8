package build

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

// tarEntries lists a layer's entries as "name type".
func tarEntries(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name+" "+string(h.Typeflag))
	}
}

func write(t *testing.T, p, data string, mode os.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// TestPrivPackUpper builds an upper directory by hand, as the kernel leaves
// it, and checks the layer made of it: whiteouts and opaque directories
// become .wh. entries, copied-up files and the runtime's mount points are
// left out, new and changed files kept with their directories.
func TestPrivPackUpper(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	lower, upper := filepath.Join(dir, "lower"), filepath.Join(dir, "upper")
	old := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []string{"etc/passwd", "etc/group", "bin/tool", "data/keep", "data/old", "var/x/y", "same/file"} {
		write(t, filepath.Join(lower, f), "lower "+f, 0o644, old)
	}
	// Copied up, unchanged: same content, mode, owner and mtime.
	write(t, filepath.Join(upper, "same/file"), "lower same/file", 0o644, old)
	// Changed.
	write(t, filepath.Join(upper, "bin/tool"), "new tool", 0o755, time.Now())
	// New.
	write(t, filepath.Join(upper, "new/dir/file"), "hello", 0o644, time.Now())
	// Deleted: a whiteout.
	if err := os.MkdirAll(filepath.Join(upper, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(upper, "etc/group"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	// Replaced: an opaque directory over a lower one.
	write(t, filepath.Join(upper, "var/x/z"), "z", 0o644, time.Now())
	if err := unix.Setxattr(filepath.Join(upper, "var/x"), opaqueXattr, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	// A new directory the kernel marked opaque: nothing below to hide.
	if err := unix.Setxattr(filepath.Join(upper, "new/dir"), opaqueXattr, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	// The runtime's mount points.
	write(t, filepath.Join(upper, "etc/hosts"), "", 0o644, time.Now())
	for _, d := range []string{"proc", "sys", "dev"} {
		if err := os.Mkdir(filepath.Join(upper, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	changed, err := packUpper(upper, lowers{lower}, &b)
	if err != nil {
		t.Fatal(err)
	}
	got := tarEntries(t, b.Bytes())
	want := []string{
		"bin/ 5", "bin/tool 0",
		"etc/ 5", "etc/.wh.group 0",
		"new/ 5", "new/dir/ 5", "new/dir/file 0",
		"var/ 5", "var/x/ 5", "var/x/.wh..wh..opq 0", "var/x/z 0",
	}
	if !changed || !slices.Equal(got, want) {
		t.Errorf("layer entries:\n got %q\nwant %q", got, want)
	}

	// An upper directory with only copied-up files and mount points is no
	// change at all.
	if err := os.RemoveAll(upper); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(upper, "same/file"), "lower same/file", 0o644, old)
	if err := os.Mkdir(filepath.Join(upper, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if changed, err := packUpper(upper, lowers{lower}, &b); err != nil || changed {
		t.Errorf("packUpper of copy-ups only: changed %v, err %v; want no change", changed, err)
	}
}
