package engine

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// maxMountData is the most mount(2) takes as its data argument: one page,
// with its terminating NUL.
const maxMountData = 4096 - 1

// mountOverlay mounts an overlay at target with layers (lowest first) below
// upper. The classic option string (top layer first) is used when it fits a
// page; past that (about 40 layers under a long root), the layers are
// added one by one with the new mount API ("lowerdir+", Linux 6.8). opts
// are more key=value options.
func mountOverlay(layers []string, upper, work, target string, opts ...string) error {
	if len(layers) == 0 {
		return fmt.Errorf("overlay %s: no layers", target)
	}
	top := slices.Clone(layers)
	slices.Reverse(top)
	for _, p := range append(slices.Clone(top), upper, work) {
		if strings.ContainsAny(p, ":,") {
			return fmt.Errorf("overlay %s: path %q holds ':' or ',', which overlay options cannot carry", target, p)
		}
	}
	data := "lowerdir=" + strings.Join(top, ":") + ",upperdir=" + upper + ",workdir=" + work
	for _, o := range opts {
		data += "," + o
	}
	if len(data) <= maxMountData {
		if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
			return fmt.Errorf("mount overlay on %s: %w", target, err)
		}
		return nil
	}
	return mountOverlayFS(top, upper, work, target, opts)
}

// mountOverlayFS mounts the overlay through fsopen/fsconfig/fsmount, one
// lower layer (top first) per "lowerdir+", which has no length limit.
func mountOverlayFS(top []string, upper, work, target string, opts []string) (retErr error) {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("mount overlay on %s: %d layers need the new mount API: fsopen: %w", target, len(top), err)
	}
	defer unix.Close(fsfd)
	set := func(key, val string) error {
		if err := unix.FsconfigSetString(fsfd, key, val); err != nil {
			return fmt.Errorf("mount overlay on %s: %s=%s: %w", target, key, val, err)
		}
		return nil
	}
	for _, l := range top {
		if err := set("lowerdir+", l); err != nil {
			return err
		}
	}
	if err := set("upperdir", upper); err != nil {
		return err
	}
	if err := set("workdir", work); err != nil {
		return err
	}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if err := set(k, v); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("mount overlay on %s: create: %w", target, err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("mount overlay on %s: fsmount: %w", target, err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount overlay on %s: move_mount: %w", target, err)
	}
	return nil
}

// unmount unmounts target if something is mounted there. A busy mount is
// detached (it goes when its last user does).
func unmount(target string) error {
	mounted, err := mountinfo.Mounted(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	if !mounted {
		return nil
	}
	err = unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}
