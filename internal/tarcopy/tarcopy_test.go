package tarcopy

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/errdefs"
)

// tree makes files (name → content; "" makes a directory) under a new
// directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if content == "" {
			if err := os.MkdirAll(p, 0o750); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func pack(t *testing.T, dir, name string, rename Rename) []byte {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := Write(tw, root, name, rename); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func names(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		out = append(out, h.Name)
	}
	slices.Sort(out)
	return out
}

func TestWriteNamesAndLinks(t *testing.T) {
	dir := tree(t, map[string]string{"d/a": "A", "d/sub/b": "B", "other": "O"})
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "d", "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		rename Rename
		want   []string
	}{
		{"as is", Rename{}, []string{"d/", "d/a", "d/link", "d/sub/", "d/sub/b"}},
		{"renamed", Rename{From: "d", To: "e"}, []string{"e/", "e/a", "e/link", "e/sub/", "e/sub/b"}},
		{"content", Rename{From: "d", To: "."}, []string{"a", "link", "sub/", "sub/b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := names(t, pack(t, dir, "d", tc.rename))
			if !slices.Equal(got, tc.want) {
				t.Errorf("names = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExtractRoundTrip(t *testing.T) {
	src := tree(t, map[string]string{"d/a": "A", "d/sub/b": "B"})
	if err := os.Symlink("a", filepath.Join(src, "d", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "d", "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	root, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := Extract(root, bytes.NewReader(pack(t, src, "d", Rename{})), Options{UID: os.Getuid(), GID: os.Getgid(), Rename: Rename{From: "d", To: "x"}}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "x", "sub", "b")); err != nil || string(b) != "B" {
		t.Errorf("x/sub/b = %q, %v; want B", b, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "x", "a"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("x/a: %v, mode %v; want 0640", err, fi)
	}
	if l, err := os.Readlink(filepath.Join(dst, "x", "link")); err != nil || l != "a" {
		t.Errorf("x/link -> %q, %v; want a", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "x", "sub")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("x/sub: %v, %v; want a directory 0750", fi, err)
	}
}

// archive is a tar stream of hdrs (regular files hold Size bytes of x).
func archive(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractRefuses(t *testing.T) {
	tests := []struct {
		name string
		tar  []*tar.Header
	}{
		{"dot-dot", []*tar.Header{{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}}},
		{"through a link out", []*tar.Header{
			{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "/", Mode: 0o777},
			{Name: "out/tmp/escape", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		}},
		{"file over directory", []*tar.Header{
			{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "d", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outer := t.TempDir()
			dst := filepath.Join(outer, "dst")
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			root, err := os.OpenRoot(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			err = Extract(root, bytes.NewReader(archive(t, tc.tar...)), Options{UID: os.Getuid(), GID: os.Getgid()})
			if err == nil {
				t.Fatal("extracted; want an error")
			}
			if _, serr := os.Stat(filepath.Join(outer, "escape")); serr == nil {
				t.Error("a file landed outside the destination")
			}
			if tc.name != "through a link out" && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("err = %v; want invalid argument", err)
			}
		})
	}
}
