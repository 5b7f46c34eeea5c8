package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/smallfile"
)

// stateFile is state.json as the engine reads it: the State, plus what
// identifies the shim and the init (a PID alone may have been reused).
type stateFile struct {
	Version int `json:"version"`
	State
	InitStart uint64 `json:"init_start,omitempty"`
	ShimPid   int    `json:"shim_pid,omitempty"`
	ShimStart uint64 `json:"shim_start,omitempty"`
}

// errLostExit is the Error of a container whose shim died before it could
// record the exit.
const errLostExit = "the shim exited without recording the container's exit status"

// lostExitCode is the exit code reported when the real one was lost
// (Docker's choice for containers it lost track of).
const lostExitCode = 255

func readJSON(path string, v any) error {
	b, err := smallfile.Read(path)
	if err != nil {
		return err
	}
	return decodeJSON(path, b, v)
}

// decodeJSON decodes b, the content of the file at path, into v.
func decodeJSON(path string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: corrupt: %w (%w)", path, err, errdefs.ErrDataLoss)
	}
	return nil
}

// readState reads dir's state.json; a container without one is created.
func readState(dir string) (stateFile, error) {
	var sf stateFile
	p := filepath.Join(dir, ctrstate.StateFile)
	if err := readJSON(p, &sf); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return stateFile{Version: ctrstate.StateVersion, State: State{Status: StatusCreated}}, nil
		}
		return sf, err
	}
	if sf.Version != ctrstate.StateVersion {
		return sf, fmt.Errorf("%s: unknown version %d: %w", p, sf.Version, errdefs.ErrDataLoss)
	}
	return sf, nil
}

// writeState writes dir's state.json, in the shim's format. Only while no
// shim runs for the container (the container lock is held and the shim is
// gone or was never started).
func writeState(dir string, sf stateFile) error {
	cs := ctrstate.State{
		Version:    ctrstate.StateVersion,
		Status:     string(sf.Status),
		Pid:        sf.Pid,
		InitStart:  sf.InitStart,
		ExitCode:   sf.ExitCode,
		OOMKilled:  sf.OOMKilled,
		StartedAt:  sf.StartedAt,
		FinishedAt: sf.FinishedAt,
		Error:      sf.Error,
		ShimPid:    sf.ShimPid,
		ShimStart:  sf.ShimStart,

		RestartCount: sf.RestartCount,
	}
	return atomicfile.WriteFile(filepath.Join(dir, ctrstate.StateFile), cs.Marshal(), 0o644)
}

// observe returns the state to report from what was recorded, checked
// against the processes that live now (see "Honest state" in the package
// documentation). alive tells whether the process pid started at start
// lives.
func observe(sf stateFile, paused bool, alive func(pid int, start uint64) bool) State {
	st := sf.State
	if st.Status == StatusRestarting {
		if sf.ShimPid != 0 && alive(sf.ShimPid, sf.ShimStart) {
			return st
		}
		// The shim died while waiting to restart: the last run's exit
		// stands.
		st.Status = StatusExited
		return st
	}
	if st.Status != StatusRunning {
		return st
	}
	if sf.ShimPid != 0 && alive(sf.ShimPid, sf.ShimStart) {
		if paused {
			st.Status = StatusPaused
		}
		return st
	}
	if sf.Pid != 0 && alive(sf.Pid, sf.InitStart) {
		// The container outlived its shim: it runs, unsupervised.
		if paused {
			st.Status = StatusPaused
		}
		st.Error = "the shim is gone: the container runs without log collection or exit tracking"
		return st
	}
	st.Status = StatusExited
	st.ExitCode = lostExitCode
	st.Error = errLostExit
	st.Pid = 0
	return st
}

// shimFinished tells whether the shim recorded the end of the run itself
// (and so already deleted the container from the runtime).
func shimFinished(sf stateFile) bool {
	return sf.Status == StatusExited && sf.ShimPid != 0 && !sf.FinishedAt.IsZero()
}

