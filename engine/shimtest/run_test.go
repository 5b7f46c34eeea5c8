package shimtest

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// waitFor is prepended to the container scripts: waitfor FILE blocks until
// the test creates FILE in the bundle.
const waitFor = "waitfor() { while [ ! -e \"$1\" ]; do sleep 0.01; done; }\n"

// TestRunAndExit: the whole life of a container: readiness, state.json
// while it runs and once it exited, the log of both streams as they come,
// the runtime's command lines, the shim's exit.
func TestRunAndExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, waitFor+`echo out1
waitfor step1
echo err1 >&2
waitfor step2
echo out2
echo err2 >&2
waitfor release
exit 3
`)
	before := time.Now()
	s := e.startShim()
	s.mustStart()
	if s.exited() {
		t.Fatalf("the shim exited (%v) though it reported the container running", s.cmd.ProcessState)
	}

	// state.json is written before readiness is reported.
	st := e.state()
	if st.Version == nil || *st.Version != ctrstate.StateVersion {
		t.Errorf("version: %s", e.rawState())
	}
	if st.Status != ctrstate.StatusRunning || st.Pid == nil || *st.Pid <= 0 || st.InitStart == nil ||
		st.ShimPid == nil || st.ShimStart == nil || st.StartedAt == nil || st.ExitCode == nil {
		t.Fatalf("state.json while running: %s", e.rawState())
	}
	if st.FinishedAt != nil || st.RestartCount != 0 || st.Error != "" {
		t.Errorf("state.json while running has a finish, restarts or an error: %s", e.rawState())
	}
	pid := *st.Pid
	if b, _ := os.ReadFile(e.path(ctrstate.InitPidFile)); atoi(t, string(b)) != pid {
		t.Errorf("pid %d, init.pid says %q", pid, b)
	}
	p, err := readProc(pid)
	if err != nil || p.start != *st.InitStart {
		t.Errorf("init_start %d, process %d: %+v, %v", *st.InitStart, pid, p, err)
	}
	if *st.ShimPid != s.pid {
		t.Errorf("shim_pid %d, want %d", *st.ShimPid, s.pid)
	}
	if sp, err := readProc(s.pid); err != nil || sp.start != *st.ShimStart {
		t.Errorf("shim_start %d, shim: %+v, %v", *st.ShimStart, sp, err)
	} else if sp.sid != s.pid {
		t.Errorf("the shim left the session it was started in: %+v", sp)
	}
	started := parseTime(t, "started_at", *st.StartedAt)
	requireTimeBetween(t, "started_at", started, before, time.Now())
	// The shim is a child subreaper: the container's process, whose parent
	// (the runtime's create) has exited, is its child.
	eventually(t, readyTimeout, "the container's process to be the shim's child", func() bool {
		p, err := readProc(pid)
		return err == nil && p.ppid == s.pid
	})

	// Output is logged as it comes, in order.
	e.waitLog("stdout", "out1")
	e.touch("step1")
	e.waitLog("stderr", "err1")
	e.touch("step2")
	e.waitLog("stdout", "out2")
	e.waitLog("stderr", "err2")
	if s.exited() {
		t.Fatal("the shim exited while the container runs")
	}
	e.touch("release")
	s.waitExit0()
	after := time.Now()

	st = e.state()
	if st.Status != ctrstate.StatusExited || st.ExitCode == nil || *st.ExitCode != 3 || st.FinishedAt == nil {
		t.Fatalf("state.json after the exit: %s", e.rawState())
	}
	// (The Go shim keeps the last run's pid and init_start in the exited
	// state; that is not checked either way.) The engine tells that the
	// shim recorded the end itself by shim_pid and finished_at.
	if st.ShimPid == nil || *st.ShimPid != s.pid || st.StartedAt == nil || !parseTime(t, "started_at", *st.StartedAt).Equal(started) {
		t.Errorf("state.json after the exit lost shim_pid or started_at: %s", e.rawState())
	}
	finished := parseTime(t, "finished_at", *st.FinishedAt)
	requireTimeBetween(t, "finished_at", finished, started, after)
	if finished.Before(started) {
		t.Errorf("finished_at %v before started_at %v", finished, started)
	}

	entries := e.readLog()
	var got []string
	for _, le := range entries {
		got = append(got, le.Stream+":"+le.Log)
		tm := parseTime(t, "log time", le.Time)
		requireTimeBetween(t, "log time", tm, before, finished)
	}
	// An entry holds its line without the newline (unlike Docker's
	// json-file); out2 and err2 were written together, in either order.
	want := []string{"stdout:out1", "stderr:err1", "stdout:out2", "stderr:err2"}
	if len(got) != 4 || got[0] != want[0] || got[1] != want[1] || !(got[2] == want[2] && got[3] == want[3] || got[2] == want[3] && got[3] == want[2]) {
		t.Errorf("container.log: %q, want %q", got, want)
	}

	calls := e.calls()
	wantCalls := [][]string{
		ctrstate.RuntimeArgs(e.runtimeRoot(), "--log", e.path(ctrstate.RuntimeLog), "run", "--detach", "--bundle", e.bundle,
			"--pid-file", e.path(ctrstate.InitPidFile), e.id),
		ctrstate.RuntimeArgs(e.runtimeRoot(), "delete", e.id),
	}
	if len(calls) != len(wantCalls) {
		t.Fatalf("runtime calls:\n%q\nwant\n%q", calls, wantCalls)
	}
	for i := range calls {
		if !sameArgs(calls[i], wantCalls[i]) {
			t.Errorf("runtime call %d: %q, want %q", i, calls[i], wantCalls[i])
		}
	}
	if _, err := os.Stat(filepath.Join(e.runtimeRoot(), e.id)); err == nil {
		t.Error("the runtime still holds the container")
	}
	if alive(pid) {
		t.Errorf("the container's process %d still runs", pid)
	}
	s.requireNoLeftovers()
	e.requireNoTempFiles()
	if _, err := os.Stat(ctrstate.AttachSocket(e.runDir, e.id)); err == nil {
		t.Error("the attach socket is left after the shim exited")
	}
}

