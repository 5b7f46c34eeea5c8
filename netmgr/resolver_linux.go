package netmgr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// resolverReadyTimeout bounds the wait for a new resolver to listen.
const resolverReadyTimeout = 10 * time.Second

// resolverStopTimeout bounds the wait for a resolver to exit after SIGTERM
// (and again after SIGKILL).
const resolverStopTimeout = 3 * time.Second

// resolverReady is what a resolver writes on its readiness pipe once it
// listens.
const resolverReady = "ready"

// ensureResolverLocked starts the resolver of network n unless the one its
// record names still runs, and records it. The network lock must be held.
func (m *Manager) ensureResolverLocked(ctx context.Context, n *Network) (retErr error) {
	if resolverAlive(n) {
		return nil
	}
	// One started by a berth killed before it recorded it holds the
	// gateway's port 53.
	if err := m.stopResolvers(n.Name, nil); err != nil {
		return fmt.Errorf("network %q: resolver: %w", n.Name, err)
	}
	ups := m.opt.Upstreams
	if ups == nil {
		var err error
		if ups, err = hostUpstreams(m.opt.ResolvConf); err != nil {
			return fmt.Errorf("network %q: resolver: upstreams: %w", n.Name, err)
		}
	}
	args := []string{"resolver", "--root", m.opt.Root, "--network", n.Name}
	for _, u := range ups {
		args = append(args, "--upstream", u)
	}
	logPath := m.resolverLog(n.Name)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return fmt.Errorf("network %q: resolver: %w", n.Name, err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("network %q: resolver: %w", n.Name, err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("network %q: resolver: %w", n.Name, err)
	}
	defer r.Close()
	cmd := exec.Command(m.opt.Exe, args...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	m.log.Debug("exec resolver", "network", n.Name, "cmd", m.opt.Exe+" "+strings.Join(args, " "))
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		return fmt.Errorf("network %q: resolver: %w", n.Name, err)
	}
	// Reaped here while this process runs; by init once it is gone.
	go func() { _ = cmd.Wait() }()
	proc := Process{Pid: cmd.Process.Pid}
	defer func() {
		if retErr != nil {
			_ = cmd.Process.Kill()
		}
	}()
	msg := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, 4096))
		msg <- string(b)
	}()
	timer := time.NewTimer(resolverReadyTimeout)
	defer timer.Stop()
	select {
	case s := <-msg:
		switch s {
		case resolverReady:
		case "":
			return fmt.Errorf("network %q: resolver exited at start (see %s)", n.Name, logPath)
		default:
			return fmt.Errorf("network %q: resolver: %s", n.Name, strings.TrimSpace(s))
		}
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return fmt.Errorf("network %q: resolver not ready after %s (see %s)", n.Name, resolverReadyTimeout, logPath)
	}
	start, _, err := procStart(proc.Pid)
	if err != nil {
		return fmt.Errorf("network %q: resolver: %w", n.Name, err)
	}
	proc.Start = start
	n.Resolver = &proc
	if err := m.writeRecord(n); err != nil {
		n.Resolver = nil
		return err
	}
	m.log.Debug("resolver started", "network", n.Name, "pid", proc.Pid)
	return nil
}

// stopResolvers stops recorded, the resolver a network's record names,
// and every other resolver process of network in this root: one whose start
// was not recorded because berth was killed in between. The network lock
// must be held.
func (m *Manager) stopResolvers(network string, recorded *Process) error {
	errs := []error{stopProcess(recorded)}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	want := []string{"resolver", "--root", m.opt.Root, "--network", network}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue // gone
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if len(args) < 1+len(want) || !slices.Equal(args[1:1+len(want)], want) {
			continue
		}
		start, zombie, err := procStart(pid)
		if err != nil || zombie {
			continue
		}
		errs = append(errs, stopProcess(&Process{Pid: pid, Start: start}))
	}
	return errors.Join(errs...)
}

// stopProcess ends p (SIGTERM, then SIGKILL) and waits until it is gone. A
// nil or finished process counts as stopped. It signals and waits through
// a pidfd (woken by the exit at once, and never hitting a reused PID),
// else by polling.
func stopProcess(p *Process) error {
	if p == nil {
		return nil
	}
	fd, err := unix.PidfdOpen(p.Pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return stopProcessPolling(p)
	}
	defer unix.Close(fd)
	if !processAlive(*p) { // checked once the pidfd pins the PID
		return nil
	}
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGKILL} {
		if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %d: %w", p.Pid, err)
		}
		deadline := time.Now().Add(resolverStopTimeout)
		for {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(max(left.Milliseconds(), 1)))
			if err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("wait for %d: %w", p.Pid, err)
			}
			if n > 0 {
				return nil
			}
		}
	}
	return fmt.Errorf("process %d still running after SIGKILL", p.Pid)
}

// stopProcessPolling is stopProcess without pidfds.
func stopProcessPolling(p *Process) error {
	if !processAlive(*p) {
		return nil
	}
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGKILL} {
		if err := unix.Kill(p.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %d: %w", p.Pid, err)
		}
		deadline := time.Now().Add(resolverStopTimeout)
		for time.Now().Before(deadline) {
			if !processAlive(*p) {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return fmt.Errorf("process %d still running after SIGKILL", p.Pid)
}

// processAlive reports whether p runs (a zombie does not).
func processAlive(p Process) bool {
	start, zombie, err := procStart(p.Pid)
	return err == nil && !zombie && start == p.Start
}

// procStart reads the start time of process pid and whether it is a zombie.
func procStart(pid int) (start uint64, zombie bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return start, f[0] == "Z" || f[0] == "X", nil
}
