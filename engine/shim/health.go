package shim

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// Healthcheck defaults and limits, Docker's.
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthStartInterval = 5 * time.Second
	defaultHealthRetries       = 3
	healthLogLen               = 5    // results kept
	healthOutputMax            = 4096 // bytes of output kept per result
)

// healthConfig is the container's healthcheck, as the engine resolved it
// (the container's over the image's): --health-test once per word of the
// command (["CMD", args…] or ["CMD-SHELL", command]), and the timings.
type healthConfig struct {
	test                                           []string
	interval, timeout, startPeriod, startInterval  time.Duration
	retries                                        int
	intervalArg, timeoutArg, periodArg, startIvArg string
	retriesArg                                     string
}

func (h *healthConfig) field(flag string) *string {
	switch flag {
	case "--health-interval":
		return &h.intervalArg
	case "--health-timeout":
		return &h.timeoutArg
	case "--health-start-period":
		return &h.periodArg
	case "--health-start-interval":
		return &h.startIvArg
	}
	return &h.retriesArg
}

func (h *healthConfig) parse() error {
	for _, d := range []struct {
		arg string
		dst *time.Duration
		def time.Duration
	}{
		{h.intervalArg, &h.interval, defaultHealthInterval},
		{h.timeoutArg, &h.timeout, defaultHealthTimeout},
		{h.periodArg, &h.startPeriod, 0},
		{h.startIvArg, &h.startInterval, defaultHealthStartInterval},
	} {
		*d.dst = d.def
		if d.arg == "" {
			continue
		}
		v, err := time.ParseDuration(d.arg)
		if err != nil || v < 0 {
			return errors.New("bad healthcheck duration " + strconv.Quote(d.arg))
		}
		if v > 0 || d.def == 0 {
			*d.dst = v
		}
	}
	h.retries = defaultHealthRetries
	if h.retriesArg != "" {
		n, err := strconv.Atoi(h.retriesArg)
		if err != nil || n < 0 {
			return errors.New("bad healthcheck retries " + strconv.Quote(h.retriesArg))
		}
		if n > 0 {
			h.retries = n
		}
	}
	if len(h.test) == 0 {
		return nil
	}
	switch h.test[0] {
	case "CMD":
		h.test = h.test[1:]
	case "CMD-SHELL":
		if len(h.test) != 2 {
			return errors.New("CMD-SHELL healthcheck takes one command")
		}
		h.test = []string{"/bin/sh", "-c", h.test[1]}
	case "NONE":
		h.test = nil
		return nil
	default:
		return errors.New("bad healthcheck test " + strconv.Quote(h.test[0]))
	}
	if len(h.test) == 0 {
		return errors.New("empty healthcheck command")
	}
	return nil
}

// children hands the exit statuses reap collects to the goroutines that
// started those processes (a process of the shim is reaped by reap's
// wait4(-1), never by os/exec).
type children struct {
	mu        sync.Mutex
	waiters   map[int]chan unix.WaitStatus
	unclaimed map[int]unix.WaitStatus // exits reaped before their waiter came
}

// start starts the process with the children lock held, so that its exit
// cannot be delivered before its waiter exists.
func (c *children) start(p *os.ProcAttr, argv []string) (int, <-chan unix.WaitStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	proc, err := os.StartProcess(argv[0], argv, p)
	if err != nil {
		return 0, nil, err
	}
	pid := proc.Pid
	_ = proc.Release()
	ch := make(chan unix.WaitStatus, 1)
	if ws, ok := c.unclaimed[pid]; ok {
		delete(c.unclaimed, pid)
		ch <- ws
		return pid, ch, nil
	}
	if c.waiters == nil {
		c.waiters = map[int]chan unix.WaitStatus{}
	}
	c.waiters[pid] = ch
	return pid, ch, nil
}

func (c *children) deliver(pid int, ws unix.WaitStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.waiters[pid]; ok {
		delete(c.waiters, pid)
		ch <- ws
	}
	// An orphan's exit needs no record; a waiter's comes in under the
	// lock held by start, so none is missed.
}

// forget drops the waiter of a process abandoned when the container exited.
func (c *children) forget(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.waiters, pid)
}

// healthResult is one run of the check.
type healthResult struct {
	start, end time.Time
	exitCode   int
	output     []byte
}

// healthState is what health.json records.
type healthState struct {
	status        string // "starting", "healthy", "unhealthy"
	failingStreak int
	log           []healthResult
}

