package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// emptyDir is an empty directory, the lower layer of a stage that has none.
func (c *cache) emptyDir() string { return filepath.Join(c.dir, "empty") }

// mountLowers mounts the layers dirs (lowest first) read-only on a new
// directory, the root filesystem of a stage to copy from, and returns it
// and the function that unmounts and removes it.
func (c *cache) mountLowers(dirs []string) (string, func() error, error) {
	if err := os.MkdirAll(c.emptyDir(), 0o755); err != nil {
		return "", nil, err
	}
	// An overlay without an upper directory needs two lower ones.
	top := append([]string{c.emptyDir()}, dirs...)
	slices.Reverse(top)
	data := "lowerdir=" + strings.Join(top, ":")
	if len(data) > 4095 {
		return "", nil, fmt.Errorf("copy from a stage of %d layers: too many layers", len(dirs))
	}
	mnt := c.tempName()
	if err := os.Mkdir(mnt, 0o700); err != nil {
		return "", nil, err
	}
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, data); err != nil {
		return "", nil, errors.Join(fmt.Errorf("mount overlay on %s: %w", mnt, err), os.Remove(mnt))
	}
	return mnt, func() error {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", mnt, err)
		}
		return os.Remove(mnt)
	}, nil
}
