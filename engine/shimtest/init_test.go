package shimtest

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// initProc is the shim binary run as a container's init (under the name
// init), outside any container.
type initProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string   // its working directory
	ready  *os.File // the read side of its --ready-fd=3 pipe, if given
	done   <-chan struct{}
	stdout bytes.Buffer
	stderr bytes.Buffer
}

type initOpts struct {
	readyFD bool                 // pass a pipe as fd 3
	sys     *syscall.SysProcAttr // default: its own session
	argv    []string             // overrides the program: run argv (with the init's args appended)
}

// startInit starts init with args (after the program name).
func startInit(t *testing.T, o initOpts, args ...string) *initProc {
	t.Helper()
	p := &initProc{t: t, dir: t.TempDir()}
	argv := append([]string{initBinary(t)}, args...)
	if o.argv != nil {
		argv = append(append([]string(nil), o.argv...), args...)
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Args[0] = argv[0]
	p.cmd.Dir = p.dir
	p.cmd.Env = append(os.Environ(), "SHIMTEST_VAR=from-env")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.SysProcAttr = o.sys
	// Its command's children may hold the output pipes after it is gone.
	p.cmd.WaitDelay = 2 * time.Second
	if p.cmd.SysProcAttr == nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	var w *os.File
	if o.readyFD {
		var err error
		if p.ready, w, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		p.cmd.ExtraFiles = []*os.File{w}
		t.Cleanup(func() { _ = p.ready.Close() })
	}
	done, err := startOwned(p.cmd)
	if w != nil {
		_ = w.Close()
	}
	if err != nil {
		if o.sys != nil {
			t.Skipf("cannot start init with %+v: %v", o.sys, err)
		}
		t.Fatal(err)
	}
	p.done = done
	t.Cleanup(func() {
		killSession(p.cmd.Process.Pid)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		killSession(p.cmd.Process.Pid)
		reapOrphans(false)
	})
	return p
}

// wait waits for the init to exit and returns its exit code.
func (p *initProc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		p.t.Fatalf("init still running after %v; stderr %q", exitTimeout, p.stderr.String())
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		p.t.Fatalf("init killed by %v", ws.Signal())
	}
	return ws.ExitStatus()
}

// readReady reads the readiness pipe to its end (at most timeout).
func (p *initProc) readReady(timeout time.Duration) ([]byte, error) {
	_ = p.ready.SetReadDeadline(time.Now().Add(timeout))
	return io.ReadAll(p.ready)
}

// file is a path in the init's working directory.
func (p *initProc) file(name string) string { return filepath.Join(p.dir, name) }

// TestInitExitCodes: the init exits with its command's exit code, 128+n
// for a command killed by signal n, 127 for a command not found, 126 for
// one that cannot be run, 2 without a command. The command gets the
// init's stdio and environment.
func TestInitExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		stdout    string
		errOutput bool // the init says something on stderr
	}{
		{"exit code", []string{"--ready-fd=3", "--", "sh", "-c", "echo out $SHIMTEST_VAR; echo err >&2; exit 42"}, 42, "out from-env\n", false},
		{"without --ready-fd", []string{"--", "sh", "-c", "exit 3"}, 3, "", false},
		{"without --", []string{"--ready-fd=3", "sh", "-c", "exit 4"}, 4, "", false},
		{"killed by SIGKILL", []string{"--ready-fd=3", "--", "sh", "-c", "kill -KILL $$"}, 128 + 9, "", false},
		{"killed by SIGTERM", []string{"--ready-fd=3", "--", "sh", "-c", "kill -TERM $$"}, 128 + 15, "", false},
		{"not found in PATH", []string{"--ready-fd=3", "--", "no-such-command-shimtest"}, 127, "", true},
		{"no such file", []string{"--ready-fd=3", "--", "/nonexistent/shimtest/cmd"}, 127, "", true},
		{"not executable", []string{"--ready-fd=3", "--", "$DATA"}, 126, "", true},
		{"a directory", []string{"--ready-fd=3", "--", "/"}, 126, "", true},
		{"no command", []string{"--ready-fd=3", "--"}, 2, "", true},
		{"no arguments", nil, 2, "", true},
		{"bad ready fd", []string{"--ready-fd=x", "--", "true"}, 2, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ready := len(tc.args) > 0 && tc.args[0] == "--ready-fd=3"
			data := filepath.Join(t.TempDir(), "data")
			if err := os.WriteFile(data, []byte("#!/bin/sh\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string(nil), tc.args...)
			for i, a := range args {
				if a == "$DATA" {
					args[i] = data
				}
			}
			p := startInit(t, initOpts{readyFD: ready}, args...)
			code := p.wait()
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr %q", code, tc.code, p.stderr.String())
			}
			if tc.stdout != "" && p.stdout.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", p.stdout.String(), tc.stdout)
			}
			if tc.errOutput && p.stderr.Len() == 0 {
				t.Error("nothing on stderr")
			}
			if ready && tc.code != 2 {
				// Ready before it looks for the command: even one not found.
				b, err := p.readReady(time.Second)
				if err != nil || len(b) != 1 {
					t.Errorf("readiness pipe: %q, %v; want one byte", b, err)
				}
			}
		})
	}
}

