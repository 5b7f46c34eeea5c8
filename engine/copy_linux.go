package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/tarcopy"
)

// CopyToOptions tune CopyTo.
type CopyToOptions struct {
	// CopyUIDGID keeps the owners the archive names (docker cp -a); else
	// everything copied belongs to root.
	CopyUIDGID bool
}

// StatPath describes the path p (absolute, in the container) of container
// id without following a symbolic link at its end. A running container's
// paths are seen as its processes see them (volumes and binds included); a
// stopped one's in its root filesystem. errdefs.ErrNotFound for an unknown
// container or a path that does not exist.
func (e *Engine) StatPath(ctx context.Context, id ContainerID, p string) (PathStat, error) {
	var st PathStat
	err := e.inRoot(ctx, id, func(root int) error {
		var err error
		st, err = statIn(root, p)
		return err
	})
	return st, err
}

// CopyFrom writes the tree at path p of container id (a file, a symbolic
// link as a link, or a directory with everything below it) to w as a tar
// stream whose top entry is named after p's last element, as docker's
// GET /containers/{id}/archive. It works on a stopped container too. The
// errors are StatPath's.
func (e *Engine) CopyFrom(ctx context.Context, id ContainerID, p string, w io.Writer) error {
	return e.inRoot(ctx, id, func(root int) error {
		r, name, err := openParent(root, p)
		if err != nil {
			return err
		}
		defer r.Close()
		tw := tar.NewWriter(w)
		if err := tarcopy.Write(tw, r, name, tarcopy.Rename{}); err != nil {
			return fmt.Errorf("container path %s: %w", p, notFound(err))
		}
		return tw.Close()
	})
}

// CopyTo unpacks the tar stream r into the directory dir (absolute, in the
// container; symbolic links on the way are followed inside the container)
// of container id, running or not, as docker's PUT
// /containers/{id}/archive. errdefs.ErrNotFound when dir does not exist;
// errdefs.ErrInvalidArgument when it is not a directory, or for an entry
// that would replace a directory with a file or the reverse.
func (e *Engine) CopyTo(ctx context.Context, id ContainerID, dir string, r io.Reader, opt CopyToOptions) error {
	return e.inRoot(ctx, id, func(root int) error {
		fd, err := unix.Openat2(root, path.Clean("/"+dir), &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			return fmt.Errorf("container path %s: %w", dir, notFound(err))
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("container path %s: not a directory: %w", dir, errdefs.ErrInvalidArgument)
		}
		dst, err := os.OpenRoot(fdPath(fd))
		if err != nil {
			return err
		}
		defer dst.Close()
		if err := tarcopy.Extract(dst, r, tarcopy.Options{KeepOwner: opt.CopyUIDGID}); err != nil {
			return fmt.Errorf("container path %s: %w", dir, err)
		}
		return nil
	})
}

// Export writes the root filesystem of container id (its image's layers
// and its own changes, without volumes, binds or the kernel's filesystems)
// to w as a tar stream, as docker export. The container may be running or
// stopped; it is locked meanwhile (a stop waits for the export).
// errdefs.ErrNotFound for an unknown container.
func (e *Engine) Export(ctx context.Context, id ContainerID, w io.Writer) error {
	return e.withRootfs(ctx, id, func(rootfs string) error {
		r, err := os.OpenRoot(rootfs)
		if err != nil {
			return err
		}
		defer r.Close()
		tw := tar.NewWriter(w)
		if err := tarcopy.Write(tw, r, ".", tarcopy.Rename{}); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return tw.Close()
	})
}