// startHealth runs the healthcheck while the container runs, and returns
// the function that stops it. Status starts as starting at each run.
func (s *shim) startHealth() (stop func()) {
	h := s.opt.health
	if len(h.test) == 0 {
		return func() {}
	}
	hs := &healthState{status: "starting"} // written by start
	done := make(chan struct{})
	finished := make(chan struct{})
	started := time.Now()
	go func() {
		defer close(finished)
		for {
			wait := h.interval
			if time.Since(started) < h.startPeriod {
				wait = min(h.startInterval, h.interval)
			}
			select {
			case <-done:
				return
			case <-time.After(wait):
			}
			if _, err := os.Stat(s.path(ctrstate.PausedFile)); err == nil {
				continue // a frozen container is not probed, as in Docker
			}
			inStartPeriod := time.Since(started) < h.startPeriod
			r, ok := s.probe(done)
			if !ok {
				return
			}
			hs.log = append(hs.log, r)
			if len(hs.log) > healthLogLen {
				hs.log = hs.log[len(hs.log)-healthLogLen:]
			}
			switch {
			case r.exitCode == 0:
				hs.status, hs.failingStreak = "healthy", 0
			case inStartPeriod && hs.status == "starting":
				// Failures in the start period do not count.
			default:
				hs.failingStreak++
				if hs.failingStreak >= h.retries {
					hs.status = "unhealthy"
				}
			}
			s.writeHealth(hs)
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// probe runs the check once through the runtime's exec, killing it after
// the timeout. ok is false when stopped by done (the container exited).
func (s *shim) probe(done <-chan struct{}) (r healthResult, ok bool) {
	h := s.opt.health
	r.start = time.Now()
	pidFile := s.path("health.pid")
	_ = os.Remove(pidFile)
	argv := append([]string{s.opt.runtime}, ctrstate.RuntimeArgs(ctrstate.RuntimeRoot(s.opt.runDir),
		append([]string{"exec", "--pid-file", pidFile, s.opt.id}, h.test...)...)...)
	outR, outW, err := os.Pipe()
	if err != nil {
		r.end, r.exitCode, r.output = time.Now(), -1, []byte(err.Error())
		return r, true
	}
	devnull, _ := os.Open(os.DevNull)
	pid, exited, err := s.children.start(&os.ProcAttr{Dir: "/", Files: []*os.File{devnull, outW, outW}}, argv)
	_ = outW.Close()
	if devnull != nil {
		_ = devnull.Close()
	}
	if err != nil {
		_ = outR.Close()
		r.end, r.exitCode, r.output = time.Now(), -1, []byte(err.Error())
		return r, true
	}
	output := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(outR, healthOutputMax))
		_, _ = io.Copy(io.Discard, outR)
		_ = outR.Close()
		output <- b
	}()
	timer := time.NewTimer(h.timeout)
	defer timer.Stop()
	select {
	case ws := <-exited:
		r.exitCode = exitCode(ws)
	case <-timer.C:
		// Kill the check inside the container, then the runtime's exec.
		if p, err := readPid(pidFile); err == nil {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		_ = unix.Kill(pid, unix.SIGKILL)
		select {
		case <-exited:
		case <-done:
			s.children.forget(pid)
			return r, false
		}
		r.exitCode = -1
		r.end = time.Now()
		r.output = []byte("Health check exceeded timeout (" + h.timeout.String() + ")")
		<-output
		return r, true
	case <-done:
		s.children.forget(pid)
		return r, false
	}
	r.end = time.Now()
	r.output = <-output
	return r, true
}

// writeHealth records hs in health.json, atomically.
func (s *shim) writeHealth(hs *healthState) {
	b := make([]byte, 0, 512)
	b = append(b, `{"status":`...)
	b = ctrstate.AppendJSONString(b, []byte(hs.status))
	b = append(b, `,"failing_streak":`...)
	b = strconv.AppendInt(b, int64(hs.failingStreak), 10)
	b = append(b, `,"log":[`...)
	for i, r := range hs.log {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"start":"`...)
		b = r.start.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","end":"`...)
		b = r.end.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","exit_code":`...)
		b = strconv.AppendInt(b, int64(r.exitCode), 10)
		b = append(b, `,"output":`...)
		b = ctrstate.AppendJSONString(b, r.output)
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	if err := writeFileAtomic(s.path(ctrstate.HealthFile), b, 0o644); err != nil {
		s.logf("health: " + err.Error())
	}
}
