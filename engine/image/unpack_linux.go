package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// ErrUnsafeLayer classifies layer content that would write outside the layer
// directory or otherwise cannot be unpacked safely: "../" paths, symbolic
// links that point out of the layer, hard links to paths out of the layer,
// entries beneath a symbolic link.
var ErrUnsafeLayer = fmt.Errorf("unsafe layer (%w)", errdefs.ErrInvalidArgument)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."     // AUFS bookkeeping entries; skipped, as Docker does
	whiteoutOpaque = ".wh..wh..opq" // the directory hides the layers below
	opaqueXattr    = "trusted.overlay.opaque"
	paxXattr       = "SCHILY.xattr." // PAX record prefix carrying an extended attribute
	copyBufSize    = 1 << 20
)

// noOpenat2 is set once openat2(2) turned out to be unavailable (old kernel,
// seccomp); directory resolution then walks one component at a time.
var noOpenat2 atomic.Bool

// unpackOptions tune unpackLayer.
type unpackOptions struct {
	// chown keeps the owners recorded in the tarball; it needs root.
	chown bool
	// corrupt classifies errors reading the stream (truncated or malformed
	// tar), e.g. errdefs.ErrDataLoss for a stored blob or
	// errdefs.ErrInvalidArgument for user input.
	corrupt error
	// verify runs once the tar stream has ended and before the final
	// directory metadata is applied; it drains and checks digests.
	verify func() error
}

// unpackLayer extracts the layer tarball r into dir, an empty directory, for
// use as an overlayfs lower directory: OCI whiteouts become overlay
// whiteouts (".wh.NAME" → a 0/0 character device NAME, ".wh..wh..opq" →
// trusted.overlay.opaque=y on the directory). Owners, modes, times, extended
// attributes, hard and symbolic links, devices and fifos are kept.
//
// Nothing is ever written outside dir: every directory is resolved beneath
// dir without following symbolic links (openat2 RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS, or a component walk with O_NOFOLLOW), and entries that
// try to leave it are ErrUnsafeLayer errors, like Docker's breakout errors.
// On error dir is left in an undefined state for the caller to remove.
func unpackLayer(ctx context.Context, r io.Reader, dir string, opt unpackOptions) error {
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	u := &unpacker{
		root:    root,
		opt:     opt,
		buf:     make([]byte, copyBufSize),
		cacheFD: -1,
		dirIdx:  map[string]int{},
	}
	defer u.close()
	if opt.corrupt == nil {
		u.opt.corrupt = errdefs.ErrDataLoss
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return u.streamErr(err)
		}
		if err := u.entry(ctx, hdr, tr); err != nil {
			return err
		}
	}
	if opt.verify != nil {
		if err := opt.verify(); err != nil {
			return err
		}
	}
	return u.finishDirs()
}

// unpacker holds the state of one unpackLayer call. Not safe for concurrent
// use.
type unpacker struct {
	root int // fd of the layer directory
	opt  unpackOptions
	buf  []byte

	// One open directory, the parent of the last entry: tarballs list a
	// directory's entries together, so this saves most lookups.
	cacheRel string
	cacheFD  int // -1: none

	// Directory metadata is applied last, deepest first: creating entries
	// changes a directory's mtime, and a read-only mode would stop them.
	dirs   []dirMeta
	dirIdx map[string]int // rel → index in dirs
}

type dirMeta struct {
	rel string
	hdr *tar.Header // nil: the directory was replaced
}

func (u *unpacker) close() {
	u.setCache("", -1)
	_ = unix.Close(u.root)
}

func (u *unpacker) setCache(rel string, fd int) {
	if u.cacheFD >= 0 {
		_ = unix.Close(u.cacheFD)
	}
	u.cacheRel, u.cacheFD = rel, fd
}

func (u *unpacker) streamErr(err error) error {
	return fmt.Errorf("corrupt or truncated tarball: %w (%w)", err, u.opt.corrupt)
}

func unsafe(why string) error { return fmt.Errorf("%s: %w", why, ErrUnsafeLayer) }