// TestSignalExitCode: a container killed by signal n exited with 128+n.
func TestSignalExitCode(t *testing.T) {
	t.Parallel()
	t.Run("own SIGKILL", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "echo dying\nkill -KILL $$\n")
		s := e.startShim()
		s.mustStart()
		s.waitExit0()
		if st := e.state(); st.Status != ctrstate.StatusExited || st.ExitCode == nil || *st.ExitCode != 128+int(syscall.SIGKILL) {
			t.Errorf("state.json: %s, want exit code %d", e.rawState(), 128+int(syscall.SIGKILL))
		}
		e.waitLog("stdout", "dying")
		s.requireNoLeftovers()
	})
	t.Run("SIGTERM from outside", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "exec sleep 60\n")
		s := e.startShim()
		s.mustStart()
		st := e.state()
		if st.Pid == nil {
			t.Fatalf("no pid: %s", e.rawState())
		}
		if err := syscall.Kill(*st.Pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		s.waitExit0()
		if st := e.state(); st.Status != ctrstate.StatusExited || st.ExitCode == nil || *st.ExitCode != 128+int(syscall.SIGTERM) {
			t.Errorf("state.json: %s, want exit code %d", e.rawState(), 128+int(syscall.SIGTERM))
		}
		s.requireNoLeftovers()
	})
}

// TestLogLines: how output becomes log entries: lines without their
// newline, long lines cut at 16 KiB, a last line without a newline kept,
// invalid UTF-8 replaced, control characters escaped.
func TestLogLines(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `head -c 40000 /dev/zero | tr '\0' a; echo
head -c 16384 /dev/zero | tr '\0' b; echo
head -c 16385 /dev/zero | tr '\0' c; echo
printf 'bad \377\376 byte\n'
printf 'trunc \303 x\n'
printf 'ctl \001\033[0m\t"q" \\ caf\303\251 \r end \177\n'
echo
printf 'to stderr\n' >&2
printf 'stderr without newline' >&2
printf 'no newline at the end'
`)
	s := e.startShim()
	s.mustStart()
	s.waitExit0()
	entries := e.readLog()
	r := strings.Repeat
	wantOut := []string{
		r("a", 16384), r("a", 16384), r("a", 40000-2*16384),
		r("b", 16384),
		r("c", 16384), "c",
		"bad \ufffd\ufffd byte",
		"trunc \ufffd x",
		"ctl \x01\x1b[0m\t\"q\" \\ café \r end \x7f",
		"",
		"no newline at the end",
	}
	wantErr := []string{"to stderr", "stderr without newline"}
	check := func(stream string, want []string) {
		got := streamLogs(entries, stream)
		if len(got) != len(want) {
			var desc []string
			for _, g := range got {
				desc = append(desc, fmt.Sprintf("%d:%.20q", len(g), g))
			}
			t.Fatalf("%s: %d entries %s, want %d", stream, len(got), desc, len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				g, w := got[i], want[i]
				if len(g) > 60 || len(w) > 60 {
					t.Errorf("%s entry %d: %d bytes, want %d (%q…)", stream, i, len(g), len(w), w[:10])
					continue
				}
				t.Errorf("%s entry %d: %q, want %q", stream, i, g, w)
			}
		}
	}
	check("stdout", wantOut)
	check("stderr", wantErr)
	if st := e.state(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Errorf("state.json: %s", e.rawState())
	}
	// The escapes are JSON's: \u00XX for control characters, as encoding/json
	// reads them (checked above); and nothing raw below 0x20 (parseLog).
	raw, _ := os.ReadFile(e.path(ctrstate.LogFile))
	for _, esc := range []string{`\u0001`, `\u001b`, `\t`, `\"q\"`, `\\`, `\r`} {
		if !strings.Contains(string(raw), esc) {
			t.Errorf("container.log has no %s", esc)
		}
	}
}

