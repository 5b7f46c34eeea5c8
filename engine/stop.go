package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// killWait bounds the wait for a container to go after SIGKILL.
const killWait = 30 * time.Second

// Stop sends the container's stop signal, waits up to timeout (negative:
// the container's StopTimeout, else 10s), then sends SIGKILL, and returns
// once the process is gone and the run's resources (rootfs mount, network
// sandbox) are released. The container keeps its record, logs and exit
// code. Stopping a container that is not running releases what its last
// run left and is otherwise a no-op.
func (e *Engine) Stop(ctx context.Context, id ContainerID, timeout time.Duration) error {
	return e.StopSignal(ctx, id, timeout, "")
}

// StopSignal is Stop with signal (a name such as "SIGINT" or "INT", or a
// number; "": the container's stop signal) as the first signal, as docker
// stop --signal. errdefs.ErrInvalidArgument for an unknown signal.
func (e *Engine) StopSignal(ctx context.Context, id ContainerID, timeout time.Duration, signal string) error {
	if signal != "" {
		sig, err := stopSignal(ContainerConfig{StopSignal: signal}, image.Config{})
		if err != nil {
			return fmt.Errorf("signal %q: no such signal: %w", signal, errdefs.ErrInvalidArgument)
		}
		signal = sig
	}
	dir, rec, unlock, err := e.lockContainer(ctx, string(id))
	if err != nil {
		return err
	}
	defer unlock()
	if rec == nil {
		return fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	if timeout < 0 {
		timeout = defaultStopTimeout
		if rec.Config.StopTimeout != nil {
			timeout = *rec.Config.StopTimeout
		}
	}
	stopped, err := e.stopLocked(ctx, dir, rec, timeout, signal)
	if err != nil {
		return fmt.Errorf("container %q: stop: %w", rec.Config.Name, err)
	}
	if stopped {
		e.containerEvent(ctx, "stop", rec)
	}
	return nil
}

// stopLocked stops the container with signal ("": its stop signal; timeout
// 0: SIGKILL at once) and releases its run, and tells whether it had a run
// to stop. The container lock is held.
func (e *Engine) stopLocked(ctx context.Context, dir string, rec *record, timeout time.Duration, signal string) (bool, error) {
	if signal == "" {
		signal = rec.StopSignal
	}
	sf, st, err := e.readObserved(ctx, dir)
	if err != nil {
		return false, err
	}
	paused := isPaused(dir)
	if active(st.Status) {
		// Before any signal: the shim must not restart what is being
		// stopped (restart.go).
		if err := markStopping(dir); err != nil {
			return true, err
		}
		rt, err := e.runtime(rec.Config.Runtime)
		if err != nil {
			return true, err
		}
		procs := runProcs(sf)
		gone := false
		// Each kill is recorded before its signal is sent: the shim
		// records the die it may cause at once, and kill comes first.
		if timeout > 0 {
			e.containerEvent(ctx, "kill", rec, "signal", signalNumber(signal))
			if err := e.signalInit(ctx, rt, rec.ID, sf, signal); err != nil {
				return true, err
			}
			if paused {
				// A frozen process handles no signal: thaw it.
				_ = rt.resume(ctx, rec.ID)
			}
			if gone, err = waitGone(ctx, procs, timeout); err != nil {
				return true, err
			}
		}
		if !gone {
			e.containerEvent(ctx, "kill", rec, "signal", signalNumber("SIGKILL"))
			if err := e.signalInit(ctx, rt, rec.ID, sf, "SIGKILL"); err != nil {
				return true, err
			}
			if paused {
				_ = rt.resume(ctx, rec.ID)
			}
			if gone, err = waitGone(ctx, procs, killWait); err != nil {
				return true, err
			}
			if !gone {
				return true, fmt.Errorf("still running %s after SIGKILL: %w", killWait, errdefs.ErrUnavailable)
			}
		}
		if sf, err = readState(dir); err != nil {
			return true, err
		}
	}
	if sf.Status == StatusRunning {
		// The shim died without recording the exit (before this stop, or
		// it was gone and the stop killed what ran unsupervised): record
		// what is known.
		if sf, err = e.recordEndLocked(ctx, dir, rec, sf); err != nil {
			return true, err
		}
	}
	return active(st.Status), e.releaseRun(ctx, dir, rec.ID, rec, !shimFinished(sf))
}

// signalInit sends sig to the container's init through a pidfd, checked
// against the init's start time so a reused PID is never hit: the same
// kill(2) the runtime would make, without running it (a stop of 20
// containers spares 20 runs of runc). Without a known init, or on any
// doubt, the runtime sends it. berth's own init (init: true) handles
// signals before Start reports the container running (the shim waits for
// its ready byte), so a stop right after a start is forwarded, not fatal.
func (e *Engine) signalInit(ctx context.Context, rt runtimeCmd, id ContainerID, sf stateFile, sig string) error {
	n := unix.SignalNum(sig)
	if v, err := strconv.Atoi(sig); err == nil {
		n = syscall.Signal(v)
	}
	if n != 0 && sf.Pid > 0 {
		if fd, err := unix.PidfdOpen(sf.Pid, 0); err == nil {
			defer unix.Close(fd)
			if e.alive(sf.Pid, sf.InitStart) && unix.PidfdSendSignal(fd, n, nil, 0) == nil {
				return nil
			}
		}
	}
	return ignoreGone(rt.kill(ctx, id, sig))
}

// proc is a process named for good: PID and start time.
type proc struct {
	pid   int
	start uint64
}

// runProcs are the processes of a run: the shim and the container's init.
// The run is over when both are gone (the shim exits right after recording
// the exit; the init outlives a SIGKILLed shim).
func runProcs(sf stateFile) []proc {
	var ps []proc
	if sf.ShimPid != 0 {
		ps = append(ps, proc{sf.ShimPid, sf.ShimStart})
	}
	if sf.Pid != 0 {
		ps = append(ps, proc{sf.Pid, sf.InitStart})
	}
	return ps
}

// waitGone waits until every process in procs has exited, at most d. It
// watches them with pidfds (woken at once by an exit), falling back to
// polling with a back-off from 1ms to 20ms.
func waitGone(ctx context.Context, procs []proc, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	var fds []unix.PollFd
	defer func() {
		for _, p := range fds {
			_ = unix.Close(int(p.Fd))
		}
	}()
	var polled []proc
	for _, p := range procs {
		fd, err := unix.PidfdOpen(p.pid, 0)
		if err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			polled = append(polled, p) // no pidfds (old kernel): poll
			continue
		}
		// The PID may have been reused before the pidfd was opened.
		if !ctrstate.Alive(p.pid, p.start) {
			_ = unix.Close(fd)
			continue
		}
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	backoff := time.Millisecond
	for {
		polled = slices.DeleteFunc(polled, func(p proc) bool { return !ctrstate.Alive(p.pid, p.start) })
		if len(fds) == 0 && len(polled) == 0 {
			return true, nil
		}
		if err := ctx.Err(); err != nil {
			return false, context.Cause(ctx)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		wait := min(left, 20*time.Millisecond)
		if len(polled) > 0 {
			wait = min(wait, backoff)
			backoff = min(2*backoff, 20*time.Millisecond)
		}
		if len(fds) == 0 {
			time.Sleep(wait)
			continue
		}
		n, err := unix.Poll(fds, int(max(wait.Milliseconds(), 1)))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false, fmt.Errorf("poll: %w", err)
		}
		if n > 0 {
			fds = slices.DeleteFunc(fds, func(p unix.PollFd) bool {
				if p.Revents != 0 {
					_ = unix.Close(int(p.Fd))
					return true
				}
				return false
			})
		}
	}
}

// releaseRun frees what a run of the container held once its process is
// gone: the runtime's state (when the shim did not delete it), the rootfs
// mount, the network sandbox, the endpoints record and pause marker; and
// brings the peers' hosts files up to date. rec is nil for a container
// whose record is gone (an interrupted removal). A run still held is
// reported as Docker does as its resources go: network disconnect and
// volume unmount events. Idempotent.
func (e *Engine) releaseRun(ctx context.Context, dir string, id ContainerID, rec *record, runtimeDelete bool) error {
	var runtime string
	networks := e.nets != nil // unknown without a record: ask, RemoveSandbox is idempotent
	if rec != nil {
		runtime, networks = rec.Config.Runtime, len(rec.Config.Networks) > 0
	}
	var errs []error
	if runtimeDelete {
		if _, err := os.Stat(filepath.Join(ctrstate.RuntimeRoot(e.opt.RunDir), string(id))); err == nil {
			rt, err := e.runtime(runtime)
			if err == nil {
				err = rt.delete(ctx, id, true)
			}
			errs = append(errs, err)
		}
	}
	// What the run holds, for its events: the networks it joined (its
	// endpoints record) and, while its rootfs is mounted, its volumes.
	rootfs := filepath.Join(dir, ctrstate.RootfsDir)
	eps, _ := readEndpoints(dir) // none: no sandbox held
	var mounts []Mount
	if rec != nil {
		if held, err := mountinfo.Mounted(rootfs); err == nil && held {
			mounts = rec.volumeMounts()
		}
	}
	// The rootfs is unmounted beside the sandbox's removal: the kernel syncs
	// the upper directory's file system at the unmount (tens of
	// milliseconds on a busy disk), and deleting a veth waits for the
	// kernel too. The sandbox's removal stays on this thread, whose network
	// namespace is the caller's.
	unmounted := make(chan error, 1)
	go func() { unmounted <- unmount(rootfs) }()
	if networks && e.nets != nil {
		errs = append(errs, e.nets.RemoveSandbox(ctx, string(id)))
	}
	errs = append(errs, <-unmounted)
	_ = os.Remove(filepath.Join(dir, ctrstate.PausedFile))
	_ = os.Remove(ctrstate.AttachSocket(e.opt.RunDir, string(id))) // a killed shim's
	err := os.Remove(filepath.Join(dir, ctrstate.EndpointsFile))
	if err == nil {
		errs = append(errs, e.syncHosts(ctx))
	} else if !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	e.runEvents(ctx, false, id, eps, mounts)
	return errors.Join(errs...)
}

// Kill sends signal (a name such as "SIGHUP" or "HUP", or a number) to the
// container's init without waiting. errdefs.ErrFailedPrecondition if the
// container is not running.
func (e *Engine) Kill(ctx context.Context, id ContainerID, signal string) error {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	sig, err := stopSignal(ContainerConfig{StopSignal: signal}, rec.ImageConfig)
	if err != nil {
		return fmt.Errorf("container %q: kill: %w", rec.Config.Name, err)
	}
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return err
	}
	if st.Status != StatusRunning && st.Status != StatusPaused {
		return fmt.Errorf("container %q: kill: not running: %w", rec.Config.Name, errdefs.ErrFailedPrecondition)
	}
	rt, err := e.runtime(rec.Config.Runtime)
	if err != nil {
		return err
	}
	e.containerEvent(ctx, "kill", rec, "signal", signalNumber(sig)) // before the die it may cause
	if err := rt.kill(ctx, rec.ID, sig); err != nil {
		return fmt.Errorf("container %q: kill: %w", rec.Config.Name, err)
	}
	return nil
}

