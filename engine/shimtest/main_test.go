package shimtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestMain(m *testing.M) {
	// The test binary doubles as a helper of the fake runtime.
	if os.Getenv("SHIMTEST_HELPER") == "console" {
		consoleHelper(os.Args[1:])
		os.Exit(120) // not reached
	}
	// Processes orphaned by a shim (the remover it starts, what a killed
	// shim leaves) come to this process, which reaps them, rather than to
	// a PID 1 that may not.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "shimtest: become child subreaper:", err)
	}
	code := m.Run()
	reapOrphans(true)
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildDir  string // the temporary directory of the built shim and its init link
	shimPath  string
	initPath  string // a symbolic link named init to the shim binary
	buildErr  error
)

// shimBinary returns the shim binary under test, building it once.
func shimBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "shimtest-bin-")
		if buildErr != nil {
			return
		}
		var how string
		shimPath, how, buildErr = obtainShim(buildDir)
		if buildErr != nil {
			return
		}
		t.Logf("shim under test: %s (%s)", shimPath, how)
		initPath = filepath.Join(buildDir, "init")
		buildErr = os.Symlink(shimPath, initPath)
	})
	if buildErr != nil {
		t.Fatalf("shim binary: %v", buildErr)
	}
	return shimPath
}

// initBinary returns the path of a link named init to the shim binary: the
// binary run under that name is a container's init.
func initBinary(t testing.TB) string {
	t.Helper()
	shimBinary(t)
	return initPath
}

// obtainShim returns the path of the shim binary under test, built into
// dir if need be, and how it was obtained.
func obtainShim(dir string) (path, how string, err error) {
	if p := os.Getenv("BERTH_TEST_SHIM"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", "", err
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() {
			return "", "", fmt.Errorf("BERTH_TEST_SHIM=%s: not a file", p)
		}
		return abs, "$BERTH_TEST_SHIM", nil
	}
	out := filepath.Join(dir, "berth-shim")
	procMu.RLock() // see reapOrphans
	err = testutil.BuildShim(out)
	procMu.RUnlock()
	if err != nil {
		return "", "", err
	}
	return out, "testutil.BuildShim", nil
}

// Children of this process started by the tests are registered in owned
// while they run (under procMu's read lock from before they start), so that
// reapOrphans (under its write lock) only reaps the others.
var (
	procMu sync.RWMutex
	owned  sync.Map // pid → true
)

// startOwned starts cmd as one of the tests' own children and returns a
// channel that gets its exit status (cmd.ProcessState) once it has exited.
func startOwned(cmd *exec.Cmd) (<-chan struct{}, error) {
	procMu.RLock()
	err := cmd.Start()
	if err == nil {
		owned.Store(cmd.Process.Pid, true)
	}
	procMu.RUnlock()
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		owned.Delete(cmd.Process.Pid)
		close(done)
	}()
	return done, nil
}

// reapOrphans reaps the zombies among this process's children that the
// tests did not start (orphans of the shims, this process being a child
// subreaper). With kill, the live ones are killed first.
func reapOrphans(kill bool) {
	procMu.Lock()
	defer procMu.Unlock()
	self := os.Getpid()
	for _, p := range listProcs() {
		if p.ppid != self {
			continue
		}
		if _, ok := owned.Load(p.pid); ok {
			continue
		}
		if p.state != 'Z' && !kill {
			continue
		}
		if p.state != 'Z' {
			_ = unix.Kill(p.pid, unix.SIGKILL)
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(p.pid, &ws, 0, nil)
	}
}

// proc is what /proc/PID/stat says of a process.
type proc struct {
	pid, ppid, pgid, sid int
	state                byte
	comm                 string
	start                uint64
}

func readProc(pid int) (proc, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, err
	}
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return proc{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 {
		return proc{}, errors.New("malformed stat")
	}
	p := proc{pid: pid, comm: string(b[open+1 : end]), state: f[0][0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgid, _ = strconv.Atoi(f[2])
	p.sid, _ = strconv.Atoi(f[3])
	p.start, _ = strconv.ParseUint(f[19], 10, 64)
	return p, nil
}

func listProcs() []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProc(pid); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// sessionProcs lists the processes of session sid that are not zombies.
func sessionProcs(sid int) []proc {
	var out []proc
	for _, p := range listProcs() {
		if p.sid == sid && p.state != 'Z' && p.state != 'X' {
			out = append(out, p)
		}
	}
	return out
}

// killSession kills every process of session sid.
func killSession(sid int) {
	if sid <= 1 {
		return
	}
	for range 3 {
		ps := sessionProcs(sid)
		if len(ps) == 0 {
			return
		}
		for _, p := range ps {
			_ = unix.Kill(p.pid, unix.SIGKILL)
		}
	}
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	p, err := readProc(pid)
	return err == nil && p.state != 'Z' && p.state != 'X'
}
