package engine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// active tells whether a container in status s has a run to stop: running,
// paused, or between two runs of its restart policy.
func active(s Status) bool {
	return s == StatusRunning || s == StatusPaused || s == StatusRestarting
}

// markStopping writes the stopping marker, which the shim reads before
// every restart and after every start: a container being stopped is not
// restarted, and one the shim had just restarted is killed by it. Start
// removes the marker.
//
// The marker is an empty file whose existence is all it says, so creating
// it is atomic without a temporary file, and it needs no fsync: it matters
// only while the shim runs, and nothing runs after a crash of the machine.
// (Two fsyncs per container were the largest part of signalling 20
// containers on a busy disk.)
func markStopping(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, ctrstate.StoppingFile), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// clearStopping removes the stopping marker, the last run's health and
// the restart policy an update gave it (the new run's shim is given the
// record's) before a start.
func clearStopping(dir string) error {
	var errs []error
	for _, f := range []string{ctrstate.StoppingFile, ctrstate.HealthFile, ctrstate.RestartFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shimArgs are the shim's options from the container's record: its
// terminal, restart policy and healthcheck.
func shimArgs(rec *record) []string {
	var args []string
	if rec.Config.Init {
		args = append(args, "--init") // wait for the init's readiness (ctrstate.InitReadyArg)
	}
	if rec.Config.Tty {
		args = append(args, "--tty")
	}
	if rec.Config.OpenStdin {
		args = append(args, "--stdin")
	}
	if rec.Config.AutoRemove && rec.Config.AutoRemoveOwner == nil {
		args = append(args, "--auto-remove")
	}
	switch p := rec.Config.Restart; p.Name {
	case "always", "unless-stopped":
		args = append(args, "--restart", p.Name)
	case "on-failure":
		args = append(args, "--restart", "on-failure:"+strconv.Itoa(p.MaxRetries))
	}
	if l := rec.Config.Logging; l.MaxSize > 0 {
		args = append(args, "--log-max-size", strconv.FormatInt(l.MaxSize, 10), "--log-max-file", strconv.Itoa(max(l.MaxFile, 1)))
		if l.Compress && l.MaxFile > 1 {
			args = append(args, "--log-compress") // through `berth log-compress`: see LogConfig.Compress
		}
	}
	args = append(args, healthArgs(effectiveHealthcheck(rec.Config.Healthcheck, rec.ImageConfig.Healthcheck))...)
	return args
}

// runcDeleteArgs lets the shim of a container run by runc, with a PID
// namespace of its own, delete runc's state of the stopped container
// itself, as `runc delete` would (its cgroup, then its state directory),
// instead of running runc once more per exit: the one run of runc left on
// the way from a signal to a removed container. With the host's or another
// container's PID namespace, runc's delete also kills what is left in the
// cgroup, so runc does it. Another runtime keeps its own delete.
func runcDeleteArgs(rtPath string, rec *record) []string {
	if filepath.Base(rtPath) != "runc" || rec.Config.PidMode != "" {
		return nil
	}
	return []string{"--runc-cgroup", cgroupsPath(rec.Config, rec.ID)}
}