// TestLogRotation: with --log-max-size and --log-max-file, container.log
// rotates to .1, .2… keeping at most N files, each of whole entries and at
// most the size (rotated only when the next entry does not fit), the kept
// entries the latest, without a gap.
func TestLogRotation(t *testing.T) {
	t.Parallel()
	lines := `i=0
while [ $i -lt 300 ]; do echo "line $i padding-padding-padding"; i=$((i+1)); done
`
	for _, tc := range []struct {
		name          string
		maxSize       int64
		maxFile       int
		useEqualsForm bool
	}{
		{"three files", 2000, 3, false},
		{"one file", 500, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, lines)
			args := []string{"--log-max-size", itoa(tc.maxSize), "--log-max-file", itoa(int64(tc.maxFile))}
			if tc.useEqualsForm {
				args = []string{"--log-max-size=" + itoa(tc.maxSize), "--log-max-file=" + itoa(int64(tc.maxFile))}
			}
			s := e.startShim(args...)
			s.mustStart()
			s.waitExit0()
			// Oldest first.
			var files []string
			for i := tc.maxFile - 1; i >= 1; i-- {
				files = append(files, e.path(ctrstate.LogFile)+"."+itoa(int64(i)))
			}
			files = append(files, e.path(ctrstate.LogFile))
			if _, err := os.Stat(e.path(ctrstate.LogFile) + "." + itoa(int64(tc.maxFile))); err == nil {
				t.Errorf("more than %d log files", tc.maxFile)
			}
			var all []logEntry
			var firstLines [][]byte
			var sizes []int64
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatalf("%v (rotation kept too few files)", err)
				}
				if int64(len(b)) > tc.maxSize {
					t.Errorf("%s: %d bytes, more than %d", filepath.Base(f), len(b), tc.maxSize)
				}
				if len(b) == 0 {
					t.Errorf("%s is empty", filepath.Base(f))
				}
				all = append(all, parseLog(t, b)...)
				first, _, _ := strings.Cut(string(b), "\n")
				firstLines = append(firstLines, []byte(first+"\n"))
				sizes = append(sizes, int64(len(b)))
			}
			// A file was rotated only when the next entry did not fit.
			for i := 0; i+1 < len(files); i++ {
				if sizes[i]+int64(len(firstLines[i+1])) <= tc.maxSize {
					t.Errorf("%s rotated at %d bytes though the next entry (%d bytes) fit in %d",
						filepath.Base(files[i]), sizes[i], len(firstLines[i+1]), tc.maxSize)
				}
			}
			if len(all) == 0 {
				t.Fatal("no entries kept")
			}
			last := 299
			first := last - len(all) + 1
			for i, le := range all {
				want := "line " + itoa(int64(first+i)) + " padding-padding-padding"
				if le.Log != want || le.Stream != "stdout" {
					t.Fatalf("entry %d of the kept ones: %q, want %q (entries lost or reordered)", i, le.Log, want)
				}
			}
		})
	}
	t.Run("entry larger than a file", func(t *testing.T) {
		t.Parallel()
		long := strings.Repeat("x", 300)
		e := newEnv(t, "echo short1\necho "+long+"\necho short2\n")
		s := e.startShim("--log-max-size", "100", "--log-max-file", "5")
		s.mustStart()
		s.waitExit0()
		want := map[string]string{
			ctrstate.LogFile + ".2": "short1",
			ctrstate.LogFile + ".1": long,
			ctrstate.LogFile:        "short2",
		}
		for name, text := range want {
			b, err := os.ReadFile(e.path(name))
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			got := parseLog(t, b)
			if len(got) != 1 || got[0].Log != text {
				t.Errorf("%s holds %d entries %.40q…, want only %.40q", name, len(got), got, text)
			}
		}
		if _, err := os.Stat(e.path(ctrstate.LogFile + ".3")); err == nil {
			t.Error("container.log.3: an empty rotation")
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fakeCompressor is berth as far as --log-compress needs it (`BERTH
// log-compress LOG`): it counts its runs, checks that the one rotated file
// not yet compressed is LOG.1 (the shim runs it after each rotation and
// waits for it before the next), takes its time (a shim that rotated
// meanwhile fails the next run's check), then gzips LOG.1.
const fakeCompressor = `#!/bin/sh
[ "$1" = log-compress ] && [ $# -eq 2 ] || { echo "fake-berth: bad arguments $*" >&2; exit 2; }
echo run >>"$(dirname "$0")/compressions"
plain=$(ls "$2".[0-9]* | grep -v '\.gz$')
[ "$plain" = "$2.1" ] || { echo "fake-berth: uncompressed: $plain" >&2; exit 1; }
sleep 0.05
gzip -n "$2.1"
`

// TestLogCompress: with --log-compress, every rotated file ends up
// gzipped (container.log.N.gz) once state.json says exited, the shim
// having run the compressor once per rotation and waited for it before
// the next: all entries kept, in order, none twice.
func TestLogCompress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, `i=0
while [ $i -lt 300 ]; do echo "line $i padding-padding-padding"; i=$((i+1)); done
`)
	berth := filepath.Join(filepath.Dir(e.runtime), "fake-berth")
	if err := os.WriteFile(berth, []byte(fakeCompressor), 0o755); err != nil {
		t.Fatal(err)
	}
	s := e.startShim("--log-max-size", "2000", "--log-max-file", "30", "--log-compress", "--berth", berth)
	s.mustStart()
	s.waitExit0()
	log := e.path(ctrstate.LogFile)
	var all []logEntry
	rotations := 0
	for i := 29; i >= 1; i-- {
		p := log + "." + itoa(int64(i))
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s: left uncompressed", filepath.Base(p))
		}
		f, err := os.Open(p + ".gz")
		if err != nil {
			continue
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s.gz: %v", filepath.Base(p), err)
		}
		b, err := io.ReadAll(zr)
		_ = f.Close()
		if err != nil {
			t.Fatalf("%s.gz: %v", filepath.Base(p), err)
		}
		if len(b) > 2000 {
			t.Errorf("%s.gz: %d bytes uncompressed, more than 2000", filepath.Base(p), len(b))
		}
		all = append(all, parseLog(t, b)...)
		rotations++
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, parseLog(t, b)...)
	if rotations < 5 {
		t.Fatalf("%d rotated files, want at least 5 (18 KB of output in files of 2000 bytes)", rotations)
	}
	if len(all) != 300 {
		t.Errorf("%d entries kept, want all 300", len(all))
	}
	for i, le := range all {
		if want := "line " + itoa(int64(i)) + " padding-padding-padding"; le.Log != want {
			t.Fatalf("entry %d: %q, want %q (entries lost or reordered)", i, le.Log, want)
		}
	}
	runs, _ := os.ReadFile(filepath.Join(filepath.Dir(berth), "compressions"))
	if n := strings.Count(string(runs), "run\n"); n != rotations {
		t.Errorf("compressor ran %d times for %d rotations", n, rotations)
	}
	if l := e.shimLog(); strings.Contains(l, "compress") || strings.Contains(l, "fake-berth") {
		t.Errorf("shim.log: %s", l)
	}
}

// TestLogCompleteAtExit: state.json says exited only once the log holds
// all the output: the shim drains what a process left behind by the
// container still writes (for a while).
func TestLogCompleteAtExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "(sleep 0.3; echo late) &\necho early\nexit 0\n")
	s := e.startShim()
	s.mustStart()
	e.waitState("exited", func(st state) bool { return st.Status == ctrstate.StatusExited })
	got := strings.Join(streamLogs(e.readLog(), "stdout"), "|")
	if got != "early|late" {
		t.Errorf("container.log when state.json said exited: %q, want \"early|late\"", got)
	}
	s.waitExit0()
}