// inRoot calls fn with an O_PATH descriptor of the root of container id: a
// running container's as its processes see it, else its root filesystem,
// mounted for the while.
func (e *Engine) inRoot(ctx context.Context, id ContainerID, fn func(root int) error) error {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	if _, st, err := e.readObserved(ctx, dir); err == nil && active(st.Status) {
		if pid, err := e.runningPid(ctx, string(id)); err == nil {
			root, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err == nil {
				defer unix.Close(root)
				// The PID may have been reused between reading it and opening its root.
				if again, err := e.runningPid(ctx, string(id)); err == nil && again == pid {
					return fn(root)
				}
			}
		}
	}
	return e.withRootfs(ctx, id, func(rootfs string) error {
		root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(root)
		return fn(root)
	})
}

// withRootfs calls fn with the directory of the root filesystem of
// container id (the overlay of its layers and its own changes), under the
// container's lock. When the overlay is not mounted (the container is not
// running) it is mounted for fn and unmounted after.
func (e *Engine) withRootfs(ctx context.Context, id ContainerID, fn func(rootfs string) error) (retErr error) {
	dir, rec, unlock, err := e.lockLiveContainer(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	rootfs := filepath.Join(dir, ctrstate.RootfsDir)
	mounted, err := mountinfo.Mounted(rootfs)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !mounted {
		layers, err := e.rootfsLayers(ctx, rec)
		if err != nil {
			return err
		}
		var extra []string
		if len(rec.Config.RootfsLayers) > 0 {
			extra = fullUpperOptions
		}
		if err := os.MkdirAll(rootfs, 0o755); err != nil {
			return err
		}
		if err := mountOverlay(layers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), rootfs, extra...); err != nil {
			return err
		}
		defer func() { retErr = errors.Join(retErr, unmount(rootfs)) }()
	}
	return fn(rootfs)
}

// openParent resolves the directory that holds p inside root and opens it
// as an *os.Root; name is p's last element there ("." for the root).
func openParent(root int, p string) (*os.Root, string, error) {
	p = path.Clean("/" + p)
	parent, name := path.Dir(p), path.Base(p)
	if p == "/" {
		name = "."
	}
	fd, err := unix.Openat2(root, parent, &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return nil, "", fmt.Errorf("container path %s: %w", p, notFound(err))
	}
	defer unix.Close(fd)
	r, err := os.OpenRoot(fdPath(fd))
	if err != nil {
		return nil, "", err
	}
	return r, name, nil
}

// statIn is StatPath inside root; a symbolic link's LinkTarget follows
// its chain (at most 40 links, as the kernel does).
func statIn(root int, p string) (PathStat, error) {
	p = path.Clean("/" + p)
	r, name, err := openParent(root, p)
	if err != nil {
		return PathStat{}, err
	}
	fi, err := r.Lstat(name)
	r.Close()
	if err != nil {
		return PathStat{}, fmt.Errorf("container path %s: %w", p, notFound(err))
	}
	st := PathStat{Name: path.Base(p), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	cur := p
	for range 40 {
		if fi.Mode()&fs.ModeSymlink == 0 {
			if cur != p {
				st.LinkTarget = cur
			}
			return st, nil
		}
		r, name, err := openParent(root, cur)
		if err != nil {
			return PathStat{}, err
		}
		target, err := r.Readlink(name)
		r.Close()
		if err != nil {
			return PathStat{}, err
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(cur), target)
		}
		cur = path.Clean(target)
		if r, name, err = openParent(root, cur); err != nil {
			return PathStat{}, err
		}
		fi, err = r.Lstat(name)
		r.Close()
		if err != nil {
			return PathStat{}, fmt.Errorf("container path %s: link to %s: %w", p, cur, notFound(err))
		}
	}
	return PathStat{}, fmt.Errorf("container path %s: too many levels of symbolic links: %w", p, errdefs.ErrInvalidArgument)
}

// fdPath names an open descriptor as a path that leads to what it is open on.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// notFound classes a missing path as errdefs.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOENT) {
		return withClass(err, errdefs.ErrNotFound)
	}
	if errors.Is(err, unix.ENOTDIR) {
		return withClass(err, errdefs.ErrInvalidArgument)
	}
	return err
}
