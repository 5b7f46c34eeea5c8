package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// SyncPath is one path to bring up to date in a container: Dst becomes what
// Src is on the host now. A Src that no longer exists removes Dst (a whole
// directory tree too); a directory makes Dst a directory (its content is
// not copied: name each file); a symbolic link is copied as a link; a
// regular file's content and mode are copied.
type SyncPath struct {
	Src string // host path, absolute
	Dst string // path in the container, absolute
}

// SyncOptions tune SyncFiles.
type SyncOptions struct {
	// SkipUnchanged leaves a regular file alone when the container's copy
	// has the host file's size, mode and modification time (initial sync).
	SkipUnchanged bool
}

// SyncResult counts what SyncFiles did. Failed holds one error per path
// that could not be synced (an unreadable host file, a destination that
// cannot be written); the other paths were synced all the same.
type SyncResult struct {
	Copied, Removed, Unchanged int
	Failed                     []error
}

// SyncFiles writes paths straight into the filesystem of the running
// container id, as its processes see it (volumes and binds included),
// through /proc/<pid>/root with every path resolved inside the container's
// root (openat2 RESOLVE_IN_ROOT), so a symbolic link in the container can
// never lead outside it. Written files land in the container's writable
// layer and survive a stop and start. No tool of the image is needed.
//
// Files and the directories made for them belong to the container's user
// (its uid and primary gid, as Docker's copyUIDGID), with the host file's
// permission bits and modification time. A file is written to a temporary
// name and renamed over Dst, so the container never sees it half-written.
//
// errdefs.ErrNotFound for an unknown container; ErrFailedPrecondition when
// it is not running. Problems with single paths are in SyncResult.Failed.
// Safe for concurrent use.
func (e *Engine) SyncFiles(ctx context.Context, id ContainerID, paths []SyncPath, opt SyncOptions) (SyncResult, error) {
	var res SyncResult
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return res, err
	}
	if rec == nil {
		return res, fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	pid, err := e.runningPid(ctx, string(id))
	if err != nil {
		return res, err
	}
	root, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return res, fmt.Errorf("container %q: open its root: %w", rec.Config.Name, withClass(err, errdefs.ErrFailedPrecondition))
	}
	defer unix.Close(root)
	// The PID may have been reused between reading it and opening its root.
	if again, err := e.runningPid(ctx, string(id)); err != nil || again != pid {
		return res, fmt.Errorf("container %q stopped while syncing: %w", rec.Config.Name, errdefs.ErrFailedPrecondition)
	}
	user, err := resolveUserInRootfs(filepath.Join(dir, ctrstate.RootfsDir), userSpec(rec))
	if err != nil {
		return res, fmt.Errorf("container %q: user %q: %w", rec.Config.Name, userSpec(rec), err)
	}
	s := syncer{root: root, uid: int(user.UID), gid: int(user.GID), opt: opt}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return res, context.Cause(ctx)
		}
		if err := s.sync(p, &res); err != nil {
			res.Failed = append(res.Failed, err)
		}
	}
	return res, nil
}

// syncer writes into one container's root, an O_PATH fd.
type syncer struct {
	root     int
	uid, gid int
	opt      SyncOptions
}

// syncSeq makes the temporary names unique within this process.
var syncSeq atomic.Uint64

func (s *syncer) sync(p SyncPath, res *SyncResult) error {
	dst := path.Clean("/" + p.Dst)
	if dst == "/" {
		return fmt.Errorf("%s: cannot replace the container's root", p.Src)
	}
	fi, err := os.Lstat(p.Src)
	if errors.Is(err, os.ErrNotExist) {
		parent, err := s.openDir(path.Dir(dst), false)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil // nothing there to remove
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", dst, err)
		}
		defer unix.Close(parent)
		removed, err := removeAt(parent, path.Base(dst))
		if err != nil {
			return fmt.Errorf("remove %s: %w", dst, err)
		}
		if removed {
			res.Removed++
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p.Src, err)
	}
	if fi.IsDir() {
		fd, err := s.openDir(dst, true)
		if err != nil {
			return fmt.Errorf("mkdir %s: %w", dst, err)
		}
		return unix.Close(fd)
	}
	parent, err := s.openDir(path.Dir(dst), true)
	if err != nil {
		return fmt.Errorf("mkdir %s: %w", path.Dir(dst), err)
	}
	defer unix.Close(parent)
	name := path.Base(dst)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		err = s.link(parent, name, p.Src)
	case fi.Mode().IsRegular():
		var skipped bool
		skipped, err = s.file(parent, name, p.Src, fi)
		if skipped {
			res.Unchanged++
			return nil
		}
	default:
		return fmt.Errorf("%s: not a regular file, directory or link; not synced", p.Src)
	}
	if err != nil {
		return fmt.Errorf("%s -> %s: %w", p.Src, dst, err)
	}
	res.Copied++
	return nil
}

