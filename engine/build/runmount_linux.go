package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/flock"
)

// bindSource is where a RUN --mount=type=bind reads: the build context, a
// stage built earlier, or an image; sum stands for its content in the
// step's cache key.
type bindSource struct {
	rel   string      // the source, relative to the context or the root
	ctx   *srcTree    // the build context, or nil
	stage *stageState // a stage, or nil
	img   *image.Image
	sum   string
}

// runSources checks that the step may run as it asks (entitlements,
// required secrets and agents) and resolves its bind mounts' sources,
// before the cache is looked up: the returned sum covers their content
// (the context's files, a stage's key, an image's ID), never a cache's,
// a tmpfs's or a secret's.
func (r *run) runSources(ctx context.Context, s *Stage, rs *runStep) (string, error) {
	if rs.Network == "host" && !r.allowed(AllowNetworkHost) {
		return "", fmt.Errorf("RUN --network=host needs the %s entitlement: build with --network host or --allow %s: %w", AllowNetworkHost, AllowNetworkHost, errdefs.ErrPermissionDenied)
	}
	if rs.Security == "insecure" && !r.allowed(AllowSecurityInsecure) {
		return "", fmt.Errorf("RUN --security=insecure needs the %s entitlement: build with --allow %s (Compose: build.privileged): %w", AllowSecurityInsecure, AllowSecurityInsecure, errdefs.ErrPermissionDenied)
	}
	rs.binds = nil
	var sums []string
	for _, m := range rs.Mounts {
		switch m.Type {
		case "secret":
			if _, ok := r.secret(m.ID); !ok && m.Required {
				return "", fmt.Errorf("--mount=type=secret,id=%s: the secret is required but was not given (--secret id=%s,src=PATH): %w", m.ID, m.ID, errdefs.ErrNotFound)
			}
		case "ssh":
			if _, ok := r.opt.SSH[m.ID]; !ok && m.Required {
				return "", fmt.Errorf("--mount=type=ssh,id=%s: the agent is required but was not given (--ssh %s=SOCKET): %w", m.ID, m.ID, errdefs.ErrNotFound)
			}
		case "bind", "cache":
			if m.Type == "cache" && m.From == "" {
				continue
			}
			b, err := r.bindSource(ctx, s, m)
			if err != nil {
				return "", err
			}
			rs.binds = append(rs.binds, b)
			sums = append(sums, b.sum)
		}
	}
	if len(sums) == 0 {
		return "", nil
	}
	return "binds:" + strings.Join(sums, ","), nil
}

func (r *run) allowed(ent string) bool {
	return slices.Contains(r.opt.Allow, ent) || (ent == AllowNetworkHost && r.opt.Network == "host")
}

func (r *run) secret(id string) (Secret, bool) {
	for _, s := range r.opt.Secrets {
		if s.ID == id {
			return s, true
		}
	}
	return Secret{}, false
}

