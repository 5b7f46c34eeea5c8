package engine

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/netmgr"
)

// The berth binary as the engine's tests need it: the shim and the init,
// cmd/berth-shim built once as `make build` builds it (statically: it runs
// inside busybox containers as their init), or the binary BERTH_TEST_EXE
// names. When that is a berth carrying the shim (`make build`), shim is
// that shim, installed in dir: what berth runs.
var testExe struct {
	once sync.Once
	dir  string
	path string // Options.Exe
	shim string // Options.Shim
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	// Fuzzing alone (hack/fuzz.sh: -run '^$' -fuzz …) runs no privileged
	// test, so it does not wait for the machine lock (an e2e run).
	if flag.Lookup("test.fuzz").Value.String() != "" && flag.Lookup("test.run").Value.String() == "^$" {
		os.Exit(m.Run())
	}
	code := testutil.MainLocked(m.Run, false)
	if testExe.dir != "" {
		_ = os.RemoveAll(testExe.dir)
	}
	os.Exit(code)
}

// shimBinary is Options.Shim for the engine's tests; see testExe.
func shimBinary(tb testing.TB) string {
	tb.Helper()
	testExe.once.Do(buildTestExe)
	if testExe.err != nil {
		tb.Fatal(testExe.err)
	}
	return testExe.shim
}

// exeBinary is Options.Exe for the engine's tests; see testExe.
func exeBinary(tb testing.TB) string {
	shimBinary(tb)
	return testExe.path
}

func buildTestExe() {
	testExe.dir, testExe.err = os.MkdirTemp("", "berth-engine-test-")
	if testExe.err != nil {
		return
	}
	if p := os.Getenv("BERTH_TEST_EXE"); p != "" { // e.g. a real berth binary
		testExe.path, testExe.shim = p, p
		// `berth shim-install DIR` prints the path of the shim it carries;
		// a shim-only binary or a berth without one fails.
		if out, err := exec.Command(p, "shim-install", testExe.dir).Output(); err == nil {
			testExe.shim = strings.TrimSpace(string(out))
		}
		return
	}
	// Exe is only what auto-removal runs; the tests that need it use a
	// real berth (BERTH_TEST_EXE).
	testExe.shim = filepath.Join(testExe.dir, "berth-shim")
	testExe.path = testExe.shim
	testExe.err = testutil.BuildShim(testExe.shim)
}

// testLogger writes the engine's log, at debug level (runtime command
// lines), to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// newPrivEngine is an engine on a fresh root with busybox:latest imported
// through the image store, and a cleanup that takes down whatever a test
// leaves (runtime state, mounts, cgroups) even when it fails.
func newPrivEngine(t *testing.T) *Engine {
	t.Helper()
	return newPrivEngineWith(t, false)
}

