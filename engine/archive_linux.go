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
	"strings"
	"time"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// PathStat describes a path in a container's filesystem, as docker's
// container.PathStat and its X-Docker-Container-Path-Stat header: LinkTarget
// is, for a symbolic link, the path (in the container) of what it finally
// leads to.
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       fs.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// CopyInOptions tune CopyIn.
type CopyInOptions struct {
	// CopyUIDGID gives what is written to the container's user (its uid and
	// primary gid) instead of the archive's owners.
	CopyUIDGID bool
	// NoOverwriteDirNonDir refuses to replace a directory by a non-directory
	// or the other way round.
	NoOverwriteDirNonDir bool
	// MaxBytes bounds the archive's file content (0: no bound);
	// errdefs.ErrInvalidArgument past it.
	MaxBytes int64
}

// containerRoot is a container's filesystem opened for copying: root is an
// O_PATH descriptor of its root directory.
type containerRoot struct {
	syncer
	name    string
	release func() error
}

// openRoot opens the filesystem of container ref as its processes see it:
// through /proc/<pid>/root when it runs (volumes and binds included), else
// its overlay, mounted for the copy under the container's lock (its
// writable layer only: what it writes lands there and stays).
func (e *Engine) openRoot(ctx context.Context, ref string) (_ *containerRoot, retErr error) {
	dir, rec, unlock, err := e.lockRecord(ctx, ref)
	if err != nil {
		return nil, err
	}
	releases := []func() error{func() error { unlock(); return nil }}
	release := func() error {
		var errs []error
		for i := len(releases) - 1; i >= 0; i-- {
			errs = append(errs, releases[i]())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, release())
		}
	}()
	rootfs := filepath.Join(dir, ctrstate.RootfsDir)
	var rootPath string
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	if (st.Status == StatusRunning || st.Status == StatusPaused) && st.Pid > 0 {
		rootPath = "/proc/" + strconv.Itoa(st.Pid) + "/root"
	} else {
		mounted, err := mountinfo.Mounted(rootfs)
		if err != nil {
			return nil, err
		}
		if !mounted {
			layers, err := e.rootfsLayers(ctx, rec)
			if err != nil {
				return nil, err
			}
			var extra []string
			if len(rec.Config.RootfsLayers) > 0 {
				extra = fullUpperOptions
			}
			if err := mountOverlay(layers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), rootfs, extra...); err != nil {
				return nil, err
			}
			releases = append(releases, func() error { return unmount(rootfs) })
		}
		rootPath = rootfs
	}
	fd, err := unix.Open(rootPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("container %q: open its root: %w", rec.Config.Name, withClass(err, errdefs.ErrFailedPrecondition))
	}
	releases = append(releases, func() error { return unix.Close(fd) })
	user, err := resolveUserInRootfs(rootfs, userSpec(rec))
	if err != nil {
		return nil, fmt.Errorf("container %q: user %q: %w", rec.Config.Name, userSpec(rec), err)
	}
	return &containerRoot{syncer: syncer{root: fd, uid: int(user.UID), gid: int(user.GID)}, name: rec.Config.Name, release: release}, nil
}

// inRoot is how a path of the container is resolved: inside its root, so
// that no symbolic link or ".." leads out of it.
var inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// pathError classes an error of a path in a container: NotFound for a
// missing one, InvalidArgument for a non-directory where a directory is
// needed.
func pathError(ctr, p string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("Could not find the file %s in container %s: %w", p, ctr, errdefs.ErrNotFound)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("container %s: %s: not a directory: %w", ctr, p, errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("container %s: %s: %w", ctr, p, err)
}

// statAt describes the entry p (its last element not followed); for a
// symbolic link, LinkTarget is the path that what it leads to finally has,
// every link on the way resolved inside the root (as dockerd's stat
// answers); a link to nothing names the path it would have.
func (r *containerRoot) statAt(p string) (PathStat, error) {
	st, err := r.lstatAt(p)
	if err != nil || st.LinkTarget == "" {
		return st, err
	}
	root := fdPath(r.root)
	full, err := securejoin.SecureJoin(root, path.Clean("/"+p))
	if err != nil {
		return PathStat{}, pathError(r.name, p, err)
	}
	st.LinkTarget = path.Clean("/" + strings.TrimPrefix(full, root))
	return st, nil
}

// lstatAt describes the entry p, its last element not followed; a
// symbolic link's LinkTarget is its own target, made absolute.
func (r *containerRoot) lstatAt(p string) (PathStat, error) {
	clean := path.Clean("/" + p)
	parent, err := unix.Openat2(r.root, path.Dir(clean), &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: uint64(inRoot)})
	if err != nil {
		return PathStat{}, pathError(r.name, p, err)
	}
	defer unix.Close(parent)
	base := path.Base(clean)
	var st unix.Stat_t
	if clean == "/" {
		err = unix.Fstat(parent, &st)
	} else {
		err = unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return PathStat{}, pathError(r.name, p, err)
	}
	ps := PathStat{Name: base, Size: st.Size, Mode: fileMode(st.Mode), Mtime: time.Unix(st.Mtim.Unix())}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		target, err := readlinkAt(parent, base)
		if err != nil {
			return PathStat{}, pathError(r.name, p, err)
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(clean), target)
		}
		ps.LinkTarget = target
	}
	return ps, nil
}