func (r *run) bindSource(ctx context.Context, s *Stage, m runMount) (*bindSource, error) {
	b := &bindSource{rel: m.Source}
	what := "--mount=type=bind,from=" + m.From
	local, err := r.localContext(m.From)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case m.From == "" || local != nil:
		t := r.ctxDir
		if local != nil {
			t = local
		} else {
			what = "--mount=type=bind,source=" + m.Source
		}
		p, err := securejoin.SecureJoin(t.root, m.Source)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		rel, err := filepath.Rel(t.root, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if rel = filepath.ToSlash(rel); rel == "." {
			rel = ""
		}
		if _, err := os.Lstat(p); err != nil || t.ignored(rel) {
			return nil, fmt.Errorf("%s: %q: not found in the %s: %w", what, m.Source, t.what, errdefs.ErrNotFound)
		}
		files, err := t.files(rel, "", false, excludeAt{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		sum, err := checksum(files, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		b.ctx, b.rel, b.sum = t, rel, "context:"+sum
	case findStage(r.plan.all, m.From) != nil:
		st, err := r.builtDep(ctx, s, findStage(r.plan.all, m.From), what)
		if err != nil {
			return nil, err
		}
		b.stage = st
		b.sum = "stage:" + b.stage.key + ":" + m.Source
	default:
		img, err := r.resolveImage(ctx, m.From)
		if err != nil {
			return nil, fmt.Errorf("%s: no stage of that name, and not an image: %w", what, err)
		}
		b.img, b.sum = img, "image:"+img.ID+":"+m.Source
	}
	return b, nil
}

// stepMounts is what a RUN step's container gets for its --mount flags,
// and how to take it down again.
type stepMounts struct {
	mounts []engine.Mount
	env    []string
	// stubs are the mount points (relative to the root) and the
	// directories above them: the runtime may have made them in the
	// overlay's upper directory, where an empty one is not the step's.
	stubs    []string
	releases []func() error
}

// release undoes what prepareMounts made, last first.
func (sm *stepMounts) release() error {
	var errs []error
	for i := len(sm.releases) - 1; i >= 0; i-- {
		errs = append(errs, sm.releases[i]())
	}
	sm.releases = nil
	return errors.Join(errs...)
}

// prepareMounts makes the mounts of rs: bind sources (a read-only view, or
// a throw-away writable copy with rw), cache directories (locked as their
// sharing says), tmpfs, secrets on a private tmpfs, and ssh agent
// sockets. On error nothing is left.
func (r *run) prepareMounts(ctx context.Context, rs *runStep) (_ *stepMounts, retErr error) {
	sm := &stepMounts{}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, sm.release())
		}
	}()
	bind := 0
	sshSock := ""
	for _, m := range rs.Mounts {
		if m.Target != "" {
			rel := strings.TrimPrefix(m.Target, "/")
			for d := rel; d != "."; d = path.Dir(d) {
				sm.stubs = append(sm.stubs, d)
			}
		}
		em := engine.Mount{Type: "bind", Target: m.Target, ReadOnly: m.ReadOnly}
		var err error
		switch m.Type {
		case "bind":
			em.Source, err = r.bindMount(ctx, sm, rs.binds[bind], m)
			bind++
		case "cache":
			var seed *bindSource
			if m.From != "" {
				seed = rs.binds[bind]
				bind++
			}
			em.Source, err = r.cacheMount(ctx, sm, m, seed)
		case "tmpfs":
			em = engine.Mount{Type: "tmpfs", Target: m.Target, TmpfsSize: m.Size}
		case "secret":
			s, ok := r.secret(m.ID)
			if !ok {
				continue
			}
			if em.Source, err = r.secretMount(ctx, sm, s, m); err == nil && m.Env != "" {
				var v []byte
				if v, err = readSecret(s); err == nil {
					sm.env = append(sm.env, m.Env+"="+string(v))
				}
			}
			em.ReadOnly = true
		case "ssh":
			sock, ok := r.opt.SSH[m.ID]
			if !ok {
				continue
			}
			em.Source, err = r.sshMount(ctx, sm, sock, m)
			if sshSock == "" {
				sshSock = m.Target
			}
		}
		if err != nil {
			return nil, err
		}
		if em.Target != "" && (em.Type != "bind" || em.Source != "") {
			sm.mounts = append(sm.mounts, em)
		}
	}
	if sshSock != "" && !slices.ContainsFunc(rs.Env, func(kv string) bool { return strings.HasPrefix(kv, "SSH_AUTH_SOCK=") }) {
		sm.env = append(sm.env, "SSH_AUTH_SOCK="+sshSock)
	}
	return sm, nil
}

// scratchDir makes a private directory in the cache that release removes.
// Its name carries this build's owner (tempName), so that the next build's
// sweep tells one a killed build left from one a running build uses.
func (r *run) scratchDir(sm *stepMounts) (string, error) {
	dir := r.b.cache.tempName()
	sm.releases = append(sm.releases, func() error { return os.RemoveAll(dir) })
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	return dir, nil
}

