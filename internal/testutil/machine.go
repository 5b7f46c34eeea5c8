package testutil

import (
	"fmt"
	"os"
	"syscall"
)

// machineLockPath is taken by every test binary that changes the machine's
// links, firewall rules or cgroups: the e2e suite exclusively (its leak
// check compares the whole machine before and after each test), the
// packages' privileged tests shared (they may run together, never during
// e2e). Two suites started at once on one machine then wait for each other
// instead of seeing each other's bridges as leaks.
const machineLockPath = "/run/berth-tests.lock"

// LockMachine blocks until the machine is this test binary's, exclusively or
// shared, and returns the release. Without root it does nothing: such runs
// skip the privileged tests anyway.
func LockMachine(exclusive bool) (unlock func(), err error) {
	if os.Geteuid() != 0 {
		return func() {}, nil
	}
	f, err := os.OpenFile(machineLockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("test machine lock: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("test machine lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// MainLocked runs a test binary's tests holding the machine lock, for
// TestMain: os.Exit(testutil.MainLocked(m.Run, false)).
func MainLocked(run func() int, exclusive bool) int {
	unlock, err := LockMachine(exclusive)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer unlock()
	return run()
}