// readObserved reads dir's state.json and observes it. A shim records the
// end of a run in state.json before it exits, so a reading whose shim is
// found gone may predate that last write: observe would then take a shim
// that exited a moment ago for one that died without recording, and report
// the run's exit code lost (255). The file is read once more, final now
// that its shim is gone.
//
// A run found lost (its shim and its init gone, its end never recorded) is
// settled: see settleLost.
func (e *Engine) readObserved(ctx context.Context, dir string) (stateFile, State, error) {
	sf, err := readState(dir)
	if err != nil {
		return sf, State{}, err
	}
	paused := isPaused(dir)
	st := observe(sf, paused, e.alive)
	if st.Status == StatusExited && sf.Status != StatusExited {
		if sf, err = readState(dir); err != nil {
			return sf, State{}, err
		}
		st = observe(sf, paused, e.alive)
	}
	if lost(sf, st) {
		e.settleLost(ctx, dir)
	}
	return sf, st, nil
}

// lost tells whether st, observed from sf, is the end of a run whose shim
// died without recording it: state.json says running, and neither the
// shim nor the init lives.
func lost(sf stateFile, st State) bool {
	return sf.Status == StatusRunning && st.Status == StatusExited
}

// settleLost records the end of dir's lost run, as settleLostLocked, if
// the container's lock is free: whichever process or goroutine notices the
// loss first records its die, once (the lock and the state it writes make
// a second notice find the run settled). A holder of the lock that reads a
// lost run (Start, Stop, Remove) settles it itself; any other leaves it to
// the next reading. Failures are logged: the reading stands.
func (e *Engine) settleLost(ctx context.Context, dir string) {
	unlock, ok := tryLockDir(dir)
	if !ok {
		return
	}
	defer unlock()
	rec, err := readRecord(dir)
	if err != nil {
		return // being removed
	}
	sf, err := readState(dir)
	if err == nil {
		_, err = e.settleLostLocked(ctx, dir, rec, sf)
	}
	if err != nil {
		e.log.WarnContext(ctx, "recording the end of a container whose shim died", "container", rec.Config.Name, "err", err)
	}
}

// settleLostLocked, with the container lock held and sf just read: if sf
// is a lost run, writes its end (exit code 255, the error saying so, no
// shim) to state.json and records its die; it returns the state as it now
// is on disk.
func (e *Engine) settleLostLocked(ctx context.Context, dir string, rec *record, sf stateFile) (stateFile, error) {
	st := observe(sf, isPaused(dir), e.alive)
	if !lost(sf, st) {
		return sf, nil
	}
	return e.recordEndLocked(ctx, dir, rec, sf)
}

// recordEndLocked writes the end of sf's run, whose shim died without
// recording it and whose processes are gone, and records the container's
// die; it returns the state written. The container lock is held.
func (e *Engine) recordEndLocked(ctx context.Context, dir string, rec *record, sf stateFile) (stateFile, error) {
	sf.State = observe(sf, false, func(int, uint64) bool { return false })
	sf.FinishedAt = time.Now().UTC()
	// No shim recorded this end: releaseRun must still delete the run from
	// the runtime (shimFinished).
	sf.ShimPid, sf.ShimStart = 0, 0
	if err := writeState(dir, sf); err != nil {
		return sf, err
	}
	e.containerEvent(ctx, "die", rec, "exitCode", strconv.Itoa(sf.ExitCode))
	return sf, nil
}

func (e *Engine) observeDir(ctx context.Context, dir string) (State, error) {
	_, st, err := e.readObserved(ctx, dir)
	if err != nil {
		return State{}, err
	}
	if st.Status == StatusRunning || st.Status == StatusPaused {
		// The health of the current run; a run that ended has none.
		h, err := readHealth(dir)
		if err != nil {
			return State{}, err
		}
		st.Health = h
	}
	return st, nil
}

func isPaused(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ctrstate.PausedFile))
	return err == nil
}