// cleanName turns a tar entry name into a clean path relative to the layer
// root ("" for the root itself). An absolute name is taken as relative to the
// root, as Docker does; a name that climbs out of the root is an
// ErrUnsafeLayer error.
func cleanName(name string) (string, error) {
	p := path.Clean(name)
	if path.IsAbs(p) {
		p = strings.TrimLeft(p, "/") // Clean already dropped any leading ".."
	} else if p == ".." || strings.HasPrefix(p, "../") {
		return "", unsafe("path leads out of the layer")
	}
	if p == "." {
		p = ""
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", unsafe("path contains a NUL byte")
	}
	return p, nil
}

// split returns the parent directory ("" for the root) and base of a clean
// relative path.
func split(rel string) (string, string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

func (u *unpacker) entry(ctx context.Context, hdr *tar.Header, tr io.Reader) error {
	if err := u.entryErr(ctx, hdr, tr); err != nil {
		return fmt.Errorf("entry %q: %w", hdr.Name, err)
	}
	return nil
}

func (u *unpacker) entryErr(ctx context.Context, hdr *tar.Header, tr io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil // metadata for other entries, already folded in by archive/tar
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("the layer root must be a directory (%w)", u.opt.corrupt)
		}
		u.recordDir("", hdr)
		return nil
	}
	if strings.HasPrefix(rel, whiteoutMeta) && rel != whiteoutOpaque {
		return nil // AUFS bookkeeping at the root (.wh..wh.plnk, …), skipped as Docker does
	}
	parent, base := split(rel)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(parent, base)
	}
	pfd, err := u.dir(parent)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = u.mkdir(pfd, rel, base, hdr)
	case tar.TypeReg, tar.TypeGNUSparse:
		err = u.file(ctx, pfd, rel, base, hdr, tr)
	case tar.TypeSymlink:
		err = u.symlink(pfd, rel, base, hdr)
	case tar.TypeLink:
		err = u.hardlink(pfd, rel, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		err = u.mknod(pfd, rel, base, hdr)
	default:
		return fmt.Errorf("unsupported tar entry type %q (%w)", hdr.Typeflag, u.opt.corrupt)
	}
	return err
}

// dir returns an fd for the directory rel (creating missing directories, mode
// 0755, like Docker), owned by the unpacker's cache: the caller must not
// close it, and it stays valid until the next call of dir or clear.
func (u *unpacker) dir(rel string) (int, error) {
	if rel == "" {
		return u.root, nil
	}
	if u.cacheFD >= 0 && u.cacheRel == rel {
		return u.cacheFD, nil
	}
	fd, err := u.openDir(rel, true)
	if err != nil {
		return -1, err
	}
	u.setCache(rel, fd)
	return fd, nil
}

// openDir opens the directory rel beneath the root without following any
// symbolic link; the caller closes the fd.
func (u *unpacker) openDir(rel string, create bool) (int, error) {
	if !noOpenat2.Load() {
		fd, err := unix.Openat2(u.root, rel, &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			noOpenat2.Store(true) // not available here; walk instead
		case errors.Is(err, unix.ENOENT) && create:
			// walk creates what is missing
		default:
			return -1, dirErr(rel, err)
		}
	}
	return u.walk(rel, create)
}

