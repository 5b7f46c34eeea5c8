// Package tarcopy packs a file tree into a tar stream and unpacks one into
// a directory, always through an *os.Root, so that no symbolic link in the
// tree (which a container's processes may have planted) can lead a read or a
// write outside it. It is what `cp` moves between a container and the host,
// in both directions.
package tarcopy

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
)

// Rename maps the archive names of a tree: the top entry From (and every
// entry below it) is named To instead. "." as To puts the tree's content
// straight into the destination. The zero Rename keeps the names.
type Rename struct{ From, To string }

func (r Rename) apply(name string) string {
	if r.From == "" || r.From == r.To {
		return name
	}
	switch {
	case name == r.From:
		return r.To
	case strings.HasPrefix(name, r.From+"/"):
		return path.Join(r.To, name[len(r.From)+1:])
	}
	return name
}

// Write writes the tree named name in root (a file, a symbolic link, as a
// link, or a directory and all below it) to tw, named as rename says.
// Symbolic links are never followed, not even the top one.
func Write(tw *tar.Writer, root *os.Root, name string, rename Rename) error {
	top, err := root.Lstat(name)
	if err != nil {
		return err
	}
	if !top.IsDir() {
		return writeEntry(tw, root, name, top, rename)
	}
	return fs.WalkDir(root.FS(), name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := root.Lstat(p)
		if err != nil {
			return err
		}
		return writeEntry(tw, root, p, fi, rename)
	})
}

func writeEntry(tw *tar.Writer, root *os.Root, name string, fi fs.FileInfo, rename Rename) error {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = root.Readlink(name); err != nil {
			return err
		}
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil // sockets are not archived, as docker's archive skips them
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	hdr.Name = rename.apply(name)
	if hdr.Name == "." {
		return nil // the destination itself: no entry of its own
	}
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Options tune Extract.
type Options struct {
	// KeepOwner gives each entry the owner the archive names; else every
	// entry belongs to UID and GID.
	KeepOwner bool
	UID, GID  int
	// Rename maps the archive's names before they are unpacked.
	Rename Rename
}

// Extract unpacks the tar stream r into root. Directories are made as
// needed; an existing file is replaced, but a directory is never replaced
// by a file or a file by a directory (errdefs.ErrInvalidArgument names
// the entry). Entries that would land outside root are refused.
func Extract(root *os.Root, r io.Reader, opt Options) error {
	tr := tar.NewReader(r)
	var dirs []*tar.Header // their times are set last: entries below change them
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the tar stream: %w", err)
		}
		name := opt.Rename.apply(path.Clean(hdr.Name))
		if name == "." {
			continue // the destination itself is left as it is
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("tar entry %q: outside the destination: %w", hdr.Name, errdefs.ErrInvalidArgument)
		}
		if err := extractEntry(root, tr, hdr, name, opt); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			d := *hdr
			d.Name = name
			dirs = append(dirs, &d)
		}
	}
	for _, d := range dirs {
		if err := root.Chtimes(d.Name, d.AccessTime, d.ModTime); err != nil {
			return err
		}
	}
	return nil
}

func extractEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, name string, opt Options) error {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	cur, err := root.Lstat(name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	mode := fs.FileMode(hdr.Mode) & fs.ModePerm
	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists && !cur.IsDir() {
			return fmt.Errorf("cannot overwrite non-directory with directory: %w", errdefs.ErrInvalidArgument)
		}
		if !exists {
			if err := root.Mkdir(name, mode); err != nil {
				return err
			}
		}
	case tar.TypeReg:
		if exists && cur.IsDir() {
			return fmt.Errorf("cannot overwrite directory with non-directory: %w", errdefs.ErrInvalidArgument)
		}
		if exists && !cur.Mode().IsRegular() {
			if err := root.Remove(name); err != nil {
				return err
			}
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if err := errors.Join(err, f.Close()); err != nil {
			return err
		}
	case tar.TypeSymlink, tar.TypeLink:
		if exists && cur.IsDir() {
			return fmt.Errorf("cannot overwrite directory with non-directory: %w", errdefs.ErrInvalidArgument)
		}
		if exists {
			if err := root.Remove(name); err != nil {
				return err
			}
		}
		if hdr.Typeflag == tar.TypeLink {
			// A hard link's target is an earlier entry of the same archive.
			return root.Link(path.Clean(hdr.Linkname), name)
		}
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return chown(root, name, hdr, opt)
	default:
		return nil // devices, FIFOs: not made by a copy
	}
	if err := chown(root, name, hdr, opt); err != nil {
		return err
	}
	// After the chown, which clears set-user-ID and set-group-ID bits.
	if err := root.Chmod(name, mode|modeBits(hdr.Mode)); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		return nil
	}
	return root.Chtimes(name, orNow(hdr.AccessTime, hdr.ModTime), hdr.ModTime)
}

// modeBits turns the set-user-ID, set-group-ID and sticky bits of a tar
// header's mode into fs.FileMode bits.
func modeBits(m int64) fs.FileMode {
	var b fs.FileMode
	if m&syscall.S_ISUID != 0 {
		b |= fs.ModeSetuid
	}
	if m&syscall.S_ISGID != 0 {
		b |= fs.ModeSetgid
	}
	if m&syscall.S_ISVTX != 0 {
		b |= fs.ModeSticky
	}
	return b
}

func orNow(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

func chown(root *os.Root, name string, hdr *tar.Header, opt Options) error {
	uid, gid := opt.UID, opt.GID
	if opt.KeepOwner {
		uid, gid = hdr.Uid, hdr.Gid
	}
	return root.Lchown(name, uid, gid)
}