// CopyOut writes path p of container ref to w as a tar archive whose
// entries are named from p's last element (its content alone when p ends
// in "/."), and returns p's description. A symbolic link is archived as a
// link. The archive is written after the description is returned through
// stat, so a caller can send it first. errdefs.ErrNotFound for a missing
// container or path.
func (e *Engine) CopyOut(ctx context.Context, ref, p string, stat func(PathStat) error, w io.Writer) error {
	r, err := e.openRoot(ctx, ref)
	if err != nil {
		return err
	}
	defer r.release()
	st, err := r.statAt(p)
	if err != nil {
		return err
	}
	if err := stat(st); err != nil {
		return err
	}
	clean := path.Clean("/" + p)
	name := st.Name
	if strings.HasSuffix(p, "/.") {
		name = "."
	}
	if clean == "/" && name == "/" {
		name = "."
	}
	parent, err := unix.Openat2(r.root, path.Dir(clean), &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: uint64(inRoot)})
	if err != nil {
		return pathError(r.name, p, err)
	}
	defer unix.Close(parent)
	base := path.Base(clean)
	if clean == "/" {
		base = "."
	}
	tw := tar.NewWriter(w)
	if err := addToTar(ctx, tw, parent, base, name); err != nil {
		return err
	}
	return tw.Close()
}

// addToTar archives entry base of dir (not followed) as name, and what is
// below it if it is a directory.
func addToTar(ctx context.Context, tw *tar.Writer, dir int, base, name string) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()), Format: tar.FormatPAX}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		target, err := readlinkAt(dir, base)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // a socket: not archived, as Docker
	}
	if hdr.Typeflag == tar.TypeReg {
		fd, err := unix.Openat(dir, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.CopyN(tw, f, st.Size)
		return err
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeDir {
		return nil
	}
	fd, err := unix.Openat(dir, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := addToTar(ctx, tw, fd, n, path.Join(name, n)); err != nil {
			return err
		}
	}
	return nil
}

// CopyIn extracts the tar archive r into directory dst of container ref, as
// `docker cp` does: entries keep their modes, owners (the container's user
// with CopyUIDGID) and modification times; an existing file is replaced.
// Every entry's name and every link in the container are resolved inside
// the container's root: nothing is written outside it. errdefs.ErrNotFound
// for a missing container or dst; ErrInvalidArgument for a dst that is not
// a directory, or an archive that is malformed or too large.
func (e *Engine) CopyIn(ctx context.Context, ref, dst string, r io.Reader, opt CopyInOptions) error {
	root, err := e.openRoot(ctx, ref)
	if err != nil {
		return err
	}
	defer root.release()
	return root.extract(ctx, dst, r, opt)
}

// ExtractArchive extracts the tar archive r into the host directory dir
// (a build context sent to the API), as CopyIn does into a container:
// every entry's name and every link is resolved inside dir, so nothing is
// written outside it.
func ExtractArchive(ctx context.Context, dir string, r io.Reader, opt CopyInOptions) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	root := &containerRoot{syncer: syncer{root: fd, uid: os.Getuid(), gid: os.Getgid()}, name: dir}
	return root.extract(ctx, "/", r, opt)
}