// walk opens rel one component at a time with O_NOFOLLOW, creating missing
// directories when create is set.
func (u *unpacker) walk(rel string, create bool) (int, error) {
	cur := u.root
	closeCur := func() {
		if cur != u.root {
			_ = unix.Close(cur)
		}
	}
	for c := range strings.SplitSeq(rel, "/") {
		const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		fd, err := unix.Openat(cur, c, flags, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(cur, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				fd, err = unix.Openat(cur, c, flags, 0)
			}
		}
		if errors.Is(err, unix.ENOTDIR) {
			// O_NOFOLLOW|O_DIRECTORY on a symbolic link fails with ENOTDIR.
			var st unix.Stat_t
			if unix.Fstatat(cur, c, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		if err != nil {
			closeCur()
			return -1, dirErr(rel, err)
		}
		closeCur()
		cur = fd
	}
	return cur, nil
}

func dirErr(rel string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return unsafe(fmt.Sprintf("%q is a symbolic link, or leads out of the layer", rel))
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%q is not a directory: %w", rel, errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("open directory %q: %w", rel, err)
}

// clear removes whatever is at base in the directory pfd (rel is its path
// from the root), so that an entry can take its place.
func (u *unpacker) clear(pfd int, rel, base string) error {
	if u.cacheFD >= 0 && (u.cacheRel == rel || strings.HasPrefix(u.cacheRel, rel+"/")) {
		u.setCache("", -1)
	}
	err := unix.Unlinkat(pfd, base, 0)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
		u.dropDirs(rel)
		// RemoveAll resolves the parent through the fd and never follows a
		// symbolic link beneath it.
		err = os.RemoveAll("/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("replace %q: %w", rel, err)
	}
	return nil
}

// create runs mk; when the name is taken it clears it and runs mk again.
func (u *unpacker) create(pfd int, rel, base string, mk func() error) error {
	err := mk()
	if errors.Is(err, unix.EEXIST) {
		if err := u.clear(pfd, rel, base); err != nil {
			return err
		}
		err = mk()
	}
	return err
}

func (u *unpacker) recordDir(rel string, hdr *tar.Header) {
	if i, ok := u.dirIdx[rel]; ok {
		u.dirs[i].hdr = hdr
		return
	}
	u.dirIdx[rel] = len(u.dirs)
	u.dirs = append(u.dirs, dirMeta{rel: rel, hdr: hdr})
}

// dropDirs forgets the recorded metadata of rel and everything below it,
// which is being removed.
func (u *unpacker) dropDirs(rel string) {
	for k, i := range u.dirIdx {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			u.dirs[i].hdr = nil
			delete(u.dirIdx, k)
		}
	}
}

func (u *unpacker) mkdir(pfd int, rel, base string, hdr *tar.Header) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err = u.clear(pfd, rel, base); err == nil {
				err = unix.Mkdirat(pfd, base, 0o700)
			}
		}
		// An existing directory is merged with this entry.
	}
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	u.recordDir(rel, hdr)
	return nil
}

func (u *unpacker) file(ctx context.Context, pfd int, rel, base string, hdr *tar.Header, tr io.Reader) error {
	var fd int
	err := u.create(pfd, rel, base, func() (err error) {
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	err = u.copyData(ctx, fd, tr)
	if err == nil && u.opt.chown {
		err = unix.Fchown(fd, hdr.Uid, hdr.Gid)
	}
	if err == nil {
		err = unix.Fchmod(fd, mode(hdr))
	}
	if err == nil {
		err = setXattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) })
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		return err
	}
	return setTimes(pfd, base, hdr)
}

// copyData copies the entry's content into fd.
func (u *unpacker) copyData(ctx context.Context, fd int, tr io.Reader) error {
	for {
		n, rerr := tr.Read(u.buf)
		for b := u.buf[:n]; len(b) > 0; {
			w, err := unix.Write(fd, b)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
			b = b[w:]
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return u.streamErr(rerr)
		}
		if n == len(u.buf) {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
		}
	}
}

func (u *unpacker) symlink(pfd int, rel, base string, hdr *tar.Header) error {
	// A relative target that climbs out of the layer is refused, as Docker
	// does; an absolute one is resolved against the container's root.
	if t := hdr.Linkname; !path.IsAbs(t) {
		if p := path.Join(path.Dir(rel), t); p == ".." || strings.HasPrefix(p, "../") {
			return unsafe(fmt.Sprintf("symbolic link target %q leads out of the layer", t))
		}
	}
	if hdr.Linkname == "" {
		return fmt.Errorf("empty symbolic link target (%w)", u.opt.corrupt)
	}
	if err := u.create(pfd, rel, base, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) }); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return u.setMeta(pfd, base, hdr, false)
}

func (u *unpacker) hardlink(pfd int, rel, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return unsafe(fmt.Sprintf("hard link target %q leads out of the layer", hdr.Linkname))
	}
	if target == "" || target == rel {
		return fmt.Errorf("bad hard link target %q (%w)", hdr.Linkname, u.opt.corrupt)
	}
	tparent, tbase := split(target)
	tfd := u.root
	if tparent != "" {
		if tfd, err = u.openDir(tparent, false); err != nil {
			return err
		}
		defer unix.Close(tfd)
	}
	// linkat without AT_SYMLINK_FOLLOW links a symbolic link itself, never
	// what it points to.
	if err := u.create(pfd, rel, base, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) }); err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

