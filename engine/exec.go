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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

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
	// Privileged gives the process every capability, as docker exec
	// --privileged does.
	Privileged bool
	// Detach starts the process and returns at once with code 0, its
	// output discarded (docker exec -d); the container's init reaps it.
	Detach bool
}

// ExecIO is where the process's standard streams go; nil is none.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// OwnTerminal, with Tty, says Stdin is a terminal the caller made for
	// this process (an API server's pty), not its own controlling one:
	// the runtime is started in a session of its own with Stdin as its
	// controlling terminal, so it relays it and follows its size.
	OwnTerminal bool
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
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return -1, err
	}
	if st.Status != StatusRunning {
		return -1, fmt.Errorf("container %q is %s, not running: %w", rec.Config.Name, st.Status, errdefs.ErrFailedPrecondition)
	}
	if len(cfg.Cmd) == 0 || cfg.Cmd[0] == "" {
		return -1, fmt.Errorf("exec: no command: %w", errdefs.ErrInvalidArgument)
	}
	rtPath, err := e.runtimePath(rec.Config.Runtime)
	if err != nil {
		return -1, err
	}
	logFile, err := os.CreateTemp(dir, ".exec-*.log")
	if err != nil {
		return -1, err
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	env := slices.Clone(cfg.Env)
	for i, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return -1, fmt.Errorf("exec: env[%d]: %q is not KEY=VALUE: %w", i, kv, errdefs.ErrInvalidArgument)
		}
	}
	if cfg.WorkingDir != "" && !filepath.IsAbs(cfg.WorkingDir) {
		return -1, fmt.Errorf("exec: working directory %q: not absolute: %w", cfg.WorkingDir, errdefs.ErrInvalidArgument)
	}
	var user *execUser
	if cfg.User != "" {
		u, err := resolveUserInRootfs(filepath.Join(dir, ctrstate.RootfsDir), cfg.User)
		if err != nil {
			return -1, fmt.Errorf("exec: user %q: %w", cfg.User, err)
		}
		user = &execUser{uid: u.UID, gid: u.GID, gids: u.AdditionalGIDs}
		if !hasEnv(env, "HOME") {
			env = append(env, "HOME="+u.Home)
		}
	}
	args := []string{"--log", logFile.Name(), "exec"}
	if cfg.Detach {
		if cfg.Tty {
			return -1, fmt.Errorf("exec: a detached process cannot have a terminal: %w", errdefs.ErrInvalidArgument)
		}
		args = append(args, "--detach")
		stdio = ExecIO{}
	}
	if size, ok := terminalSize(cfg.Tty, stdio.Stdin); ok {
		// The whole process, with the terminal's size: the runtime sizes
		// the new terminal before the process starts (with --tty alone it
		// does so just after, and a process that looks at once sees 0x0).
		path, err := writeExecProcess(dir, cfg, env, user, size)
		if err != nil {
			return -1, fmt.Errorf("exec: %w", err)
		}
		defer os.Remove(path)
		args = append(args, "--process", path, string(rec.ID))
	} else {
		args = append(args, execFlags(cfg, env, user)...)
		args = append(append(args, string(rec.ID)), cfg.Cmd...)
	}
	argv := ctrstate.RuntimeArgs(ctrstate.RuntimeRoot(e.opt.RunDir), args...)
	e.log.DebugContext(ctx, "exec runtime", "cmd", rtPath+" "+strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, rtPath, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	if cfg.Tty && stdio.OwnTerminal {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
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

// execUser is the user an exec runs as, resolved in the container.
type execUser struct {
	uid, gid uint32
	gids     []uint32
}

// execFlags are the runtime's exec flags for cfg, on top of the
// container's own process.
func execFlags(cfg ExecConfig, env []string, user *execUser) []string {
	var args []string
	if cfg.Tty {
		args = append(args, "--tty")
	}
	for _, kv := range env {
		args = append(args, "--env", kv)
	}
	if cfg.WorkingDir != "" {
		args = append(args, "--cwd", cfg.WorkingDir)
	}
	if cfg.Privileged {
		for _, c := range allCapabilities {
			args = append(args, "--cap", c)
		}
	}
	if user != nil {
		args = append(args, "--user", fmt.Sprintf("%d:%d", user.uid, user.gid))
		for _, g := range user.gids {
			args = append(args, "--additional-gids", strconv.FormatUint(uint64(g), 10))
		}
	}
	return args
}

// terminalSize is the size of the caller's terminal an exec with a
// terminal relays (its stdin), if it has one.
func terminalSize(tty bool, stdin io.Reader) (unix.Winsize, bool) {
	f, ok := stdin.(*os.File)
	if !tty || !ok {
		return unix.Winsize{}, false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 || ws.Col == 0 {
		return unix.Winsize{}, false
	}
	return *ws, true
}

// writeExecProcess writes the process of an exec as the runtime's
// --process takes it: the container's own process (its capabilities,
// limits, environment…) with cfg's command, environment on top, working
// directory and user, a terminal of the given size. It returns the file's
// path, in the container directory.
func writeExecProcess(dir string, cfg ExecConfig, env []string, user *execUser, size unix.Winsize) (string, error) {
	var spec specs.Spec
	if err := readJSON(filepath.Join(dir, ctrstate.BundleDir, "config.json"), &spec); err != nil {
		return "", err
	}
	if spec.Process == nil {
		return "", fmt.Errorf("%s: no process: %w", filepath.Join(dir, ctrstate.BundleDir, "config.json"), errdefs.ErrDataLoss)
	}
	p := *spec.Process
	p.Args = cfg.Cmd
	p.Env = append(slices.Clone(p.Env), env...)
	p.Terminal = true
	p.ConsoleSize = &specs.Box{Height: uint(size.Row), Width: uint(size.Col)}
	if cfg.WorkingDir != "" {
		p.Cwd = cfg.WorkingDir
	}
	if user != nil {
		p.User = specs.User{UID: user.uid, GID: user.gid, AdditionalGids: user.gids}
	}
	if cfg.Privileged {
		all := slices.Clone(allCapabilities)
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	b, err := json.Marshal(&p)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".exec-*.json")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
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
	if st, err := e.observeDir(ctx, dir); err != nil {
		return nil, err
	} else if st.Status != StatusRunning && st.Status != StatusPaused {
		return nil, fmt.Errorf("container %q is %s, not running: %w", rec.Config.Name, st.Status, errdefs.ErrFailedPrecondition)
	}
	rt, err := e.runtime(rec.Config.Runtime)
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
