package shimtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
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
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// Timeouts of the polls: generous, for a loaded machine; a passing test
// waits for what it polls, not for these.
const (
	readyTimeout = 10 * time.Second
	exitTimeout  = 10 * time.Second
	pollEvery    = 2 * time.Millisecond
)

// env is one container's world: the state root with its container
// directory and bundle, the run directory, the fake runtime.
type env struct {
	t       *testing.T
	root    string // --root
	runDir  string // --run-dir
	runtime string // --runtime: the fake runtime script
	id      string
	dir     string // ctrstate.Dir(root, id)
	bundle  string
	extra   []string // environment given to the shim (and so to the runtime and container)
}

// newEnv makes a container whose process is the shell script cmd (run by
// /bin/sh in the bundle directory).
func newEnv(t *testing.T, cmd string) *env {
	t.Helper()
	shimBinary(t)
	tmp := t.TempDir()
	e := &env{
		t:      t,
		root:   filepath.Join(tmp, "root"),
		runDir: filepath.Join(tmp, "run"),
		id:     randomID(),
	}
	e.dir = ctrstate.Dir(e.root, e.id)
	e.bundle = filepath.Join(e.dir, ctrstate.BundleDir)
	for _, d := range []string{e.bundle, e.runDir, filepath.Join(tmp, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := os.ReadFile(filepath.Join("testdata", "runtime.sh"))
	if err != nil {
		t.Fatal(err)
	}
	e.runtime = filepath.Join(tmp, "bin", "fake-runc")
	if err := os.WriteFile(e.runtime, script, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e.extra = []string{"SHIMTEST_EXE=" + exe, "SHIMTEST_INIT=" + initBinary(t)}
	e.writeBundle("cmd", cmd)
	return e
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b) // 64 hex digits, like the engine's IDs
}

func (e *env) writeBundle(name, content string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.bundle, name), []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// touch creates the file name in the bundle (the container scripts' cwd).
func (e *env) touch(name string) { e.writeBundle(name, "") }

func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

func (e *env) runtimeRoot() string { return ctrstate.RuntimeRoot(e.runDir) }

// rt is the runtime command line the shim runs for args (after the global
// flags).
func (e *env) rt(args ...string) []string {
	return append([]string{e.runtime}, ctrstate.RuntimeArgs(e.runtimeRoot(), args...)...)
}

// calls returns the fake runtime's invocations so far (each its arguments,
// without the program).
func (e *env) calls() [][]string {
	b, _ := os.ReadFile(filepath.Join(e.runtimeRoot(), "calls"))
	var out [][]string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		out = append(out, strings.Split(strings.TrimSuffix(line, "\x1f"), "\x1f"))
	}
	return out
}

// verbCalls returns the calls of the runtime command verb (run, delete…).
func (e *env) verbCalls(verb string) [][]string {
	var out [][]string
	for _, c := range e.calls() {
		if v, _ := callVerb(c); v == verb {
			out = append(out, c)
		}
	}
	return out
}

// verbs returns the runtime commands called so far, in order.
func (e *env) verbs() []string {
	var out []string
	for _, c := range e.calls() {
		v, _ := callVerb(c)
		out = append(out, v)
	}
	return out
}

// callVerb returns the command of a runtime call and the index of its word.
func callVerb(c []string) (string, int) {
	for i := 0; i < len(c); i++ {
		switch c[i] {
		case "--root", "--log-format", "--log":
			i++
			continue
		}
		return c[i], i
	}
	return "", -1
}

// shim is a running shim process.
type shim struct {
	t     *testing.T
	e     *env
	cmd   *exec.Cmd
	pid   int
	ready chan readyResult
	done  <-chan struct{}
	start time.Time
}

type readyResult struct {
	msg string
	err error
}

// startShim starts the shim as the engine does: its own session, stdin
// and stdout on /dev/null, stderr appending to shim.log, the readiness
// pipe as fd 3, working directory /.
func (e *env) startShim(args ...string) *shim {
	e.t.Helper()
	argv := append([]string{"shim", "--root", e.root, "--run-dir", e.runDir, "--runtime", e.runtime, "--id", e.id}, args...)
	return e.startShimArgs(argv...)
}

// startShimArgs starts the shim with exactly argv after the program name.
func (e *env) startShimArgs(argv ...string) *shim {
	t := e.t
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(e.path(ctrstate.ShimLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(shimBinary(t), argv...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), e.extra...)
	cmd.Stderr = logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	s := &shim{t: t, e: e, cmd: cmd, ready: make(chan readyResult, 1), start: time.Now()}
	done, err := startOwned(cmd)
	if err != nil {
		_ = r.Close()
		t.Fatal(err)
	}
	s.done, s.pid = done, cmd.Process.Pid
	go func() {
		b, err := io.ReadAll(r)
		_ = r.Close()
		s.ready <- readyResult{string(b), err}
	}()
	t.Cleanup(s.cleanup)
	return s
}

// cleanup kills what is left of the shim and its container.
func (s *shim) cleanup() {
	sids := []int{s.pid}
	if st, err := readState(s.e); err == nil && st.Pid != nil {
		if p, err := readProc(*st.Pid); err == nil && st.InitStart != nil && p.start == *st.InitStart {
			sids = append(sids, p.sid)
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
		}
	}
	for _, sid := range sids {
		killSession(sid)
	}
	reapOrphans(false)
}

// waitReady waits for the readiness pipe to be closed and returns what the
// shim wrote on it.
func (s *shim) waitReady() string {
	s.t.Helper()
	select {
	case r := <-s.ready:
		if r.err != nil {
			s.t.Fatalf("readiness pipe: %v", r.err)
		}
		return r.msg
	case <-time.After(readyTimeout):
		s.t.Fatalf("shim not ready after %v; shim.log:\n%s", readyTimeout, s.e.shimLog())
	}
	return ""
}

// mustStart waits for the readiness pipe to close without a word.
func (s *shim) mustStart() {
	s.t.Helper()
	if msg := s.waitReady(); msg != "" {
		s.t.Fatalf("readiness pipe says %q, want nothing (running); shim.log:\n%s", msg, s.e.shimLog())
	}
}

func (s *shim) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits for the shim to exit and returns its exit code.
func (s *shim) wait() int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(exitTimeout):
		s.t.Fatalf("shim still running after %v; state.json: %s; shim.log:\n%s", exitTimeout, s.e.rawState(), s.e.shimLog())
	}
	ps := s.cmd.ProcessState
	if ps == nil {
		s.t.Fatal("no process state")
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		s.t.Fatalf("shim killed by %v; shim.log:\n%s", ws.Signal(), s.e.shimLog())
	}
	return ps.ExitCode()
}

