package volmgr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// optionKeys are the local driver's options, as Docker's.
var optionKeys = []string{"type", "o", "device"}

// mountFlags are the words of "o" that are mount(2) flags; the others are
// passed to the file system as its data.
var mountFlags = map[string]struct {
	set   bool
	flags uintptr
}{
	"ro": {true, unix.MS_RDONLY}, "rw": {false, unix.MS_RDONLY},
	"nosuid": {true, unix.MS_NOSUID}, "suid": {false, unix.MS_NOSUID},
	"nodev": {true, unix.MS_NODEV}, "dev": {false, unix.MS_NODEV},
	"noexec": {true, unix.MS_NOEXEC}, "exec": {false, unix.MS_NOEXEC},
	"noatime": {true, unix.MS_NOATIME}, "atime": {false, unix.MS_NOATIME},
	"nodiratime": {true, unix.MS_NODIRATIME}, "relatime": {true, unix.MS_RELATIME},
	"sync": {true, unix.MS_SYNCHRONOUS}, "async": {false, unix.MS_SYNCHRONOUS},
	"bind": {true, unix.MS_BIND}, "rbind": {true, unix.MS_BIND | unix.MS_REC},
	"defaults": {false, 0},
}

// validateOptions checks the local driver's options: known keys only, a
// type when any is set, and an absolute, existing device for a bind.
func validateOptions(opts map[string]string) error {
	if len(opts) == 0 {
		return nil
	}
	for k := range opts {
		if !slices.Contains(optionKeys, k) {
			return fmt.Errorf("driver option %q: want type, o or device: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	if opts["type"] == "" {
		return fmt.Errorf("driver options: type is required: %w", errdefs.ErrInvalidArgument)
	}
	if _, _, bind := parseMountOptions(opts["o"]); bind {
		dev := opts["device"]
		if !filepath.IsAbs(dev) {
			return fmt.Errorf("driver options: device %q: a bind needs an absolute host path: %w", dev, errdefs.ErrInvalidArgument)
		}
		if _, err := os.Stat(dev); err != nil {
			return fmt.Errorf("driver options: device %q: %w", dev, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// parseMountOptions splits "o" into mount flags and file system data.
func parseMountOptions(o string) (flags uintptr, data string, bind bool) {
	var rest []string
	for _, w := range strings.Split(o, ",") {
		if w == "" {
			continue
		}
		f, ok := mountFlags[w]
		if !ok {
			rest = append(rest, w)
			continue
		}
		if f.set {
			flags |= f.flags
		} else {
			flags &^= f.flags
		}
	}
	return flags, strings.Join(rest, ","), flags&unix.MS_BIND != 0
}

// Mount makes the volume's data directory ready for a container: for a
// volume with driver options, their file system is mounted there (once;
// it stays mounted until Unmount or Remove). It returns the data
// directory. errdefs.ErrNotFound for an unknown volume.
func (s *Store) Mount(ctx context.Context, name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	v, err := s.read(name)
	if err != nil {
		return "", err
	}
	p := s.Path(name)
	if len(v.Options) == 0 {
		return p, nil
	}
	mounted, err := mountinfo.Mounted(p)
	if err != nil {
		return "", fmt.Errorf("volume %q: %w", name, err)
	}
	if mounted {
		return p, nil
	}
	flags, data, _ := parseMountOptions(v.Options["o"])
	typ, dev := v.Options["type"], v.Options["device"]
	if typ == "none" {
		typ = ""
	}
	if dev == "" {
		dev = typ
	}
	if err := unix.Mount(dev, p, typ, flags, data); err != nil {
		return "", fmt.Errorf("volume %q: mount %s (type %q, options %q): %w", name, dev, v.Options["type"], v.Options["o"], err)
	}
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		// A bind ignores MS_RDONLY until remounted.
		if err := unix.Mount("", p, "", flags|unix.MS_REMOUNT, ""); err != nil {
			return "", errors.Join(fmt.Errorf("volume %q: remount read-only: %w", name, err), unmountData(p))
		}
	}
	return p, nil
}

// Unmount unmounts what Mount mounted for a volume with driver options;
// a no-op for a plain volume or one not mounted. errdefs.ErrConflict when
// the file system is busy.
func (s *Store) Unmount(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := unmountData(s.Path(name)); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	return nil
}

// Release unmounts what Mount mounted, like Unmount, unless inUse, asked
// with the volume's lock held, says a container still needs it. A volume
// that does not exist any more is released already.
func (s *Store) Release(ctx context.Context, name string, inUse func() (bool, error)) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.read(name)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil || len(v.Options) == 0 {
		return err
	}
	used, err := inUse()
	if err != nil || used {
		return err
	}
	if err := unmountData(s.Path(name)); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	return nil
}

// unmountData unmounts everything mounted on p, and checks nothing is left:
// the caller may be about to delete p's content.
func unmountData(p string) error {
	for range 16 {
		mounted, err := mountinfo.Mounted(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
		if !mounted {
			return nil
		}
		if err := unix.Unmount(p, 0); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("unmount %s: busy, still in use: %w", p, errdefs.ErrConflict)
			}
			if !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount %s: %w", p, err)
			}
		}
	}
	return fmt.Errorf("unmount %s: still mounted: %w", p, errdefs.ErrConflict)
}

// checkNoMountsUnder refuses to let a directory be deleted while anything
// is mounted in it (a mount propagated back from a container): deleting
// would reach into that file system.
func checkNoMountsUnder(dir string) error {
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("list mounts under %s: %w", dir, err)
	}
	if len(ms) > 0 {
		return fmt.Errorf("%s is still mounted under the volume; unmount it first: %w", ms[0].Mountpoint, errdefs.ErrConflict)
	}
	return nil
}

// Seed fills a volume that has never held data: with its lock held, when
// the volume is not Seeded and its data directory is empty, fill is called
// with that directory. The volume is marked Seeded as soon as it holds
// anything, so it is seeded at most once and never over data.
func (s *Store) Seed(ctx context.Context, name string, fill func(dir string) error) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.read(name)
	if err != nil {
		return err
	}
	if v.Seeded {
		return nil
	}
	p := s.Path(name)
	// A copy cut short (the process died) left only its staging directory.
	if ents, err := os.ReadDir(p); err == nil && len(ents) == 1 && ents[0].Name() == seedStaging {
		if err := os.RemoveAll(filepath.Join(p, seedStaging)); err != nil {
			return fmt.Errorf("volume %q: %w", name, err)
		}
	}
	empty, err := isEmptyDir(p)
	if err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	if empty {
		if err := seedVia(p, fill); err != nil {
			return fmt.Errorf("volume %q: copy the image's content: %w", name, err)
		}
		if empty, err = isEmptyDir(p); err != nil || empty {
			return err // nothing to copy: a later container may still seed it
		}
	}
	v.Seeded = true
	v.Mountpoint = ""
	if err := atomicfile.WriteJSON(filepath.Join(s.dir, name, "volume.json"), v, 0o600); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	return nil
}

// seedStaging is the directory, inside the data directory (so on the same
// file system), that a seed is copied into before it is moved into place:
// a copy cut short is never taken for the volume's content.
const seedStaging = ".berth-seed"

// seedVia fills a staging directory and moves its entries, then its owner
// and mode, to the empty data directory p.
func seedVia(p string, fill func(dir string) error) (retErr error) {
	tmp := filepath.Join(p, seedStaging)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	defer func() {
		if err := os.RemoveAll(tmp); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		return nil
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(p, e.Name())); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(tmp, &st); err != nil {
		return err
	}
	if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return unix.Fchmodat(unix.AT_FDCWD, p, st.Mode&0o7777, 0)
}

func isEmptyDir(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return false, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return true, nil
}