// Wait returns the container's state once it is not running (at once if
// it is not), or ctx's error.
func (e *Engine) Wait(ctx context.Context, id ContainerID) (State, error) {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return State{}, err
	}
	if rec == nil {
		return State{}, fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	for {
		sf, st, err := e.readObserved(ctx, dir)
		if err != nil {
			return State{}, err
		}
		if !active(st.Status) { // through the restarts of its policy
			return st, nil
		}
		if _, err := waitGone(ctx, runProcs(sf), time.Hour); err != nil {
			return State{}, err
		}
	}
}

// Pause freezes the container's processes. errdefs.ErrFailedPrecondition
// if it is not running.
func (e *Engine) Pause(ctx context.Context, id ContainerID) error {
	return e.setPaused(ctx, id, true)
}

// Unpause thaws a paused container. errdefs.ErrFailedPrecondition if it is
// not paused.
func (e *Engine) Unpause(ctx context.Context, id ContainerID) error {
	return e.setPaused(ctx, id, false)
}

func (e *Engine) setPaused(ctx context.Context, id ContainerID, pause bool) error {
	dir, rec, unlock, err := e.lockContainer(ctx, string(id))
	if err != nil {
		return err
	}
	defer unlock()
	if rec == nil {
		return fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	verb, want := "pause", StatusRunning
	if !pause {
		verb, want = "unpause", StatusPaused
	}
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return err
	}
	if st.Status != want {
		return fmt.Errorf("container %q: %s: the container is %s: %w", rec.Config.Name, verb, st.Status, errdefs.ErrFailedPrecondition)
	}
	rt, err := e.runtime(rec.Config.Runtime)
	if err != nil {
		return err
	}
	marker := filepath.Join(dir, ctrstate.PausedFile)
	if pause {
		if err := rt.pause(ctx, rec.ID); err != nil {
			return fmt.Errorf("container %q: pause: %w", rec.Config.Name, err)
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return fmt.Errorf("container %q: pause: %w", rec.Config.Name, err)
		}
		e.containerEvent(ctx, "pause", rec)
		return nil
	}
	if err := rt.resume(ctx, rec.ID); err != nil {
		return fmt.Errorf("container %q: unpause: %w", rec.Config.Name, err)
	}
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("container %q: unpause: %w", rec.Config.Name, err)
	}
	e.containerEvent(ctx, "unpause", rec)
	return nil
}