// unmountUnder unmounts every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return err
	}
	slices.SortFunc(ms, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	var errs []error
	for _, m := range ms {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}

// bindMount returns the host path to bind for a bind mount. The context's
// files are linked (or copied) into a scratch directory, so that what
// .dockerignore leaves out is not there; a stage or an image is an overlay
// of its layers. With rw, writes land in a scratch upper directory and are
// thrown away with it.
func (r *run) bindMount(ctx context.Context, sm *stepMounts, b *bindSource, m runMount) (string, error) {
	what := "--mount=type=bind,target=" + m.Target
	if b.ctx != nil {
		dir, err := r.scratchDir(sm)
		if err != nil {
			return "", err
		}
		dst := filepath.Join(dir, "src")
		files, err := b.ctx.files(b.rel, "", false, excludeAt{})
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		if err := linkTree(files, dst, !m.ReadOnly); err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return dst, nil
	}
	var dirs lowers
	if b.stage != nil {
		var err error
		if dirs, err = r.lowers(ctx, b.stage); err != nil {
			return "", err
		}
	} else {
		d, err := r.b.images.LayerDirs(ctx, b.img)
		if err != nil {
			return "", err
		}
		dirs = d
	}
	root, err := r.mountOverlay(ctx, sm, dirs, !m.ReadOnly)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	src, err := securejoin.SecureJoin(root, b.rel)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if _, err := os.Lstat(src); err != nil {
		return "", fmt.Errorf("%s: source %q: not found in %s: %w", what, m.Source, m.From, errdefs.ErrNotFound)
	}
	return src, nil
}

// mountOverlay mounts dirs (lowest first) as an overlay on a scratch
// directory: read-only, or writable over a scratch upper directory.
func (r *run) mountOverlay(ctx context.Context, sm *stepMounts, dirs lowers, rw bool) (string, error) {
	dir, err := r.scratchDir(sm)
	if err != nil {
		return "", err
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return "", err
	}
	ls := slices.Clone([]string(dirs))
	if len(ls) < 2 { // an overlay with no upper directory needs two lowers
		if err := os.MkdirAll(r.b.cache.emptyDir(), 0o755); err != nil {
			return "", err
		}
		ls = append([]string{r.b.cache.emptyDir()}, ls...)
	}
	slices.Reverse(ls)
	data := "lowerdir=" + strings.Join(ls, ":")
	var flags uintptr = unix.MS_RDONLY
	if rw {
		upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
		if err := errors.Join(os.Mkdir(upper, 0o755), os.Mkdir(work, 0o700)); err != nil {
			return "", err
		}
		data += ",upperdir=" + upper + ",workdir=" + work
		flags = 0
	}
	if len(data) > 4095 {
		return "", fmt.Errorf("a mount of %d layers: too many layers", len(dirs))
	}
	if err := sm.mount("overlay", mnt, flags, data); err != nil {
		return "", err
	}
	return mnt, nil
}

// mount mounts a filesystem of type fstype on dir; release unmounts it.
func (sm *stepMounts) mount(fstype, dir string, flags uintptr, data string) error {
	if err := unix.Mount(fstype, dir, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, dir, err)
	}
	sm.releases = append(sm.releases, func() error {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
		return nil
	})
	return nil
}

