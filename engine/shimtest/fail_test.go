package shimtest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// runcLogLine is a line of runc's JSON log (--log-format json).
func runcLogLine(t *testing.T, level, msg string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"level": level, "msg": msg, "time": time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// oneLine checks that msg is one line (a newline at its end allowed) and
// returns it without the newline.
func oneLine(t *testing.T, msg string) string {
	t.Helper()
	line := strings.TrimSuffix(msg, "\n")
	if strings.Contains(line, "\n") {
		t.Errorf("readiness message is not one line: %q", msg)
	}
	return line
}

// requireNotRunning checks that state.json, if any, does not say running.
func (e *env) requireNotRunning() {
	e.t.Helper()
	if _, err := os.Stat(e.path(ctrstate.StateFile)); err != nil {
		return
	}
	if st := e.state(); st.Status == ctrstate.StatusRunning || st.Status == ctrstate.StatusRestarting {
		e.t.Errorf("state.json after a failed start: %s", e.rawState())
	}
}

// TestRunFails: when the runtime's run fails, the shim writes the
// runtime's last logged error on the readiness pipe, as one line and
// without runc's preamble, and exits 1; the container is not recorded
// running and not started.
func TestRunFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		oldLog string // in runc.log before the shim starts
		log    []string
		want   string // "": any message not containing "old"
	}{
		{
			name: "preamble stripped",
			log: []string{
				"info:starting",
				"error:runc run failed: unable to start container process: exec: \"nope\": executable file not found in $PATH",
			},
			want: `exec: "nope": executable file not found in $PATH`,
		},
		{
			name: "last error, on one line",
			log: []string{
				"error:an earlier error",
				"fatal:runc run failed: unable to start container process: error during container init:\n  mount \"proc\":\tpermission denied",
				"warning:a warning after it",
			},
			want: `error during container init: mount "proc": permission denied`,
		},
		{
			name:   "only errors of this call",
			oldLog: "error:old error from an earlier run",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "echo should not run\n")
			var fail strings.Builder
			for _, l := range tc.log {
				level, msg, _ := strings.Cut(l, ":")
				fail.WriteString(runcLogLine(t, level, msg))
			}
			e.writeBundle("create-fail", fail.String())
			if tc.oldLog != "" {
				level, msg, _ := strings.Cut(tc.oldLog, ":")
				if err := os.WriteFile(e.path(ctrstate.RuntimeLog), []byte(runcLogLine(t, level, msg)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s := e.startShim()
			msg := oneLine(t, s.waitReady())
			if code := s.wait(); code != 1 {
				t.Errorf("shim exit code %d, want 1", code)
			}
			switch {
			case tc.want != "" && msg != tc.want:
				t.Errorf("readiness message %q, want %q", msg, tc.want)
			case tc.want == "" && (msg == "" || strings.Contains(msg, "old")):
				t.Errorf("readiness message %q: want an error of this run", msg)
			}
			// The shim's own log (its stderr) says why too.
			if !strings.Contains(e.shimLog(), msg) {
				t.Errorf("shim.log does not hold the error %q:\n%s", msg, e.shimLog())
			}
			e.requireNotRunning()
			if verbs := e.verbs(); len(verbs) != 1 || verbs[0] != "run" {
				t.Errorf("runtime calls %q, want one run", verbs)
			}
			s.requireNoLeftovers()
		})
	}
}

// TestRunFailsAfterCreate: when the runtime's run fails once it made the
// container's process (runc run then removes what it made), the shim
// reports the error and exits 1, and no process of the container is left.
func TestRunFailsAfterCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "echo should not run\n")
	e.writeBundle("start-fail", runcLogLine(t, "error", "runc run failed: cannot start a container that has stopped"))
	s := e.startShim()
	msg := oneLine(t, s.waitReady())
	if code := s.wait(); code != 1 {
		t.Errorf("shim exit code %d, want 1", code)
	}
	if want := "cannot start a container that has stopped"; msg != want {
		t.Errorf("readiness message %q, want %q", msg, want)
	}
	e.requireNotRunning()
	if verbs := e.verbs(); len(verbs) != 1 || verbs[0] != "run" {
		t.Errorf("runtime calls %q, want one run", verbs)
	}
	if b, err := os.ReadFile(e.path(ctrstate.InitPidFile)); err == nil {
		if pid := atoi(t, string(b)); alive(pid) {
			t.Errorf("the created container's process %d still runs", pid)
		}
	}
	s.requireNoLeftovers()
}

