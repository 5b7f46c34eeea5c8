// Package fscopy copies file system entries and trees with everything a
// layer or a volume keeps: ownership, modes, times, extended attributes,
// symbolic and hard links, devices and fifos.
package fscopy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Tree copies the content of directory src into directory dst (which
// exists), as Docker seeds a volume: ownership, modes, times, extended
// attributes, symbolic links, hard links, devices and fifos kept; dst
// itself takes src's ownership and mode. Symbolic links are copied, never
// followed.
func Tree(src, dst string) error {
	links := map[uint64]string{} // inode → copied path, for hard links
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := Entry(p, target, &st, rel == ".", links); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Directory times last: creating their entries changed them.
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		return SetTimes(filepath.Join(dst, rel), &st)
	})
}

// Entry copies the entry src, whose Lstat is st, to dst, which must not
// exist unless isRoot (a directory that exists). A file of more than one
// link whose inode links has seen is linked to its first copy; links
// records the copies. A directory's times are left to the caller (SetTimes
// once its entries are written); a socket is not copied.
func Entry(src, dst string, st *unix.Stat_t, isRoot bool, links map[uint64]string) error {
	mode := st.Mode & unix.S_IFMT
	if mode != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := links[st.Ino]; ok {
			return os.Link(first, dst)
		}
		links[st.Ino] = dst
	}
	switch mode {
	case unix.S_IFDIR:
		if !isRoot {
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
		}
	case unix.S_IFREG:
		if err := copyFile(src, dst); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	case unix.S_IFSOCK:
		return nil // a socket cannot be copied; Docker skips it too
	}
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	if mode == unix.S_IFLNK {
		return SetTimes(dst, st)
	}
	// After chown, which clears set-id bits.
	if err := unix.Fchmodat(unix.AT_FDCWD, dst, st.Mode&0o7777, 0); err != nil {
		return err
	}
	if mode != unix.S_IFDIR {
		return SetTimes(dst, st)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// SetTimes gives p st's access and modification times, not following a
// symbolic link.
func SetTimes(p string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// copyXattrs copies the extended attributes of src to dst; a file system
// without them is not an error.
func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		if err == nil || errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(src, buf)
	if err != nil {
		return err
	}
	for _, name := range splitNul(buf[:size]) {
		vsize, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			return err
		}
		val := make([]byte, vsize)
		if vsize, err = unix.Lgetxattr(src, name, val); err != nil {
			return err
		}
		if err := unix.Lsetxattr(dst, name, val[:vsize], 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

func splitNul(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}
