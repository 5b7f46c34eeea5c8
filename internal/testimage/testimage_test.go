package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestBusyboxRootfs(t *testing.T) {
	var a, b bytes.Buffer
	if err := BusyboxRootfs(&a); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := WriteBusyboxRootfs(p); err != nil {
		t.Fatal(err)
	}
	f, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(f)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two calls gave different tarballs")
	}

	got := map[string]*tar.Header{}
	tr := tar.NewReader(&a)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(MTime) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, MTime)
		}
		got[h.Name] = h
	}
	for _, tc := range []struct {
		name string
		typ  byte
		mode int64
		link string
	}{
		{"bin/busybox", tar.TypeReg, 0o755, ""},
		{"bin/sh", tar.TypeSymlink, 0o777, "/bin/busybox"},
		{"sbin/ifconfig", tar.TypeSymlink, 0o777, "/bin/busybox"},
		{"usr/bin/wget", tar.TypeSymlink, 0o777, "/bin/busybox"},
		{"usr/sbin/httpd", tar.TypeSymlink, 0o777, "/bin/busybox"},
		{"etc/passwd", tar.TypeReg, 0o644, ""},
		{"etc/group", tar.TypeReg, 0o644, ""},
		{"tmp/", tar.TypeDir, 0o1777, ""},
		{"root/", tar.TypeDir, 0o700, ""},
		{"var/www/", tar.TypeDir, 0o755, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := got[tc.name]
			if h == nil {
				t.Fatal("missing")
			}
			if h.Typeflag != tc.typ || h.Mode != tc.mode || h.Linkname != tc.link {
				t.Errorf("type %q mode %o link %q, want %q %o %q", h.Typeflag, h.Mode, h.Linkname, tc.typ, tc.mode, tc.link)
			}
		})
	}
}

func TestLayerTar(t *testing.T) {
	b := LayerTar(
		Dir("a", 0o755),
		File("a/f", 0o600, []byte("hi")),
		Whiteout("a/gone"),
		Opaque("a"),
		Hardlink("a/g", "a/f"),
		Entry{Name: "../evil", Type: tar.TypeReg, Mode: 0o644, Xattrs: map[string]string{"user.k": "v"}},
	)
	want := []string{"a/", "a/f", "a/.wh.gone", "a/.wh..wh..opq", "a/g", "../evil"}
	zr, err := gzip.NewReader(bytes.NewReader(Gzip(b)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				t.Fatalf("%d entries, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != want[i] {
			t.Errorf("entry %d: %q, want %q", i, h.Name, want[i])
		}
		if h.Name == "../evil" && h.PAXRecords["SCHILY.xattr.user.k"] != "v" {
			t.Errorf("xattr lost: %v", h.PAXRecords)
		}
	}
}