// waitExit0 waits for the shim to exit and requires exit code 0.
func (s *shim) waitExit0() {
	s.t.Helper()
	if code := s.wait(); code != 0 {
		s.t.Fatalf("shim exit code %d, want 0; shim.log:\n%s", code, s.e.shimLog())
	}
}

// requireNoLeftovers checks that no process of the shim's session
// remains once it exited (after a grace period for one on its way out):
// it reaped its container and its runtime calls.
func (s *shim) requireNoLeftovers() {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		ps := sessionProcs(s.pid)
		if len(ps) == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Errorf("processes left in the shim's session after it exited: %+v", ps)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) shimLog() string {
	b, _ := os.ReadFile(e.path(ctrstate.ShimLogFile))
	return string(b)
}

func (e *env) rawState() string {
	b, _ := os.ReadFile(e.path(ctrstate.StateFile))
	return string(b)
}

// state is state.json, with pointers for what may be absent.
type state struct {
	Version      *int    `json:"version"`
	Status       string  `json:"status"`
	Pid          *int    `json:"pid"`
	InitStart    *uint64 `json:"init_start"`
	ExitCode     *int    `json:"exit_code"`
	OOMKilled    bool    `json:"oom_killed"`
	StartedAt    *string `json:"started_at"`
	FinishedAt   *string `json:"finished_at"`
	Error        string  `json:"error"`
	RestartCount int     `json:"restart_count"`
	ShimPid      *int    `json:"shim_pid"`
	ShimStart    *uint64 `json:"shim_start"`
}

func readState(e *env) (state, error) {
	var st state
	b, err := os.ReadFile(e.path(ctrstate.StateFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("state.json %q: %w", b, err)
	}
	return st, nil
}

// state reads state.json, failing the test if it cannot.
func (e *env) state() state {
	e.t.Helper()
	st, err := readState(e)
	if err != nil {
		e.t.Fatalf("state.json: %v", err)
	}
	return st
}

// waitState polls state.json until ok says so.
func (e *env) waitState(what string, ok func(state) bool) state {
	e.t.Helper()
	var last state
	deadline := time.Now().Add(exitTimeout)
	for time.Now().Before(deadline) {
		if st, err := readState(e); err == nil {
			last = st
			if ok(st) {
				return st
			}
		}
		time.Sleep(pollEvery)
	}
	e.t.Fatalf("state.json never %s; last %s; shim.log:\n%s", what, e.rawState(), e.shimLog())
	return last
}

// parseTime parses a time of the shim's files: RFC 3339 with nanoseconds.
func parseTime(t *testing.T, what, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s %q: %v", what, s, err)
	}
	return tm
}

