package engine

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
)

// tarOf makes a tar archive of hdrs; a regular file's content is its name.
func tarOf(t *testing.T, hdrs ...tar.Header) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		h.Uid, h.Gid = os.Getuid(), os.Getgid()
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(h.Name))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

func TestExtractArchiveStaysInside(t *testing.T) {
	outside := t.TempDir()
	dir := filepath.Join(t.TempDir(), "ctx")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// As many ".." as it takes to leave dir, and more.
	escape := "../../../../../../../../../../../.." + outside + "/climbed"
	archive := tarOf(t,
		tar.Header{Name: "sub/", Typeflag: tar.TypeDir, Mode: 0o750},
		tar.Header{Name: "sub/a.txt", Typeflag: tar.TypeReg, Mode: 0o640},
		tar.Header{Name: escape, Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "/abs.txt", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "/"},
		tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../../../.." + outside},
		tar.Header{Name: "up/through-up", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "out/through-link", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "sub/a.txt"},
	)
	if err := ExtractArchive(t.Context(), dir, archive, CopyInOptions{}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("the archive wrote outside its directory: %v", ents)
	}
	for p, want := range map[string]string{
		"sub/a.txt": "sub/a.txt",
		"hard":      "sub/a.txt",
		"abs.txt":   "/abs.txt",
		// Links resolve inside the directory: their targets are under it.
		"through-link":                           "out/through-link",
		filepath.Join(outside[1:], "through-up"): "up/through-up",
		filepath.Join(outside[1:], "climbed"):    escape,
	} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q (%v), want %q", p, b, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "sub")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("sub: %v %v, want mode 0750", fi, err)
	}
}

func TestExtractArchiveBadInput(t *testing.T) {
	dir := t.TempDir()
	big := tarOf(t, tar.Header{Name: "a-rather-long-name.txt", Typeflag: tar.TypeReg, Mode: 0o644})
	err := ExtractArchive(t.Context(), dir, big, CopyInOptions{MaxBytes: 4})
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("an archive over MaxBytes: %v, want invalid argument", err)
	}
	if err := ExtractArchive(t.Context(), dir, bytes.NewBufferString("not a tar archive at all, but long enough to look at"), CopyInOptions{}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("a malformed archive: %v, want invalid argument", err)
	}
	if err := ExtractArchive(t.Context(), filepath.Join(dir, "missing"), tarOf(t), CopyInOptions{}); err == nil {
		t.Fatal("a missing directory: no error")
	}
}