// linkTree recreates files (as srcTree.files lists them, relative to dst)
// under dst: directories made, regular files hard-linked (copied when copy
// is set or a link is impossible), symbolic links as links. Owners, modes
// and modification times are kept.
func linkTree(files []srcFile, dst string, copyFiles bool) error {
	for _, f := range files {
		p := filepath.Join(dst, filepath.FromSlash(f.dst))
		mode := f.fi.Mode()
		switch {
		case f.fi.IsDir():
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			l, err := os.Readlink(f.abs)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, p); err != nil {
				return err
			}
		case mode.IsRegular():
			if copyFiles || os.Link(f.abs, p) != nil {
				if err := copyFile(f.abs, p); err != nil {
					return err
				}
			} else {
				continue // a link shares owner, mode and times
			}
		default:
			continue // devices, fifos and sockets are not part of a context
		}
		uid, gid := owner(f.fi)
		if err := os.Lchown(p, int(uid), int(gid)); err != nil {
			return err
		}
		if mode&fs.ModeSymlink != 0 {
			continue
		}
		if err := os.Chmod(p, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
		if err := os.Chtimes(p, f.fi.ModTime(), f.fi.ModTime()); err != nil {
			return err
		}
	}
	// Directories' times changed as their entries were made.
	for i := len(files) - 1; i >= 0; i-- {
		if f := files[i]; f.fi.IsDir() {
			if err := os.Chtimes(filepath.Join(dst, filepath.FromSlash(f.dst)), f.fi.ModTime(), f.fi.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(src, dst string) (retErr error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() { retErr = errors.Join(retErr, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}

// cacheDir is the directory of cache mounts with the id.
func (c *cache) cacheDir(id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(c.dir, "mounts", hex.EncodeToString(sum[:16]))
}

// cacheMount returns the directory of a cache mount, made (with the
// mount's owner and mode) the first time its id is used. It is held until
// release: shared mounts share instance 0 under a shared lock; locked ones
// take its lock alone, waiting for other users; private ones take the
// first instance nobody holds, making a new one when all are busy.
//
// A cache with from= is its own, per id and content of its seed, which is
// copied into it (source: the seed's directory) when it is made.
func (r *run) cacheMount(ctx context.Context, sm *stepMounts, m runMount, seed *bindSource) (string, error) {
	key := m.ID
	var fill func(string) error
	if seed != nil {
		key += "\x00" + seed.sum
		fill = func(dir string) error { return r.seedCache(ctx, seed, m, dir) }
	}
	base := r.b.cache.cacheDir(key)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("cache mount %q: %w", m.ID, err)
	}
	inst := 0
	var unlock func()
	var err error
	switch m.Sharing {
	case "locked":
		unlock, err = flock.Lock(ctx, filepath.Join(base, "0.lock"))
	case "private":
		for ; ; inst++ {
			var ok bool
			if unlock, ok, err = flock.TryLock(ctx, filepath.Join(base, strconv.Itoa(inst)+".lock")); ok || err != nil {
				break
			}
		}
	default:
		unlock, err = flock.LockShared(ctx, filepath.Join(base, "0.lock"))
	}
	if err != nil {
		return "", fmt.Errorf("cache mount %q: %w", m.ID, err)
	}
	sm.releases = append(sm.releases, func() error { unlock(); return nil })
	dir := filepath.Join(base, strconv.Itoa(inst))
	if err := newCacheDir(ctx, dir, m, fill); err != nil {
		return "", fmt.Errorf("cache mount %q: %w", m.ID, err)
	}
	if m.Source == "" || seed != nil {
		return dir, nil
	}
	src, err := securejoin.SecureJoin(dir, m.Source)
	if err == nil {
		err = os.MkdirAll(src, 0o755)
	}
	if err != nil {
		return "", fmt.Errorf("cache mount %q: source %q: %w", m.ID, m.Source, err)
	}
	return src, nil
}

// newCacheDir makes the directory of a cache mount instance unless it is
// there, with the mount's owner and mode (0755 root:root by default). It
// appears whole, by a rename, under a lock other builds making it wait on.
func newCacheDir(ctx context.Context, dir string, m runMount, fill func(string) error) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	unlock, err := flock.Lock(ctx, dir+".create")
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	uid, gid := m.owner()
	err = errors.Join(os.Mkdir(tmp, 0o700), os.Chown(tmp, uid, gid), os.Chmod(tmp, fs.FileMode(m.mode(0o755))))
	if err == nil && fill != nil {
		err = fill(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	return nil
}

// seedCache copies the directory a cache mount's from= and source= name
// into dir, the new cache.
func (r *run) seedCache(ctx context.Context, seed *bindSource, m runMount, dir string) (retErr error) {
	what := "--mount=type=cache,from=" + m.From
	tree := seed.ctx
	if tree == nil {
		sm := &stepMounts{}
		defer func() { retErr = errors.Join(retErr, sm.release()) }()
		var dirs lowers
		var err error
		if seed.stage != nil {
			dirs, err = r.lowers(ctx, seed.stage)
		} else {
			dirs, err = r.b.images.LayerDirs(ctx, seed.img)
		}
		if err != nil {
			return err
		}
		mnt, err := r.mountOverlay(ctx, sm, dirs, false)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		tree = &srcTree{root: mnt, what: m.From}
	}
	src, err := securejoin.SecureJoin(tree.root, seed.rel)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s: source %q: not a directory in %s: %w", what, m.Source, tree.what, errdefs.ErrNotFound)
	}
	rel, err := filepath.Rel(tree.root, src)
	if err != nil {
		return err
	}
	if rel == "." {
		rel = ""
	}
	files, err := tree.files(filepath.ToSlash(rel), "", true, excludeAt{})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return linkTree(files, dir, true)
}

// secretsTmpfs mounts a small private tmpfs on a scratch directory, for
// secrets and agent sockets: they never touch the disk.
func (r *run) secretsTmpfs(ctx context.Context, sm *stepMounts) (string, error) {
	dir, err := r.scratchDir(sm)
	if err != nil {
		return "", err
	}
	if err := sm.mount("tmpfs", dir, unix.MS_NOSUID|unix.MS_NODEV, "mode=0700,size=16m"); err != nil {
		return "", err
	}
	return dir, nil
}

func readSecret(s Secret) ([]byte, error) {
	if s.File == "" {
		return s.Value, nil
	}
	v, err := os.ReadFile(s.File)
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", s.ID, err)
	}
	return v, nil
}

// secretMount writes the secret into a file on a private tmpfs, with the
// mount's owner and mode (0400 root:root by default), and returns it; ""
// for a secret given only as an environment variable.
func (r *run) secretMount(ctx context.Context, sm *stepMounts, s Secret, m runMount) (string, error) {
	if m.Target == "" {
		return "", nil
	}
	v, err := readSecret(s)
	if err != nil {
		return "", err
	}
	dir, err := r.secretsTmpfs(ctx, sm)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, v, 0o600); err != nil {
		return "", fmt.Errorf("secret %q: %w", s.ID, err)
	}
	uid, gid := m.owner()
	if err := os.Chown(p, uid, gid); err != nil {
		return "", fmt.Errorf("secret %q: %w", s.ID, err)
	}
	if err := os.Chmod(p, fs.FileMode(m.mode(0o400))); err != nil {
		return "", fmt.Errorf("secret %q: %w", s.ID, err)
	}
	return p, nil
}

// sshMount forwards the agent at sock: a socket of the mount's owner and
// mode (0600 root:root by default) on a private tmpfs, each connection to
// it relayed to the agent until release.
func (r *run) sshMount(ctx context.Context, sm *stepMounts, sock string, m runMount) (string, error) {
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&fs.ModeSocket == 0 {
		return "", fmt.Errorf("--ssh %s=%s: not an agent socket: %w", m.ID, sock, errdefs.ErrInvalidArgument)
	}
	dir, err := r.secretsTmpfs(ctx, sm)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", p)
	if err != nil {
		return "", fmt.Errorf("ssh agent %q: %w", m.ID, err)
	}
	uid, gid := m.owner()
	if err := errors.Join(os.Chown(p, uid, gid), os.Chmod(p, fs.FileMode(m.mode(0o600)))); err != nil {
		return "", errors.Join(fmt.Errorf("ssh agent %q: %w", m.ID, err), l.Close())
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		relayAgent(ctx, l, sock)
	}()
	sm.releases = append(sm.releases, func() error {
		cancel()
		err := l.Close()
		wg.Wait()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		return err
	})
	return p, nil
}

// relayAgent accepts connections on l until it is closed, and relays each
// to the agent socket until either side closes or ctx ends.
func relayAgent(ctx context.Context, l net.Listener, agent string) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			var d net.Dialer
			a, err := d.DialContext(ctx, "unix", agent)
			if err != nil {
				return
			}
			defer a.Close()
			stop := context.AfterFunc(ctx, func() { _ = c.Close(); _ = a.Close() })
			defer stop()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(a, c)
				_ = a.(*net.UnixConn).CloseWrite()
				close(done)
			}()
			_, _ = io.Copy(c, a)
			_ = c.(*net.UnixConn).CloseWrite()
			<-done
		}()
	}
}
