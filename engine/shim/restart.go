package shim

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// Restart back-off, as Docker's: the delay before a restart starts at
// backoffMin and doubles after each run shorter than backoffReset, up to
// backoffMax; a run that lasted backoffReset starts over.
const (
	backoffMin   = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
	// stopPoll is how often the shim looks for the stopping marker while
	// it waits to restart.
	stopPoll = 20 * time.Millisecond
)

// policy is the container's restart policy.
type policy struct {
	name       string // "", "always", "unless-stopped", "on-failure"
	maxRetries int    // on-failure: 0 is no limit
}

func parsePolicy(s string) (policy, error) {
	name, n, hasN := strings.Cut(s, ":")
	switch name {
	case "", "no":
		return policy{}, nil
	case "always", "unless-stopped":
		if !hasN {
			return policy{name: name}, nil
		}
	case "on-failure":
		if !hasN {
			return policy{name: name}, nil
		}
		if v, err := strconv.Atoi(n); err == nil && v >= 0 {
			return policy{name: name, maxRetries: v}, nil
		}
	}
	return policy{}, errors.New("bad restart policy " + strconv.Quote(s))
}

// restarts tells whether a run that ended with code, after count restarts,
// is restarted.
func (p policy) restarts(code, count int) bool {
	switch p.name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.maxRetries == 0 || count < p.maxRetries)
	}
	return false
}

// nextDelay is the back-off before the next restart, given the previous
// one and how long the last run lasted.
func nextDelay(prev, ran time.Duration) time.Duration {
	if prev == 0 || ran >= backoffReset {
		return backoffMin
	}
	return min(2*prev, backoffMax)
}

// run supervises the container until it exits for good: each run is
// recorded when it ends, and restarted as the policy says unless the
// engine is stopping the container. Between runs state.json says
// restarting.
func (s *shim) run(st ctrstate.State) {
	var delay time.Duration
	again := func(code int) bool { return s.opt.restart.restarts(code, st.RestartCount) && !s.stopping() }
	for {
		s.supervise(&st, again)
		if st.Status != ctrstate.StatusRestarting {
			return
		}
		// Wait, then start again, until a start succeeds or the policy or
		// the engine says no more.
		for {
			delay = nextDelay(delay, st.FinishedAt.Sub(st.StartedAt))
			if !s.sleepUnlessStopping(delay) {
				st.Status = ctrstate.StatusExited
				s.recordState(&st)
				return
			}
			st.RestartCount++
			s.restarts = st.RestartCount
			next, err := s.start()
			if err == nil {
				st = next
				break
			}
			// A failed start counts as a failed run, as in Docker.
			s.logf("restart: " + err.Error())
			now := time.Now().UTC()
			st.ExitCode, st.Error, st.StartedAt, st.FinishedAt = 128, err.Error(), now, now
			st.Status = ctrstate.StatusExited
			if again(st.ExitCode) {
				st.Status = ctrstate.StatusRestarting
			}
			s.recordState(&st)
			if st.Status != ctrstate.StatusRestarting {
				return
			}
		}
		if s.stopping() {
			// Stopped while it was being restarted: the engine's signal
			// may have missed it.
			s.kill(st.Pid)
		}
	}
}

func (s *shim) recordState(st *ctrstate.State) {
	if err := s.writeState(st); err != nil {
		s.logf(err.Error())
	}
}

// stopping tells whether the engine is stopping the container.
func (s *shim) stopping() bool {
	_, err := os.Stat(s.path(ctrstate.StoppingFile))
	return err == nil
}

// sleepUnlessStopping waits d and reports true, or false as soon as the
// engine starts stopping the container.
func (s *shim) sleepUnlessStopping(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s.stopping() {
			return false
		}
		time.Sleep(min(stopPoll, time.Until(deadline)))
	}
	return !s.stopping()
}

// consoleSocket receives the master side of the container's terminal from
// the runtime (runc create --console-socket). It listens in the abstract
// namespace: no file to clean up, no path length limit.
type consoleSocket struct {
	path string
	l    *unixListener
}

func listenConsole(id string) (*consoleSocket, error) {
	if len(id) > 32 {
		id = id[:32]
	}
	path := "@berth-console-" + id + "-" + strconv.Itoa(os.Getpid())
	l, err := listenUnix(path)
	if err != nil {
		return nil, errors.New("console socket: " + err.Error())
	}
	return &consoleSocket{path: path, l: l}, nil
}

// receive takes the terminal the runtime sent; runc create has returned,
// so the connection is already queued.
func (c *consoleSocket) receive() (*os.File, error) {
	deadline := time.Now().Add(10 * time.Second)
	_ = c.l.f.SetDeadline(deadline)
	conn, err := c.l.accept()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	fds, err := recvFds(conn)
	if err != nil {
		return nil, err
	}
	if len(fds) == 0 {
		return nil, errors.New("no terminal received")
	}
	for _, fd := range fds[1:] {
		_ = unix.Close(fd)
	}
	unix.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), "console"), nil
}

func (c *consoleSocket) close() { _ = c.l.close() }