// newPrivEngineWith is newPrivEngine, with a network manager when withNets.
func newPrivEngineWith(t *testing.T, withNets bool) *Engine {
	t.Helper()
	testutil.RequirePrivileged(t)
	shim := shimBinary(t)
	root := t.TempDir()
	runDir := filepath.Join(root, "run")
	images, err := image.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tar bytes.Buffer
	if err := testimage.BusyboxRootfs(&tar); err != nil {
		t.Fatal(err)
	}
	if _, err := images.Import(t.Context(), &tar, "busybox:latest", image.ImportOptions{Created: testimage.MTime}); err != nil {
		t.Fatalf("import busybox: %v", err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var nets *netmgr.Manager
	if withNets {
		if nets, err = netmgr.New(netmgr.Options{Root: root, RunDir: runDir, Pool: netip.MustParsePrefix("10.237.0.0/16"), Logger: log}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Root: root, RunDir: runDir, Exe: exeBinary(t), Shim: shim, Logger: log}, images, nets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { forceCleanup(t, e) })
	return e
}

// forceCleanup removes by brute force what the engine under test may have
// left: runtime containers, mounts under the root, cgroups.
func forceCleanup(t *testing.T, e *Engine) {
	rtRoot := ctrstate.RuntimeRoot(e.opt.RunDir)
	out, _ := exec.Command("runc", "--root", rtRoot, "list", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		if err := exec.Command("runc", "--root", rtRoot, "delete", "--force", id).Run(); err != nil {
			t.Logf("cleanup: runc delete %s: %v", id, err)
		}
	}
	for _, m := range mountsUnder(t, e.opt.Root) {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
	ents, _ := os.ReadDir(e.containersDir())
	for _, ent := range ents {
		if !isID(ent.Name()) {
			continue
		}
		// A shim still running writes its state into the directory
		// t.TempDir is about to remove: end it first.
		if sf, err := readState(e.containerDir(ContainerID(ent.Name()))); err == nil && sf.ShimPid > 0 {
			// Only the shim of this container: a PID may have been reused.
			if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", sf.ShimPid)); strings.Contains(string(cmd), ent.Name()) {
				killAndReap(t, sf.ShimPid)
			}
		}
		_ = removeCgroups(ContainerConfig{}, ContainerID(ent.Name()))
	}
}

// killAndReap kills pid and waits until it is gone (it is not our child:
// its parent, or init, reaps it).
func killAndReap(t *testing.T, pid int) {
	t.Helper()
	if unix.Kill(pid, unix.SIGKILL) != nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("cleanup: shim %d did not exit", pid)
}

func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// assertNothingLeft checks the container left no mount, namespace, runtime
// state, cgroup, process or directory.
func assertNothingLeft(t *testing.T, e *Engine, id ContainerID) {
	t.Helper()
	for _, m := range mountsUnder(t, e.opt.Root) {
		if strings.Contains(m, string(id)) {
			t.Errorf("mount left: %s", m)
		}
	}
	out, err := exec.Command("runc", "--root", ctrstate.RuntimeRoot(e.opt.RunDir), "list", "-q").CombinedOutput()
	if err != nil || strings.Contains(string(out), string(id)) {
		t.Errorf("runc list: %q (%v)", out, err)
	}
	if leaves, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + string(id)); len(leaves) > 0 {
		t.Errorf("cgroups left: %q", leaves)
	}
	if _, err := os.Stat(e.containerDir(id)); !os.IsNotExist(err) {
		t.Errorf("container directory left (%v)", err)
	}
	if pids := testutil.ProcessesMentioning(string(id)); len(pids) > 0 {
		t.Errorf("processes left: %v", pids)
	}
}

func busybox(name string, cmd ...string) ContainerConfig {
	return ContainerConfig{Name: name, Image: "busybox", Cmd: cmd}
}

func mustCreate(t *testing.T, e *Engine, cfg ContainerConfig) ContainerID {
	t.Helper()
	c, err := e.Create(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func waitExited(t *testing.T, e *Engine, id ContainerID) State {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	st, err := e.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readLogs(t *testing.T, e *Engine, id ContainerID, opt LogOptions) []LogLine {
	t.Helper()
	var out []LogLine
	if err := e.Logs(t.Context(), id, opt, func(l LogLine) error { out = append(out, l); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPrivLifecycleExitCodeAndLogs(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("hello", "sh", "-c", "echo hello; echo err >&2; exit 3"))
	began := time.Now()
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	t.Logf("create → running: %s", time.Since(began))
	st := waitExited(t, e, id)
	if st.Status != StatusExited || st.ExitCode != 3 || st.Error != "" || st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("state %+v, want exited with code 3", st)
	}
	lines := readLogs(t, e, id, LogOptions{Tail: -1})
	got := map[string]string{}
	for _, l := range lines {
		got[l.Text] = l.Stream
	}
	if len(lines) != 2 || got["hello"] != "stdout" || got["err"] != "stderr" {
		t.Errorf("logs %+v, want hello on stdout and err on stderr", lines)
	}
	// Stop of an exited container releases its run (the mount) and keeps
	// the record, logs and exit code.
	if err := e.Stop(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	if m := mountsUnder(t, e.opt.Root); len(m) > 0 {
		t.Errorf("mounts after stop: %q", m)
	}
	c, err := e.Get(ctx, "hello")
	if err != nil || c.State.ExitCode != 3 || len(readLogs(t, e, id, LogOptions{Tail: -1})) != 2 {
		t.Errorf("after stop: %+v, %v", c, err)
	}
	// Restart: the same container runs again, its log grows.
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st := waitExited(t, e, id); st.ExitCode != 3 {
		t.Errorf("second run: %+v", st)
	}
	if n := len(readLogs(t, e, id, LogOptions{Tail: -1})); n != 4 {
		t.Errorf("%d log lines after two runs, want 4", n)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, id)
	if _, err := e.Get(ctx, string(id)); !errdefs.IsNotFound(err) {
		t.Errorf("Get after Remove: %v, want NotFound", err)
	}
	if err := e.Remove(ctx, id, false); !errdefs.IsNotFound(err) {
		t.Errorf("second Remove: %v, want NotFound", err)
	}
}

// TestPrivInitForwardsSIGTERM: sleep as PID 1 ignores SIGTERM; under the
// init it does not, so Stop ends well within the grace period.
func TestPrivInitForwardsSIGTERM(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	cfg := busybox("sleeper", "sleep", "1000")
	cfg.Init = true
	id := mustCreate(t, e, cfg)
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	c, err := e.Get(ctx, string(id))
	if err != nil || c.State.Status != StatusRunning {
		t.Fatalf("after start: %+v, %v", c, err)
	}
	sf, err := readState(e.containerDir(id))
	if err != nil {
		t.Fatal(err)
	}
	if rss := vmRSS(sf.ShimPid); rss != "" {
		t.Logf("shim RSS: %s", rss)
	}
	began := time.Now()
	if err := e.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	t.Logf("stop with SIGTERM took %s", took)
	if took > 3*time.Second {
		t.Errorf("stop took %s: the init did not forward SIGTERM", took)
	}
	c, err = e.Get(ctx, string(id))
	if err != nil || c.State.Status != StatusExited || c.State.ExitCode != 128+15 {
		t.Errorf("after stop: %+v, %v; want exited 143", c.State, err)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, id)
}

func vmRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestPrivStopFallsBackToSIGKILL: without an init, sleep as PID 1 ignores
// SIGTERM and is killed when the timeout ends.
func TestPrivStopFallsBackToSIGKILL(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("stubborn", "sleep", "1000"))
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	const grace = 300 * time.Millisecond
	began := time.Now()
	if err := e.Stop(ctx, id, grace); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	t.Logf("stop with SIGKILL after %s took %s", grace, took)
	if took < grace || took > grace+3*time.Second {
		t.Errorf("stop took %s, want a little over %s", took, grace)
	}
	c, err := e.Get(ctx, "stubborn")
	if err != nil || c.State.Status != StatusExited || c.State.ExitCode != 137 {
		t.Errorf("after stop: %+v, %v; want exited 137", c.State, err)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, id)
}

// TestPrivRunLeavesNoRuntimeState: once a run is over, whether it ended on
// its own or was stopped, runc's state and the container's cgroups are
// gone before any Remove: deleted by the shim itself when the container
// has a PID namespace of its own (--runc-cgroup), by runc's delete when it
// shares the host's. The exit code is recorded either way.
func TestPrivRunLeavesNoRuntimeState(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	nothingWithRuntime := func(t *testing.T, id ContainerID) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(ctrstate.RuntimeRoot(e.opt.RunDir), string(id))); !os.IsNotExist(err) {
			t.Errorf("runtime state left (%v)", err)
		}
		leaves, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + string(id))
		if _, err := os.Stat("/sys/fs/cgroup/berth/" + string(id)); err == nil {
			leaves = append(leaves, "/sys/fs/cgroup/berth/"+string(id))
		}
		if len(leaves) > 0 {
			t.Errorf("cgroups left: %q", leaves)
		}
		b, _ := os.ReadFile(filepath.Join(e.containerDir(id), ctrstate.ShimLogFile))
		for _, bad := range []string{"remove cgroup", "remove runtime state", "runtime delete: "} {
			if strings.Contains(string(b), bad) {
				t.Errorf("shim.log:\n%s", b)
			}
		}
	}
	for _, pid := range []string{"", "host"} {
		t.Run("pid="+pid, func(t *testing.T) {
			name := "own"
			if pid != "" {
				name = pid
			}
			exits := busybox("exits-"+name, "sh", "-c", "exit 7")
			exits.PidMode = pid
			id := mustCreate(t, e, exits)
			if err := e.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
			if st := waitExited(t, e, id); st.ExitCode != 7 {
				t.Errorf("exited %+v, want code 7", st)
			}
			nothingWithRuntime(t, id)

			sleeper := busybox("stopped-"+name, "sleep", "1000")
			sleeper.Init = true
			sleeper.PidMode = pid
			sid := mustCreate(t, e, sleeper)
			if err := e.Start(ctx, sid); err != nil {
				t.Fatal(err)
			}
			if err := e.Stop(ctx, sid, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if c, err := e.Get(ctx, string(sid)); err != nil || c.State.ExitCode != 128+15 {
				t.Errorf("after stop: %+v, %v; want exited 143", c, err)
			}
			nothingWithRuntime(t, sid)
			for _, id := range []ContainerID{id, sid} {
				if err := e.Remove(ctx, id, false); err != nil {
					t.Fatal(err)
				}
				assertNothingLeft(t, e, id)
			}
		})
	}
}

func TestPrivBadEntrypoint(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("bad", "nope"))
	err := e.Start(ctx, id)
	if err == nil {
		t.Fatal("Start of a missing executable succeeded")
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, `container "bad": start: `) || !strings.Contains(msg, "executable file not found") {
		t.Errorf("error %q: want one line naming the container and the missing executable", msg)
	}
	if m := mountsUnder(t, e.opt.Root); len(m) > 0 {
		t.Errorf("mounts left: %q", m)
	}
	if pids := testutil.ProcessesMentioning(e.opt.Root); len(pids) > 0 {
		t.Errorf("processes left: %v", pids)
	}
	c, err := e.Get(ctx, "bad")
	if err != nil || c.State.Status != StatusCreated || c.State.ExitCode != 127 || !strings.Contains(c.State.Error, "executable file not found") {
		t.Errorf("state after failed start: %+v, %v", c.State, err)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, id)
}

// TestPrivShimKilled: a SIGKILLed shim leaves a container that runs on,
// unsupervised, and is reported so; Stop and Remove still work. When the
// container is gone too (as after a reboot), it is reported exited with
// the lost exit code 255.
func TestPrivShimKilled(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	for _, alsoInit := range []bool{false, true} {
		t.Run(fmt.Sprintf("init killed too=%v", alsoInit), func(t *testing.T) {
			name := fmt.Sprintf("orphan-%v", alsoInit)
			id := mustCreate(t, e, busybox(name, "sleep", "1000"))
			if err := e.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
			sf, err := readState(e.containerDir(id))
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Kill(sf.ShimPid, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if alsoInit {
				if err := unix.Kill(sf.Pid, unix.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := waitGone(ctx, []proc{{sf.ShimPid, sf.ShimStart}}, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if alsoInit {
				if _, err := waitGone(ctx, []proc{{sf.Pid, sf.InitStart}}, 5*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			// Whoever notices the end first records its die: here two
			// readers at once (as two processes, a ps and an inspect).
			want := StatusRunning
			if alsoInit {
				want = StatusExited
			}
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					c, err := e.Get(ctx, name)
					if err != nil {
						t.Error(err)
					} else if c.State.Status != want || c.State.Error == "" || (alsoInit && c.State.ExitCode != 255) {
						t.Errorf("state %+v, want %s with an error", c.State, want)
					}
				})
			}
			wg.Wait()
			if !alsoInit {
				if err := e.Stop(ctx, id, 200*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				if c, err := e.Get(ctx, name); err != nil || c.State.Status != StatusExited {
					t.Errorf("after stop: %+v, %v", c, err)
				}
			}
			waitJournal(t, e, id, "die")
			// Start again: the new run is watched by a new shim.
			if err := e.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := e.Remove(ctx, id, true); err != nil {
				t.Fatal(err)
			}
			got := journal(t, e, id, "exitCode", "signal")
			wantJournal := []string{"create", "start", "die exitCode=255", "start", "kill signal=9", "die exitCode=137", "destroy"}
			if !alsoInit {
				wantJournal = slices.Insert(wantJournal, 2, "kill signal=15", "kill signal=9")
				wantJournal = slices.Insert(wantJournal, 5, "stop")
			}
			if !slices.Equal(got, wantJournal) {
				t.Errorf("journal %q, want %q", got, wantJournal)
			}
			assertNothingLeft(t, e, id)
		})
	}
}

func TestPrivRemoveRunning(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("busy", "sleep", "1000"))
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx, id); err != nil {
		t.Errorf("Start of a running container: %v, want nil", err)
	}
	if err := e.Remove(ctx, id, false); !errdefs.IsConflict(err) {
		t.Fatalf("Remove of a running container: %v, want Conflict", err)
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, id)
}

func TestPrivNameConflict(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("dup", "true"))
	_, err := e.Create(ctx, busybox("dup", "true"))
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), `container name "dup" is already in use`) {
		t.Fatalf("second create: %v, want Conflict", err)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, busybox("dup", "true")); err != nil {
		t.Errorf("name not free after Remove: %v", err)
	}
	cs, err := e.List(ctx, nil)
	if err != nil || len(cs) != 1 {
		t.Errorf("List: %d containers, %v", len(cs), err)
	}
}

func TestPrivLogsFollow(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("counter", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"))
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got []string
	if err := e.Logs(fctx, id, LogOptions{Follow: true, Tail: -1}, func(l LogLine) error {
		got = append(got, l.Text)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "1,2,3" {
		t.Errorf("followed %q, want 1,2,3", got)
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}
}

// TestPrivContainerSees checks what the spec gives the process: user and
// groups from the image, hostname, /etc files, NOFILE.
func TestPrivContainerSees(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	cfg := busybox("seer", "sh", "-c", "id; hostname; cat /etc/hostname; ulimit -n; grep -c localhost /etc/hosts; pwd; echo $HOME")
	cfg.User = "www-data"
	cfg.Hostname = "seer-host"
	cfg.WorkingDir = "/tmp"
	cfg.ExtraHosts = []HostEntry{{IP: "10.1.2.3", Names: []string{"extra.example"}}}
	id := mustCreate(t, e, cfg)
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st := waitExited(t, e, id); st.ExitCode != 0 {
		t.Errorf("exit %d", st.ExitCode)
	}
	var out []string
	for _, l := range readLogs(t, e, id, LogOptions{Tail: -1}) {
		out = append(out, l.Text)
	}
	var rl unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	want := []string{
		"uid=33(www-data) gid=33(www-data)",
		"seer-host", "seer-host", strconv.FormatUint(min(rl.Max, defaultNofile), 10), "2", "/tmp", "/var/www",
	}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("container saw:\n%s\nwant:\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, id)
}

// TestPrivOverlayNewMountAPI mounts layers through fsconfig's lowerdir+,
// the path taken when the option string would not fit a page.
func TestPrivOverlayNewMountAPI(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	var layers []string
	for i := range 3 {
		l := filepath.Join(dir, fmt.Sprintf("l%d", i))
		if err := os.MkdirAll(l, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l, "f"), []byte(strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l, fmt.Sprintf("only%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	upper, work, target := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	top := []string{layers[2], layers[1], layers[0]}
	if err := mountOverlayFS(top, upper, work, target, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(b) != "2" {
		t.Errorf("f = %q, %v; want the top layer's 2", b, err)
	}
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(target, fmt.Sprintf("only%d", i))); err != nil {
			t.Errorf("layer %d not visible: %v", i, err)
		}
	}
	if err := unmount(target); err != nil {
		t.Fatal(err)
	}
	if err := unmount(target); err != nil {
		t.Errorf("second unmount: %v", err)
	}
}

// TestPrivNetworkPeers: two containers on a bridge network find each other
// by name through their hosts files, the running one learns about the one
// started after it, and nothing is left after Remove.
func TestPrivNetworkPeers(t *testing.T) {
	e := newPrivEngineWith(t, true)
	ctx := t.Context()
	var rnd [3]byte
	_, _ = cryptorand.Read(rnd[:])
	network := fmt.Sprintf("bt%x_default", rnd)
	if _, err := e.nets.Create(ctx, netmgr.NetworkConfig{Name: network}); err != nil {
		t.Fatalf("create network: %v", err)
	}
	t.Cleanup(func() {
		if err := e.nets.Remove(context.WithoutCancel(ctx), network); err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("remove network: %v", err)
		}
	})
	// A start that fails leaves no sandbox and no address behind.
	broken := busybox("broken-1", "nope")
	broken.Networks = []EndpointConfig{{Network: network}}
	brokenID := mustCreate(t, e, broken)
	if err := e.Start(ctx, brokenID); err == nil {
		t.Fatal("start of a missing executable succeeded")
	}
	if ents, _ := os.ReadDir(filepath.Join(e.opt.RunDir, "netns")); len(ents) > 0 {
		t.Errorf("failed start left %d namespaces", len(ents))
	}
	if nw, err := e.nets.Get(ctx, network); err != nil || len(nw.Endpoints) != 0 {
		t.Errorf("failed start left endpoints: %+v, %v", nw, err)
	}
	if err := e.Remove(ctx, brokenID, false); err != nil {
		t.Fatal(err)
	}

	web := busybox("web-1", "sh", "-c", "echo 'hello from web' > /tmp/index.html; exec httpd -f -p 8080 -h /tmp")
	web.Init = true
	web.Networks = []EndpointConfig{{Network: network, Aliases: []string{"web"}}}
	webID := mustCreate(t, e, web)
	if err := e.Start(ctx, webID); err != nil {
		t.Fatal(err)
	}
	wc, err := e.Get(ctx, "web-1")
	if err != nil || len(wc.Networks) != 1 || !wc.Networks[0].Address.IsValid() {
		t.Fatalf("web: %+v, %v; want one address", wc, err)
	}
	// (Not wget -T: busybox 1.35's segfaults with it.) The client stays
	// running until the test has read web's hosts file, which lists running
	// peers only: a client that had already exited would have left it.
	client := busybox("client-1", "sh", "-c", "cat /etc/hosts; wget -q -O - http://web:8080/; s=$?; "+
		"until [ -e /tmp/release ]; do sleep 0.1; done; exit $s")
	client.Networks = []EndpointConfig{{Network: network, Aliases: []string{"client"}}}
	clientID := mustCreate(t, e, client)
	if err := e.Start(ctx, clientID); err != nil {
		t.Fatal(err)
	}
	hosts, err := os.ReadFile(filepath.Join(e.containerDir(webID), "hosts"))
	if err != nil || !strings.Contains(string(hosts), "client-1 client") {
		t.Errorf("web's hosts file did not learn about the client: %q, %v", hosts, err)
	}
	if code, err := e.Exec(ctx, clientID, ExecConfig{Cmd: []string{"touch", "/tmp/release"}}, ExecIO{}); err != nil || code != 0 {
		t.Fatalf("release the client: %d, %v", code, err)
	}
	st := waitExited(t, e, clientID)
	var out []string
	for _, l := range readLogs(t, e, clientID, LogOptions{Tail: -1}) {
		out = append(out, l.Text)
	}
	if st.ExitCode != 0 || !slices.Contains(out, "hello from web") {
		t.Errorf("client exited %d with:\n%s", st.ExitCode, strings.Join(out, "\n"))
	}
	if !slices.Contains(out, wc.Networks[0].Address.String()+"\tweb-1 web") {
		t.Errorf("client's hosts has no line for web at %s", wc.Networks[0].Address)
	}
	for _, id := range []ContainerID{clientID, webID} {
		if err := e.Stop(ctx, id, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := e.Remove(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.opt.RunDir, "netns")); len(ents) > 0 {
		t.Errorf("namespaces left: %d", len(ents))
	}
}

// TestPrivLongLines: a line longer than 16 KiB is split into entries of
// 16 KiB; a last line without newline is kept.
func TestPrivLongLines(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("long", "sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo; printf tail"))
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitExited(t, e, id)
	var sizes []int
	for _, l := range readLogs(t, e, id, LogOptions{Tail: -1}) {
		sizes = append(sizes, len(l.Text))
	}
	if want := []int{16384, 16384, 40000 - 2*16384, 4}; !slices.Equal(sizes, want) {
		t.Errorf("entry sizes %v, want %v", sizes, want)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
}
