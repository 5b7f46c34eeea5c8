package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/flock"
)

// lockNames takes the engine's name lock (<root>/containers/lock): held by
// every Create while it claims a name, and by the removals of volumes and
// images while they make sure no container uses them.
func (e *Engine) lockNames(ctx context.Context) (unlock func(), err error) {
	return flock.Lock(ctx, filepath.Join(e.containersDir(), "lock"))
}

// lockDir takes an exclusive flock on the directory dir, waiting until it is
// free or ctx is done. A directory removed while waiting (by Remove, which
// holds the lock while it deletes) is errdefs.ErrNotFound. The lock belongs
// to the open file description: it is released if the process dies.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", dir, errdefs.ErrNotFound)
		}
		return nil, err
	}
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, context.Cause(ctx))
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
	held, err1 := f.Stat()
	now, err2 := os.Stat(dir)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		_ = f.Close()
		return nil, fmt.Errorf("%s: removed: %w", dir, errdefs.ErrNotFound)
	}
	return func() { _ = f.Close() }, nil
}

// tryLockDir takes the exclusive flock on the directory dir if it is free
// now (also of this process's other holders: the lock belongs to an open
// file description) and dir was not removed; ok is false otherwise.
func tryLockDir(dir string) (unlock func(), ok bool) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		_ = f.Close()
		return nil, false
	}
	held, err1 := f.Stat()
	now, err2 := os.Stat(dir)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		_ = f.Close()
		return nil, false
	}
	return func() { _ = f.Close() }, true
}
