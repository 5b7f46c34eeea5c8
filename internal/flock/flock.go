// Package flock provides cross-process exclusive locks on files (flock(2)).
// berth has no daemon, so every invocation that changes shared state takes the
// lock that guards it; see the package documentation of the lock's owner for
// the lock order.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Lock takes an exclusive lock on path, creating the file and its parent
// directories if needed. It waits until the lock is free or ctx is done, and
// returns a function that releases it. The lock is held by the open file
// description, so it is released as well if the process dies.
//
// A busy lock is waited for with a blocking flock(2) on a thread of its own,
// so the waiter gets it as soon as it is released (polling with a back-off
// left tens of milliseconds idle between holders when many contend, as 20
// containers of one project do). If ctx ends first, Lock returns at once and
// the abandoned wait releases the lock as soon as it gets it.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	return lock(ctx, path, unix.LOCK_EX, true)
}

// LockShared takes a shared lock on path, as Lock takes an exclusive one:
// several holders of a shared lock exclude only the holder of an exclusive
// one.
func LockShared(ctx context.Context, path string) (unlock func(), err error) {
	return lock(ctx, path, unix.LOCK_SH, true)
}

// TryLock takes an exclusive lock on path if it is free, and tells whether
// it did; it never waits.
func TryLock(ctx context.Context, path string) (unlock func(), ok bool, err error) {
	unlock, err = lock(ctx, path, unix.LOCK_EX, false)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, false, nil
	}
	return unlock, err == nil, err
}

// lock takes the lock how (LOCK_EX or LOCK_SH) on path; without wait, a
// busy lock is an error wrapping EWOULDBLOCK.
func lock(ctx context.Context, path string, how int, wait bool) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	release := func() { _ = f.Close() }
	err = flock(f, how|unix.LOCK_NB)
	if err == nil {
		return release, nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) || !wait {
		release()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	got := make(chan error, 1)
	var mu sync.Mutex // guards abandoned
	abandoned := false
	go func() {
		err := flock(f, how)
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			release()
			return
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			release()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return release, nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		select {
		case err := <-got: // taken meanwhile: give it back
			if err == nil {
				release()
			}
		default:
			abandoned = true
		}
		return nil, fmt.Errorf("lock %s: %w", path, context.Cause(ctx))
	}
}

// flock is flock(2) on f, retried when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
