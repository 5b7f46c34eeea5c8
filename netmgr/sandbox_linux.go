package netmgr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// maxUnmounts bounds the unmount loop of removeNetns (a file may carry
// stacked mounts).
const maxUnmounts = 8

// createNetns makes a new network namespace bind-mounted at path, with lo up.
// Idempotent: if a namespace is already mounted there it only makes sure lo
// is up. On error nothing is left behind.
func createNetns(path string) (retErr error) {
	if !isNetnsMount(path) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("namespace %s: %w", path, err)
		}
		f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
		if err != nil {
			return fmt.Errorf("namespace %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("namespace %s: %w", path, err)
		}
		defer func() {
			if retErr != nil {
				retErr = errors.Join(retErr, removeNetns(path))
			}
		}()
		if err := mountNewNetns(path); err != nil {
			return fmt.Errorf("namespace %s: %w", path, err)
		}
		if err := fail("netns"); err != nil {
			return err
		}
	}
	ns, h, err := netlinkAt(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("namespace %s: lo: %w", path, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("namespace %s: set lo up: %w", path, err)
	}
	return nil
}

// mountNewNetns creates a network namespace on a dedicated, locked OS thread
// and bind-mounts it onto path (an existing file). The thread is returned to
// its original namespace; if that fails it stays locked, so the runtime
// discards it when the goroutine ends instead of reusing a thread in the
// wrong namespace.
func mountNewNetns(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		mountErr := unix.Mount(src, path, "none", unix.MS_BIND, "")
		if mountErr != nil {
			mountErr = fmt.Errorf("bind mount %s: %w", src, mountErr)
		}
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(mountErr, fmt.Errorf("restore namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- mountErr
	}()
	return <-errc
}

// isNetnsMount reports whether a network namespace is mounted at path.
func isNetnsMount(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// removeNetns unmounts (lazily) every mount on path and removes the file.
// A missing file or mount counts as removed.
func removeNetns(path string) error {
	for range maxUnmounts {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break // not a mount point (any more), or no file
		}
		if err != nil {
			return fmt.Errorf("namespace %s: unmount: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("namespace %s: %w", path, err)
	}
	return nil
}