// requireTimeBetween checks that tm is within [lo-slack, hi+slack].
func requireTimeBetween(t *testing.T, what string, tm, lo, hi time.Time) {
	t.Helper()
	const slack = time.Second
	if tm.Before(lo.Add(-slack)) || tm.After(hi.Add(slack)) {
		t.Errorf("%s %v not between %v and %v", what, tm, lo, hi)
	}
}

// logEntry is one line of container.log.
type logEntry struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// parseLog parses a container.log, checking that every line is a complete
// JSON object with exactly log, stream and time, as one line of valid
// UTF-8 without control characters.
func parseLog(t *testing.T, b []byte) []logEntry {
	t.Helper()
	var out []logEntry
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.Fatalf("log entry without a newline: %q", b)
		}
		line := b[:i]
		b = b[i+1:]
		if !utf8.Valid(line) {
			t.Errorf("log line is not valid UTF-8: %q", line)
		}
		for _, c := range line {
			if c < 0x20 {
				t.Errorf("log line holds control character %#x unescaped: %q", c, line)
				break
			}
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if len(m) != 3 {
			t.Errorf("log line %q: want exactly the keys log, stream, time", line)
		}
		var e logEntry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e.Stream != "stdout" && e.Stream != "stderr" {
			t.Errorf("log line %q: stream %q", line, e.Stream)
		}
		tm := parseTime(t, "log time", e.Time)
		if !strings.HasSuffix(e.Time, "Z") || tm.Location() != time.UTC {
			t.Errorf("log time %q is not UTC", e.Time)
		}
		out = append(out, e)
	}
	return out
}

// readLog parses container.log.
func (e *env) readLog() []logEntry {
	e.t.Helper()
	b, err := os.ReadFile(e.path(ctrstate.LogFile))
	if err != nil {
		e.t.Fatalf("container.log: %v", err)
	}
	return parseLog(e.t, b)
}

// waitLog polls container.log until it holds an entry with text on stream.
func (e *env) waitLog(stream, text string) {
	e.t.Helper()
	deadline := time.Now().Add(exitTimeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(e.path(ctrstate.LogFile))
		for _, line := range bytes.Split(b, []byte{'\n'}) {
			var le logEntry
			if json.Unmarshal(line, &le) == nil && le.Stream == stream && le.Log == text {
				return
			}
		}
		time.Sleep(pollEvery)
	}
	b, _ := os.ReadFile(e.path(ctrstate.LogFile))
	e.t.Fatalf("container.log never had %s %q; it has:\n%s", stream, text, b)
}

// streamLogs returns the logged text of one stream, entries in order.
func streamLogs(entries []logEntry, stream string) []string {
	var out []string
	for _, e := range entries {
		if e.Stream == stream {
			out = append(out, e.Log)
		}
	}
	return out
}

// health is health.json.
type health struct {
	Status        string `json:"status"`
	FailingStreak *int   `json:"failing_streak"`
	Log           []struct {
		Start    string `json:"start"`
		End      string `json:"end"`
		ExitCode *int   `json:"exit_code"`
		Output   string `json:"output"`
	} `json:"log"`
}

func readHealth(e *env) (health, []byte, error) {
	var h health
	b, err := os.ReadFile(e.path(ctrstate.HealthFile))
	if err != nil {
		return h, nil, err
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, b, fmt.Errorf("health.json %q: %w", b, err)
	}
	if h.FailingStreak == nil || h.Log == nil {
		return h, b, fmt.Errorf("health.json %q: no failing_streak or log", b)
	}
	return h, b, nil
}

// waitFile polls until path exists and returns its content.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(exitTimeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err == nil {
			return b
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		time.Sleep(pollEvery)
	}
	t.Fatalf("%s never appeared", path)
	return nil
}

// requireNoTempFiles checks that no temporary file of an atomic write is
// left in the container directory.
func (e *env) requireNoTempFiles() {
	e.t.Helper()
	ents, _ := os.ReadDir(e.dir)
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), ".") {
			e.t.Errorf("temporary file left in the container directory: %s", ent.Name())
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

func sameArgs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}