// TestBadArguments: bad arguments make the shim exit 2 with a message on
// the readiness pipe (and its stderr), before it touches anything.
func TestBadArguments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string // after "shim"; $ROOT, $RUN, $RT and $ID are replaced
		mention string   // the message quotes it, if set
	}{
		{"missing --id", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT"}, ""},
		{"missing --root", []string{"--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID"}, ""},
		{"missing --runtime", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--id", "$ID"}, ""},
		{"unknown flag", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--bogus"}, "--bogus"},
		{"flag without value", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--restart"}, "--restart"},
		{"bad --restart", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--restart", "sometimes"}, "sometimes"},
		{"bad --restart count", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--restart", "on-failure:x"}, "on-failure:x"},
		{"negative --restart count", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--restart=on-failure:-1"}, "on-failure:-1"},
		{"count on always", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--restart", "always:3"}, "always:3"},
		{"bad --log-max-size", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--log-max-size", "10m"}, "10m"},
		{"negative --log-max-size", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--log-max-size", "-1"}, "-1"},
		{"zero --log-max-file", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--log-max-size", "100", "--log-max-file", "0"}, "0"},
		{"bad --health-interval", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--health-test", "CMD", "--health-test", "true", "--health-interval", "soon"}, "soon"},
		{"bad --health-retries", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--health-test", "CMD", "--health-test", "true", "--health-retries", "many"}, "many"},
		{"bad health test kind", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--health-test", "RUN", "--health-test", "true"}, "RUN"},
		{"CMD-SHELL with two words", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--health-test", "CMD-SHELL", "--health-test", "a", "--health-test", "b"}, ""},
		{"empty CMD", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "$ID", "--health-test", "CMD"}, ""},
		{"ID with a slash", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", "../x"}, "../x"},
		{"ID too long", []string{"--root", "$ROOT", "--run-dir", "$RUN", "--runtime", "$RT", "--id", strings.Repeat("a", 129)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "echo should not run\n")
			args := []string{"shim"}
			for _, a := range tc.args {
				switch a {
				case "$ROOT":
					a = e.root
				case "$RUN":
					a = e.runDir
				case "$RT":
					a = e.runtime
				case "$ID":
					a = e.id
				}
				args = append(args, a)
			}
			s := e.startShimArgs(args...)
			msg := s.waitReady()
			if code := s.wait(); code != 2 {
				t.Errorf("exit code %d, want 2 (message %q)", code, msg)
			}
			line := oneLine(t, msg)
			if strings.TrimSpace(line) == "" {
				t.Fatal("no message on the readiness pipe")
			}
			if tc.mention != "" && !strings.Contains(line, tc.mention) {
				t.Errorf("message %q does not mention %q", line, tc.mention)
			}
			if !strings.Contains(e.shimLog(), line) {
				t.Errorf("stderr does not hold the message %q: %q", line, e.shimLog())
			}
			if calls := e.calls(); len(calls) != 0 {
				t.Errorf("runtime called: %q", calls)
			}
			if _, err := os.Stat(e.path(ctrstate.StateFile)); err == nil {
				t.Errorf("state.json written: %s", e.rawState())
			}
		})
	}
}

// TestArgumentForms: --flag=value and --flag value are the same; --restart
// no and an empty --restart are no policy; --log-max-size 0 is no rotation.
func TestArgumentForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "echo one\nexit 1\n")
	s := e.startShimArgs("shim", "--root="+e.root, "--run-dir="+e.runDir, "--runtime="+e.runtime, "--id="+e.id,
		"--restart=no", "--log-max-size=0", "--log-max-file=2", "--health-test=NONE")
	s.mustStart()
	s.waitExit0()
	if st := e.state(); st.Status != ctrstate.StatusExited || st.ExitCode == nil || *st.ExitCode != 1 || st.RestartCount != 0 {
		t.Errorf("state.json: %s", e.rawState())
	}
	if n := len(e.verbCalls("run")); n != 1 {
		t.Errorf("%d run calls, want 1 (restart no)", n)
	}
	if _, err := os.Stat(e.path(ctrstate.HealthFile)); err == nil {
		t.Error("health.json with --health-test NONE")
	}
	e.waitLog("stdout", "one")
}
