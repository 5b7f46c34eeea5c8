package shim

import (
	"errors"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwarded are the signals the init passes on to its child. Busybox sh,
// httpd and sleep run as PID 1 ignore SIGTERM; as the init's child they do not.
var forwarded = []os.Signal{
	unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT,
}

// IsInit reports whether this process is a container's init: the berth
// binary bind-mounted at /.berth/init and run under that name. main checks
// it first, before looking at its arguments.
func IsInit() bool { return filepath.Base(os.Args[0]) == "init" }

// MaybeInit runs InitMain and exits when IsInit; otherwise it returns.
func MaybeInit() {
	if IsInit() {
		os.Exit(InitMain(os.Args[1:]))
	}
}

// InitMain is the container's PID 1: args are ctrstate.InitReadyArg
// (optional), "--" and the command. It starts the command, forwards
// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH and SIGCONT
// to it, reaps every zombie the container makes, and returns the command's
// exit code (128+n if signal n killed it; 127 when the command is not
// found, 126 when it cannot be run).
//
// Once it forwards signals, and before it starts the command, it writes a
// byte to its readiness descriptor and closes it (see
// ctrstate.InitReadyArg): the shim waits for that before it reports the
// container running, so no stop signal can come before this process
// handles it.
func InitMain(args []string) int {
	readyFD := -1
	if len(args) > 0 && strings.HasPrefix(args[0], "--ready-fd=") {
		n, err := strconv.Atoi(strings.TrimPrefix(args[0], "--ready-fd="))
		if err != nil || n < 3 {
			initError("bad " + args[0])
			return 2
		}
		readyFD, args = n, args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		initError("no command")
		return 2
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, append([]os.Signal{unix.SIGCHLD}, forwarded...)...)
	if readyFD >= 0 {
		// Not inherited by the command either way: closed here.
		_, _ = unix.Write(readyFD, []byte{'r'})
		_ = unix.Close(readyFD)
	}
	path, err := lookPath(args[0])
	if err != nil {
		initError(err.Error())
		if errors.Is(err, fs.ErrPermission) {
			return 126
		}
		return 127
	}
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		initError("exec " + path + ": " + err.Error())
		if errors.Is(err, fs.ErrPermission) {
			return 126
		}
		return 127
	}
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			_ = unix.Kill(pid, sig.(syscall.Signal))
			continue
		}
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || wpid <= 0 {
				break
			}
			if wpid == pid {
				return exitCode(ws)
			}
		}
	}
	return 255 // not reached: sigs is never closed
}

func initError(msg string) {
	_, _ = os.Stderr.WriteString("berth-init: " + msg + "\n")
}