func (u *unpacker) mknod(pfd int, rel, base string, hdr *tar.Header) error {
	m := mode(hdr)
	switch hdr.Typeflag {
	case tar.TypeChar:
		m |= unix.S_IFCHR
	case tar.TypeBlock:
		m |= unix.S_IFBLK
	default:
		m |= unix.S_IFIFO
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := u.create(pfd, rel, base, func() error { return unix.Mknodat(pfd, base, m, int(dev)) }); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return u.setMeta(pfd, base, hdr, true)
}

// whiteout converts an OCI whiteout entry into its overlayfs form.
func (u *unpacker) whiteout(parent, base string) error {
	pfd, err := u.dir(parent)
	if err != nil {
		return err
	}
	switch {
	case base == whiteoutOpaque:
		if err := unix.Fsetxattr(pfd, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark directory opaque: %w", err)
		}
		return nil
	case strings.HasPrefix(base, whiteoutMeta):
		return nil
	}
	name := base[len(whiteoutPrefix):]
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("bad whiteout (%w)", u.opt.corrupt)
	}
	rel := path.Join(parent, name)
	if err := u.create(pfd, rel, name, func() error { return unix.Mknodat(pfd, name, unix.S_IFCHR, 0) }); err != nil {
		return fmt.Errorf("whiteout: %w", err)
	}
	return nil
}

// setMeta applies owner, mode, extended attributes and times, in that order
// (chown clears setuid bits and security.capability), to base in pfd.
func (u *unpacker) setMeta(pfd int, base string, hdr *tar.Header, chmod bool) error {
	if u.opt.chown {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if chmod {
		// No AT_SYMLINK_NOFOLLOW for fchmodat: base is a directory, device
		// or fifo made by this unpacker, never a symbolic link.
		if err := unix.Fchmodat(pfd, base, mode(hdr), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	p := "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
	if err := setXattrs(hdr, func(k string, v []byte) error { return unix.Lsetxattr(p, k, v, 0) }); err != nil {
		return err
	}
	return setTimes(pfd, base, hdr)
}

// finishDirs applies the recorded directory metadata, deepest first.
func (u *unpacker) finishDirs() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		if d.hdr == nil {
			continue
		}
		pfd, base := u.root, "."
		if d.rel != "" {
			parent, b := split(d.rel)
			fd, err := u.dir(parent)
			if err != nil {
				return fmt.Errorf("entry %q: %w", d.hdr.Name, err)
			}
			pfd, base = fd, b
		}
		if err := u.setMeta(pfd, base, d.hdr, true); err != nil {
			return fmt.Errorf("entry %q: %w", d.hdr.Name, err)
		}
	}
	return nil
}

// mode returns the permission bits of hdr, with setuid, setgid and sticky.
func mode(hdr *tar.Header) uint32 { return uint32(hdr.Mode) & 0o7777 }

// setXattrs sets the extended attributes recorded in hdr's PAX records.
// overlayfs' own trusted.overlay.* attributes are not taken from a tarball:
// they would let a layer steer the overlay mount (redirects, origins).
// Attributes the file system does not support are skipped, as Docker does.
func setXattrs(hdr *tar.Header, set func(string, []byte) error) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattr)
		if !ok || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		if err := set(name, []byte(v)); err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				continue
			}
			return fmt.Errorf("set extended attribute %s: %w", name, err)
		}
	}
	return nil
}

// setTimes sets the access and modification times of base in pfd, without
// following a symbolic link.
func setTimes(pfd int, base string, hdr *tar.Header) error {
	mtime := hdr.ModTime
	atime := hdr.AccessTime
	if atime.Before(mtime) {
		atime = mtime
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Sec: 0}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// UnpackLayer extracts the uncompressed layer tarball r into dir, an empty
// directory, as the store unpacks its own layers: OCI whiteouts become
// overlay whiteouts, owners are kept, and nothing is written outside dir
// (ErrUnsafeLayer). For layers kept outside the store, such as a builder's.
// On error dir is left in an undefined state for the caller to remove.
func UnpackLayer(ctx context.Context, r io.Reader, dir string) error {
	return unpackLayer(ctx, r, dir, unpackOptions{chown: os.Geteuid() == 0, corrupt: errdefs.ErrInvalidArgument})
}
