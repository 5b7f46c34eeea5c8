package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// squash merges the layers stage ss made over its base (its FROM image or
// stage) into one layer, as docker build --squash does: the history keeps
// every step, each marked as making no layer, and one entry more for the
// merged layer. The merged layer is what the overlay of the new layers
// over the base shows changed: their unpacked directories merged in
// order into one upper directory (whiteouts and opaque directories as
// the overlay reads them), packed against the base's layers.
func (r *run) squash(ctx context.Context, ss *stageState) (retErr error) {
	merged := ss.layers[ss.baseLayers:]
	if len(merged) == 0 {
		return nil
	}
	base := *ss
	base.layers = ss.layers[:ss.baseLayers:ss.baseLayers]
	below, err := r.lowers(ctx, &base)
	if err != nil {
		return err
	}
	upper := r.b.cache.tempName()
	if err := os.Mkdir(upper, 0o755); err != nil {
		return fmt.Errorf("squash: %w", err)
	}
	defer func() { retErr = errors.Join(retErr, os.RemoveAll(upper)) }()
	for _, l := range merged {
		dir, err := r.b.cache.unpacked(ctx, l.diffID)
		if err != nil {
			return err
		}
		if err := mergeLayerDir(upper, dir); err != nil {
			return fmt.Errorf("squash: layer %s: %w", l.diffID, err)
		}
	}
	w, err := r.b.cache.newLayer()
	if err != nil {
		return err
	}
	changed, err := packUpper(upper, below, w)
	if err != nil {
		w.abort()
		return fmt.Errorf("squash: %w", err)
	}
	ss.layers = base.layers
	if changed {
		diffID, err := r.commitLayer(ctx, w)
		if err != nil {
			return err
		}
		ss.layers = append(ss.layers, builtLayer{diffID: diffID})
	} else {
		w.abort()
	}
	ss.history = slices.Clone(ss.history)
	for i := ss.baseHistory; i < len(ss.history); i++ {
		ss.history[i].EmptyLayer = true
	}
	ss.history = append(ss.history, v1.History{Created: v1.Time{Time: ss.created}, CreatedBy: "berth build --squash",
		Comment: fmt.Sprintf("berth: %d layers merged into one", len(merged)), EmptyLayer: !changed})
	return nil
}

// mergeLayerDir lays the unpacked layer src (overlay form: whiteouts are
// 0/0 character devices, opaque directories carry opaqueXattr) over dst,
// an upper directory holding the layers below src merged: a whiteout
// replaces what dst has; an opaque directory, or a directory over what
// dst holds as something else, replaces dst's and hides what is below
// (opaque); any other directory merges; anything else replaces.
func mergeLayerDir(dst, src string) error {
	type dirTimes struct {
		path string
		fi   fs.FileInfo
	}
	var dirs []dirTimes
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if !fi.IsDir() {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
			if isWhiteout(fi) {
				if err := unix.Mknod(target, unix.S_IFCHR, 0); err != nil {
					return err
				}
				return setTimes(target, fi)
			}
			return copyEntry(p, target, fi)
		}
		opaque := isOpaque(p)
		tfi, err := os.Lstat(target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case !tfi.IsDir() || opaque:
			if err := os.RemoveAll(target); err != nil {
				return err
			}
			opaque = true
		}
		if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if opaque {
			if err := unix.Lsetxattr(target, opaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("%s: %w", target, err)
			}
		}
		dirs = append(dirs, dirTimes{target, fi})
		return setMeta(target, fi, false)
	})
	if err != nil {
		return err
	}
	// A directory's time, once what is in it is written.
	for _, d := range slices.Backward(dirs) {
		if err := setTimes(d.path, d.fi); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies the file, link, device or fifo at src to dst, with its
// owner, mode, times and the extended attributes a layer carries.
func copyEntry(src, dst string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode().IsRegular():
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
			return errors.Join(err, out.Close())
		}
		if err := out.Close(); err != nil {
			return err
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case fi.Mode()&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return nil // a socket: no layer carries one
	}
	if err := setMeta(dst, fi, fi.Mode()&fs.ModeSymlink != 0); err != nil {
		return err
	}
	for _, x := range keptXattrs {
		buf := make([]byte, 256)
		if n, err := unix.Lgetxattr(src, x, buf); err == nil {
			if err := unix.Lsetxattr(dst, x, buf[:n], 0); err != nil {
				return fmt.Errorf("%s: %w", dst, err)
			}
		}
	}
	return setTimes(dst, fi)
}

// setMeta gives p fi's owner and, unless it is a symbolic link, its mode.
func setMeta(p string, fi fs.FileInfo, link bool) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if link {
		return nil
	}
	// After chown, which clears set-user-ID and set-group-ID bits.
	return unix.Fchmodat(unix.AT_FDCWD, p, st.Mode&0o7777, 0)
}

// setTimes gives p fi's access and modification times.
func setTimes(p string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	ts := []unix.Timespec{unix.NsecToTimespec(syscall.TimespecToNsec(st.Atim)), unix.NsecToTimespec(syscall.TimespecToNsec(st.Mtim))}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}