// TestInitReady: the init writes one byte on its --ready-fd and closes it
// before it runs the command, which does not inherit it.
func TestInitReady(t *testing.T) {
	t.Parallel()
	p := startInit(t, initOpts{readyFD: true}, "--ready-fd=3", "--", "sh", "-c",
		waitFor+`if [ -e /proc/$$/fd/3 ]; then echo fd3-open; fi; touch running; waitfor release`)
	b, err := p.readReady(readyTimeout)
	if err != nil {
		t.Fatalf("readiness pipe: %v (not closed while the command runs?)", err)
	}
	if len(b) != 1 {
		t.Errorf("readiness pipe: %q, want one byte", b)
	}
	waitFile(t, p.file("running"))
	if err := os.WriteFile(p.file("release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if p.stdout.String() != "" {
		t.Errorf("the command inherited the readiness descriptor: %q", p.stdout.String())
	}
}

// TestInitForwardsSignals: the init passes SIGTERM, SIGINT, SIGHUP,
// SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH and SIGCONT on to its command (and is
// not killed by them itself).
func TestInitForwardsSignals(t *testing.T) {
	t.Parallel()
	sigs := []syscall.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT}
	// A test binary started with a signal ignored (nohup, a background
	// job's SIGINT and SIGQUIT) would pass the ignoring on to the init and
	// its command, whose trap then cannot take the signal. A handler of
	// our own makes the children start with the default.
	for _, sig := range sigs {
		signal.Notify(make(chan os.Signal, 1), sig)
	}
	t.Cleanup(func() {
		for _, sig := range sigs {
			signal.Reset(sig)
		}
	})
	for i, sig := range sigs {
		name := unix.SignalName(sig)
		code := 7 + i
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			script := "trap 'exit " + strconv.Itoa(code) + "' " + name[3:] + "; touch armed; while :; do sleep 0.01; done"
			p := startInit(t, initOpts{readyFD: true}, "--ready-fd=3", "--", "sh", "-c", script)
			if b, err := p.readReady(readyTimeout); err != nil || len(b) != 1 {
				t.Fatalf("readiness pipe: %q, %v", b, err)
			}
			waitFile(t, p.file("armed"))
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if got := p.wait(); got != code {
				t.Errorf("exit code %d, want %d (the command's trap of %s)", got, code, name)
			}
		})
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []proc {
	var out []proc
	for _, p := range listProcs() {
		if p.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// requireReaps checks that the init reaps children it did not start: it
// waits for the init to have three children (two waiting for the file go
// in its directory, the command), creates go, and waits until only the
// command is left, no zombie.
func requireReaps(t *testing.T, p *initProc) {
	t.Helper()
	initPid := p.cmd.Process.Pid
	eventually(t, 5*time.Second, "the init to have 3 children", func() bool { return len(childrenOf(initPid)) >= 3 })
	if err := os.WriteFile(p.file("go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids := childrenOf(initPid)
		if len(kids) == 1 && kids[0].state != 'Z' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the init's children 5s after the others exited (want only its command, no zombie): %+v", kids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInitReapsZombies: the init reaps every child, not only its command.
func TestInitReapsZombies(t *testing.T) {
	t.Parallel()
	const cmd = waitFor + "waitfor release"
	// (The init's command waits for release; its other children for go.)
	t.Run("inherited children", func(t *testing.T) {
		t.Parallel()
		// The children of the shell that execs the init become its children.
		p := startInit(t, initOpts{readyFD: true, argv: []string{"/bin/sh", "-c",
			waitFor + `(exec 3>&-; waitfor go) & (exec 3>&-; waitfor go) & exec "$0" "$@"`, initBinary(t)}}, "--ready-fd=3", "--", "sh", "-c", cmd)
		if b, err := p.readReady(readyTimeout); err != nil || len(b) != 1 {
			t.Fatalf("readiness pipe: %q, %v", b, err)
		}
		requireReaps(t, p)
		if err := os.WriteFile(p.file("release"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(); code != 0 {
			t.Errorf("exit code %d", code)
		}
	})
	t.Run("double fork as PID 1", func(t *testing.T) {
		t.Parallel()
		// In a PID namespace the init is PID 1: orphans come to it.
		sys := &syscall.SysProcAttr{
			Setsid:                     true,
			Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
			GidMappingsEnableSetgroups: false,
		}
		p := startInit(t, initOpts{readyFD: true, sys: sys}, "--ready-fd=3", "--", "sh", "-c",
			waitFor+"(waitfor go &); (waitfor go &); waitfor release")
		if b, err := p.readReady(readyTimeout); err != nil || len(b) != 1 {
			t.Fatalf("readiness pipe: %q, %v", b, err)
		}
		requireReaps(t, p)
		if err := os.WriteFile(p.file("release"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(); code != 0 {
			t.Errorf("exit code %d", code)
		}
	})
}
