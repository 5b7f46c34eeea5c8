// Package testimage builds small root filesystems and layer tarballs for
// berth's tests, offline: a busybox rootfs made from the host's
// /bin/busybox (Debian's busybox-static), and hand-made layer tarballs
// (whiteouts, hostile paths) from a list of entries. The output is
// reproducible: every entry has the same fixed mtime and no host owner
// names.
package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// Busybox is the busybox binary BusyboxRootfs packs.
const Busybox = "/bin/busybox"

// MTime is the modification time of every entry the package writes.
var MTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Passwd and Group are the rootfs' /etc/passwd and /etc/group.
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
		"www-data:x:33:33:www-data:/var/www:/bin/false\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	Group = "root:x:0:\n" +
		"daemon:x:1:\n" +
		"www-data:x:33:\n" +
		"nogroup:x:65534:\n"
)

var busybox struct {
	once sync.Once
	tar  []byte
	err  error
}

// BusyboxRootfs writes an uncompressed rootfs tarball made from the host's
// /bin/busybox: bin/busybox, a symbolic link to it for every applet that
// `busybox --list-full` names (bin/sh, usr/bin/wget, usr/sbin/httpd…),
// etc/passwd (root, daemon, www-data, nobody), etc/group, tmp (1777), root,
// var/www and the usual empty mount points. The tarball is built once per
// process and is the same on every call.
func BusyboxRootfs(w io.Writer) error {
	busybox.once.Do(func() { busybox.tar, busybox.err = buildBusybox() })
	if busybox.err != nil {
		return busybox.err
	}
	_, err := w.Write(busybox.tar)
	return err
}

// WriteBusyboxRootfs writes BusyboxRootfs to the file path.
func WriteBusyboxRootfs(path string) error {
	var b bytes.Buffer
	if err := BusyboxRootfs(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func buildBusybox() ([]byte, error) {
	bin, err := os.ReadFile(Busybox)
	if err != nil {
		return nil, fmt.Errorf("testimage: %w (install busybox-static)", err)
	}
	out, err := exec.Command(Busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("testimage: %s --list-full: %w", Busybox, err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		a = strings.TrimPrefix(path.Clean("/"+a), "/")
		if a != "" && a != "bin/busybox" {
			applets = append(applets, a)
		}
	}
	slices.Sort(applets)

	dirs := map[string]int64{
		"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755, "root": 0o700,
		"sbin": 0o755, "sys": 0o755, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
		"var": 0o755, "var/run": 0o755, "var/www": 0o755,
	}
	for _, a := range applets {
		for d := path.Dir(a); d != "."; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	entries := make([]Entry, 0, len(dirs)+len(applets)+3)
	for d, m := range dirs {
		entries = append(entries, Dir(d, m))
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	entries = append(entries,
		File("bin/busybox", 0o755, bin),
		File("etc/passwd", 0o644, []byte(Passwd)),
		File("etc/group", 0o644, []byte(Group)),
	)
	for _, a := range applets {
		entries = append(entries, Symlink(a, "/bin/busybox"))
	}
	var b bytes.Buffer
	if err := WriteTar(&b, entries...); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Entry is one entry of a layer tarball. Name is used as is, so it can be
// hostile ("../evil", "/abs").
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg, TypeDir, TypeSymlink, TypeLink, TypeChar, TypeBlock, TypeFifo
	Mode     int64
	Data     []byte
	Linkname string
	UID, GID int
	Devmajor int64
	Devminor int64
	Xattrs   map[string]string // extended attributes, as PAX SCHILY.xattr. records
	MTime    time.Time         // zero: MTime
}

// File is a regular file.
func File(name string, mode int64, data []byte) Entry {
	return Entry{Name: name, Type: tar.TypeReg, Mode: mode, Data: data}
}

// Dir is a directory.
func Dir(name string, mode int64) Entry {
	return Entry{Name: name + "/", Type: tar.TypeDir, Mode: mode}
}

// Symlink is a symbolic link to target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target}
}

// Hardlink is a hard link to the earlier entry target.
func Hardlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Mode: 0o644, Linkname: target}
}

// Whiteout is the OCI whiteout hiding name (dir/.wh.base).
func Whiteout(name string) Entry {
	dir, base := path.Split(name)
	return File(dir+".wh."+base, 0o644, nil)
}

// Opaque is the OCI marker hiding what the layers below have in dir.
func Opaque(dir string) Entry {
	return File(path.Join(dir, ".wh..wh..opq"), 0o644, nil)
}

// WriteTar writes entries as an uncompressed PAX tarball.
func WriteTar(w io.Writer, entries ...Entry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{
			Name:     e.Name,
			Typeflag: e.Type,
			Mode:     e.Mode,
			Linkname: e.Linkname,
			Uid:      e.UID,
			Gid:      e.GID,
			Devmajor: e.Devmajor,
			Devminor: e.Devminor,
			ModTime:  e.MTime,
			Format:   tar.FormatPAX,
		}
		if h.ModTime.IsZero() {
			h.ModTime = MTime
		}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if len(e.Xattrs) > 0 {
			h.PAXRecords = map[string]string{}
			for k, v := range e.Xattrs {
				h.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("testimage: %s: %w", e.Name, err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.Data); err != nil {
				return fmt.Errorf("testimage: %s: %w", e.Name, err)
			}
		}
	}
	return tw.Close()
}

// LayerTar returns entries as an uncompressed tarball. It panics on error,
// which only a malformed entry causes.
func LayerTar(entries ...Entry) []byte {
	var b bytes.Buffer
	if err := WriteTar(&b, entries...); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(b) // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	return out.Bytes()
}
