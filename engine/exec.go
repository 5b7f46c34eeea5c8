package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// ExecConfig is a process to run in a running container.
type ExecConfig struct {
	Cmd        []string
	Env        []string // KEY=VALUE, over the container's
	User       string   // "": the container's; a name is resolved in the container's /etc/passwd
	WorkingDir string   // "": the container's
	// Tty gives the process a terminal. The runtime makes it and relays it
	// to Stdin and Stdout, which must then be the caller's terminal (an
	// *os.File); it follows that terminal's size.
	Tty bool
}

// ExecIO is where the process's standard streams go; nil is none.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Exec runs cfg in the running container id and returns the process's exit
// code (128+n for signal n) once it has exited. errdefs.ErrFailedPrecondition
// if the container is not running; an error with code 126 or 127 when the
// command cannot be run or is not found, as Docker does. Cancelling ctx
// sends SIGTERM to the process (through the runtime, which forwards it).
func (e *Engine) Exec(ctx context.Context, id ContainerID, cfg ExecConfig, stdio ExecIO) (int, error) {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return -1, err
	}
	if rec == nil {
		return -1, fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	st, err := e.observeDir(dir)
	if err != nil {
		return -1, err
	}
	if st.Status != StatusRunning {
		return -1, fmt.Errorf("container %q is %s, not running: %w", rec.Config.Name, st.Status, errdefs.ErrFailedPrecondition)
	}
	if len(cfg.Cmd) == 0 || cfg.Cmd[0] == "" {
		return -1, fmt.Errorf("exec: no command: %w", errdefs.ErrInvalidArgument)
	}
	rtPath, err := e.runtimePath()
	if err != nil {
		return -1, err
	}
	logFile, err := os.CreateTemp(dir, ".exec-*.log")
	if err != nil {
		return -1, err
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	args := []string{"--log", logFile.Name(), "exec"}
	if cfg.Tty {
		args = append(args, "--tty")
	}
	for i, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return -1, fmt.Errorf("exec: env[%d]: %q is not KEY=VALUE: %w", i, kv, errdefs.ErrInvalidArgument)
		}
		args = append(args, "--env", kv)
	}
	if cfg.WorkingDir != "" {
		if !filepath.IsAbs(cfg.WorkingDir) {
			return -1, fmt.Errorf("exec: working directory %q: not absolute: %w", cfg.WorkingDir, errdefs.ErrInvalidArgument)
		}
		args = append(args, "--cwd", cfg.WorkingDir)
	}
	if cfg.User != "" {
		u, err := resolveUserInRootfs(filepath.Join(dir, ctrstate.RootfsDir), cfg.User)
		if err != nil {
			return -1, fmt.Errorf("exec: user %q: %w", cfg.User, err)
		}
		args = append(args, "--user", fmt.Sprintf("%d:%d", u.UID, u.GID))
		for _, g := range u.AdditionalGIDs {
			args = append(args, "--additional-gids", strconv.FormatUint(uint64(g), 10))
		}
		if !hasEnv(cfg.Env, "HOME") {
			args = append(args, "--env", "HOME="+u.Home)
		}
	}
	args = append(append(args, string(rec.ID)), cfg.Cmd...)
	argv := ctrstate.RuntimeArgs(ctrstate.RuntimeRoot(e.opt.RunDir), args...)
	e.log.DebugContext(ctx, "exec runtime", "cmd", rtPath+" "+strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, rtPath, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return -1, fmt.Errorf("exec: %w", err)
	}
	code := ee.ExitCode()
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	// The runtime logs an error only when the process could not be
	// started; the process's own failures are its exit code.
	b, _ := io.ReadAll(io.LimitReader(logFile, 1<<20))
	if msg := ctrstate.LastErrorMessage(b); msg != "" {
		for _, p := range []string{"exec failed: ", "unable to start container process: "} {
			msg = strings.TrimPrefix(msg, p)
		}
		code = 126
		if strings.Contains(msg, "not found") || strings.Contains(msg, "no such file") {
			code = 127
		}
		return code, fmt.Errorf("exec: %s", msg)
	}
	return code, nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// TopProcess is a process of a running container.
type TopProcess struct {
	PID  int    `json:"pid"`
	PPID int    `json:"ppid"`
	UID  int    `json:"uid"`
	Cmd  string `json:"cmd"`
}

// Top lists the processes of a running container, as the host sees them.
// errdefs.ErrFailedPrecondition if it is not running.
func (e *Engine) Top(ctx context.Context, id ContainerID) ([]TopProcess, error) {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	if st, err := e.observeDir(dir); err != nil {
		return nil, err
	} else if st.Status != StatusRunning && st.Status != StatusPaused {
		return nil, fmt.Errorf("container %q is %s, not running: %w", rec.Config.Name, st.Status, errdefs.ErrFailedPrecondition)
	}
	rt, err := e.runtime()
	if err != nil {
		return nil, err
	}
	out, err := rt.run(ctx, "ps", "--format", "json", string(rec.ID))
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("runtime ps: %w", err)
	}
	var procs []TopProcess
	for _, pid := range pids {
		p := TopProcess{PID: pid}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue // gone meanwhile
		}
		for _, line := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(line, ":")
			f := strings.Fields(v)
			switch {
			case k == "PPid" && len(f) > 0:
				p.PPID, _ = strconv.Atoi(f[0])
			case k == "Uid" && len(f) > 0:
				p.UID, _ = strconv.Atoi(f[0])
			}
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		p.Cmd = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		procs = append(procs, p)
	}
	return procs, nil
}