// openDir opens the directory rel of the container's root (resolved as
// inside it), making it and its missing parents when create is set.
func (s *syncer) openDir(rel string, create bool) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(s.root, rel, how)
	if err == nil || !create || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent := path.Dir(rel)
	if parent == rel {
		return -1, err
	}
	pfd, err := s.openDir(parent, true)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	name := path.Base(rel)
	if err := unix.Mkdirat(pfd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	if err := unix.Fchownat(pfd, name, s.uid, s.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, err
	}
	return unix.Openat2(pfd, name, &unix.OpenHow{Flags: how.Flags, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
}

// file copies the regular file src to name in parent; skipped when
// SkipUnchanged and the copy there matches. The copy is written as an
// unnamed file (O_TMPFILE) and given its name only once complete, so a
// berth killed while it writes leaves nothing behind in the container;
// where the filesystem has no O_TMPFILE, through a temporary name.
func (s *syncer) file(parent int, name, src string, fi os.FileInfo) (skipped bool, err error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, fmt.Errorf("%s: no stat", src)
	}
	if s.opt.SkipUnchanged {
		var cur unix.Stat_t
		if unix.Fstatat(parent, name, &cur, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			cur.Mode&unix.S_IFMT == unix.S_IFREG && cur.Size == fi.Size() && cur.Mode&0o7777 == st.Mode&0o7777 &&
			cur.Mtim.Sec == st.Mtim.Sec && cur.Mtim.Nsec == st.Mtim.Nsec {
			return true, nil
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer in.Close()
	fd, err := unix.Openat(parent, ".", unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
		return false, s.namedFile(parent, name, in, st)
	}
	if err != nil {
		return false, err
	}
	out := os.NewFile(uintptr(fd), name)
	defer out.Close()
	self := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := s.fill(out, in, st, func(ts []unix.Timespec) error { return unix.UtimesNanoAt(unix.AT_FDCWD, self, ts, 0) }); err != nil {
		return false, err
	}
	err = unix.Linkat(unix.AT_FDCWD, self, parent, name, unix.AT_SYMLINK_FOLLOW)
	if !errors.Is(err, unix.EEXIST) {
		return false, err
	}
	// Something is there: link under a temporary name, renamed over it.
	tmp := syncTempName()
	if err := unix.Linkat(unix.AT_FDCWD, self, parent, tmp, unix.AT_SYMLINK_FOLLOW); err != nil {
		return false, err
	}
	if err := s.replace(parent, tmp, name); err != nil {
		return false, errors.Join(err, ignoreENOENT(unix.Unlinkat(parent, tmp, 0)))
	}
	return false, nil
}

// namedFile writes in to name in parent through a temporary name.
func (s *syncer) namedFile(parent int, name string, in *os.File, st *syscall.Stat_t) (err error) {
	tmp := syncTempName()
	fd, err := unix.Openat(parent, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(fd), tmp)
	defer func() {
		if err != nil {
			_ = unix.Unlinkat(parent, tmp, 0)
		}
	}()
	err = s.fill(out, in, st, func(ts []unix.Timespec) error { return unix.UtimesNanoAt(parent, tmp, ts, unix.AT_SYMLINK_NOFOLLOW) })
	if err = errors.Join(err, out.Close()); err != nil {
		return err
	}
	return s.replace(parent, tmp, name)
}

// fill copies in to out and gives out the container user's ownership and
// st's permission bits; setTimes then gives it st's times.
func (s *syncer) fill(out, in *os.File, st *syscall.Stat_t, setTimes func([]unix.Timespec) error) error {
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	fd := int(out.Fd())
	// chown first: it clears set-user-ID and set-group-ID bits.
	return errors.Join(unix.Fchown(fd, s.uid, s.gid), unix.Fchmod(fd, st.Mode&0o7777),
		setTimes([]unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}))
}

func syncTempName() string {
	return ".berth-sync-" + strconv.FormatUint(syncSeq.Add(1), 36) + "-" + strconv.Itoa(os.Getpid())
}

func ignoreENOENT(err error) error {
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// link makes name in parent a symbolic link with src's target.
func (s *syncer) link(parent int, name, src string) (err error) {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	tmp := syncTempName()
	if err := unix.Symlinkat(target, parent, tmp); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = unix.Unlinkat(parent, tmp, 0)
		}
	}()
	if err := unix.Fchownat(parent, tmp, s.uid, s.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return s.replace(parent, tmp, name)
}

// replace renames tmp over name; a directory in the way is removed first.
func (s *syncer) replace(parent int, tmp, name string) error {
	err := unix.Renameat(parent, tmp, parent, name)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		if _, rerr := removeAt(parent, name); rerr != nil {
			return rerr
		}
		err = unix.Renameat(parent, tmp, parent, name)
	}
	return err
}

// removeAt removes name in dir, with everything below it if it is a
// directory; false when there was nothing to remove.
func removeAt(dir int, name string) (bool, error) {
	err := unix.Unlinkat(dir, name, 0)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case !errors.Is(err, unix.EISDIR):
		return false, err
	}
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	for {
		names, err := f.Readdirnames(256)
		for _, n := range names {
			if _, err := removeAt(fd, n); err != nil {
				return false, err
			}
		}
		if errors.Is(err, io.EOF) || len(names) == 0 {
			break
		}
		if err != nil {
			return false, err
		}
	}
	if err := unix.Unlinkat(dir, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return false, err
	}
	return true, nil
}