// extract extracts the tar archive r into directory dst of the root.
func (root *containerRoot) extract(ctx context.Context, dst string, r io.Reader, opt CopyInOptions) error {
	dst = path.Clean("/" + dst)
	d, err := unix.Openat2(root.root, dst, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: uint64(inRoot)})
	if err != nil {
		return pathError(root.name, dst, err)
	}
	unix.Close(d)
	x := extractor{containerRoot: root, dst: dst, opt: opt}
	tr := tar.NewReader(r)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("archive: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		total += hdr.Size
		if opt.MaxBytes > 0 && total > opt.MaxBytes {
			return fmt.Errorf("archive: more than %d bytes: %w", opt.MaxBytes, errdefs.ErrInvalidArgument)
		}
		// The name is cleaned as if rooted: "../x" is dst/x.
		target := path.Join(dst, path.Clean("/"+hdr.Name))
		if target == dst {
			continue // the archive's "./"
		}
		if err := x.entry(target, hdr, tr); err != nil {
			return fmt.Errorf("archive: %s: %w", hdr.Name, err)
		}
	}
	return nil
}

// extractor writes archive entries into a container's root.
type extractor struct {
	*containerRoot
	dst string // the directory extracted into
	opt CopyInOptions
}

func (x *extractor) entry(target string, hdr *tar.Header, r io.Reader) error {
	parent, err := x.openDir(path.Dir(target), true)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	name := path.Base(target)
	uid, gid := hdr.Uid, hdr.Gid
	if x.opt.CopyUIDGID {
		uid, gid = x.uid, x.gid
	}
	mode := uint32(hdr.Mode & 0o7777)
	var cur unix.Stat_t
	exists := unix.Fstatat(parent, name, &cur, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := exists && cur.Mode&unix.S_IFMT == unix.S_IFDIR
	if x.opt.NoOverwriteDirNonDir && exists && isDir != (hdr.Typeflag == tar.TypeDir) {
		return fmt.Errorf("cannot overwrite %s with %s: %w", kindOf(isDir), kindOf(!isDir), errdefs.ErrInvalidArgument)
	}
	if hdr.Typeflag == tar.TypeDir {
		if exists && !isDir {
			if _, err := removeAt(parent, name); err != nil {
				return err
			}
		}
		if err := unix.Mkdirat(parent, name, mode); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		return x.finish(parent, name, uid, gid, mode, hdr.ModTime, true)
	}
	tmp := ".berth-cp-" + strconv.FormatUint(syncSeq.Add(1), 36) + "-" + strconv.Itoa(os.Getpid())
	switch hdr.Typeflag {
	case tar.TypeReg:
		fd, err := unix.Openat(parent, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), tmp)
		_, err = io.Copy(f, r)
		if err = errors.Join(err, f.Close()); err != nil {
			_ = unix.Unlinkat(parent, tmp, 0)
			return err
		}
	case tar.TypeSymlink:
		err = unix.Symlinkat(hdr.Linkname, parent, tmp)
	case tar.TypeLink:
		// The link's target is another entry of the archive, under dst.
		src := path.Join(x.dst, path.Clean("/"+hdr.Linkname))
		var sfd int
		sfd, err = unix.Openat2(x.root, src, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: uint64(inRoot)})
		if err == nil {
			err = unix.Linkat(sfd, "", parent, tmp, unix.AT_EMPTY_PATH)
			unix.Close(sfd)
		}
		if err == nil {
			return x.replace(parent, tmp, name)
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		err = unix.Mknodat(parent, tmp, typ|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	default:
		return nil // pax headers and the like carry nothing to write
	}
	if err != nil {
		return err
	}
	if err := x.finish(parent, tmp, uid, gid, mode, hdr.ModTime, hdr.Typeflag != tar.TypeSymlink); err != nil {
		_ = unix.Unlinkat(parent, tmp, 0)
		return err
	}
	return x.replace(parent, tmp, name)
}

// finish gives name in parent its owner, mode (unless a link) and
// modification time.
func (x *extractor) finish(parent int, name string, uid, gid int, mode uint32, mtime time.Time, chmod bool) error {
	// chown first: it clears set-user-ID and set-group-ID bits.
	if err := unix.Fchownat(parent, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if chmod {
		if err := unix.Fchmodat(parent, name, mode, 0); err != nil {
			return err
		}
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	return unix.UtimesNanoAt(parent, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

func kindOf(dir bool) string {
	if dir {
		return "a directory"
	}
	return "a non-directory"
}

// readlinkAt reads the symbolic link name in dir.
func readlinkAt(dir int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// fileMode converts a stat mode to Go's.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
