// Package ctrstate is what the engine and the shim share about a container's
// directory: the names of its files, the runtime's command line, and the
// state file the shim writes and the engine reads. The shim is a C program
// (cmd/berth-shim) with its own copy of these names and formats: a change
// here is a change there (cmd/berth-shim/shim.h), and engine/shimtest
// checks the two agree.
package ctrstate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/smallfile"
)

// Files and directories inside <root>/containers/<id>/.
const (
	RecordFile    = "container.json" // the engine's record
	StateFile     = "state.json"     // written by the shim (and by the engine while no shim runs)
	LogFile       = "container.log"  // JSON lines, appended by the shim
	ShimLogFile   = "shim.log"       // the shim's own errors
	RuntimeLog    = "runc.log"       // the runtime's log (--log) while creating
	InitPidFile   = "init.pid"       // --pid-file of runtime run
	BundleDir     = "bundle"         // config.json and rootfs/
	RootfsDir     = "bundle/rootfs"  // the overlay mount point
	EndpointsFile = "endpoints.json" // network attachments of the current run
	PausedFile    = "paused"         // present while the engine has paused the container
	HealthFile    = "health.json"    // the healthcheck's status and last results, written by the shim
	StoppingFile  = "stopping"       // written by the engine before it stops the container: the shim must not restart it
	RestartFile   = "restart-policy" // the restart policy set while the container runs (update --restart): the shim's from then on
)

// AttachSocket is the unix socket on which the shim of container id serves
// attach clients, in a directory of the run directory only root enters
// (not an abstract socket: a container sharing the host's network
// namespace could reach one). The ID is shortened to keep the path within
// the 108 bytes a socket address holds.
func AttachSocket(runDir, id string) string {
	if len(id) > 24 {
		id = id[:24]
	}
	return filepath.Join(runDir, "attach", id+".sock")
}

// Frame types on the attach socket: one type byte, a 4-byte big-endian
// length, the payload.
const (
	FrameStdout     = 1 // shim → client: output
	FrameStderr     = 2
	FrameStdin      = 3 // client → shim: input
	FrameCloseStdin = 4 // client → shim: no more input
	FrameResize     = 5 // client → shim: rows and columns, 2 bytes each
)

// InitPath is where a container started with Init finds the berth binary,
// bind-mounted read-only, to run as its PID 1.
const InitPath = "/.berth/init"

// InitReadyArg is the init's first argument: its descriptor 3 (the shim
// passes it through the runtime's --preserve-fds) is a pipe on which the
// init reports, by writing one byte and closing it, that it forwards
// signals. Until then a signal could kill it (as PID 1 it would ignore
// SIGTERM, or die of it before it blocks it), so the shim reports the
// container running only after that byte.
const InitReadyArg = "--ready-fd=3"

// StateVersion is the version of the state file this code reads and writes.
const StateVersion = 1

// Statuses written to the state file; the engine's Status has the same words.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	// StatusRestarting: the shim waits to restart the container (its
	// restart policy); Pid is 0, ExitCode and FinishedAt are the last run's.
	StatusRestarting = "restarting"
	StatusExited     = "exited"
)

// State is the content of state.json. Its JSON keys match engine.State, plus
// version and the shim's identity, which the engine uses to tell whether the
// shim still lives (a PID alone may have been reused).
type State struct {
	Version    int
	Status     string
	Pid        int    // the container's init, as seen from the host
	InitStart  uint64 // its start time, /proc/<pid>/stat field 22
	ExitCode   int
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
	ShimPid    int
	ShimStart  uint64 // the shim's start time, /proc/<pid>/stat field 22
	// RestartCount is how many times the shim restarted the container
	// since the engine started it.
	RestartCount int
}

// Marshal encodes s as JSON, with the keys engine.State reads.
func (s *State) Marshal() []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(s.Version), 10)
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, []byte(s.Status))
	if s.Pid != 0 {
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(s.Pid), 10)
		b = append(b, `,"init_start":`...)
		b = strconv.AppendUint(b, s.InitStart, 10)
	}
	b = append(b, `,"exit_code":`...)
	b = strconv.AppendInt(b, int64(s.ExitCode), 10)
	if s.OOMKilled {
		b = append(b, `,"oom_killed":true`...)
	}
	if !s.StartedAt.IsZero() {
		b = append(b, `,"started_at":"`...)
		b = s.StartedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if !s.FinishedAt.IsZero() {
		b = append(b, `,"finished_at":"`...)
		b = s.FinishedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if s.Error != "" {
		b = append(b, `,"error":`...)
		b = AppendJSONString(b, []byte(s.Error))
	}
	if s.RestartCount != 0 {
		b = append(b, `,"restart_count":`...)
		b = strconv.AppendInt(b, int64(s.RestartCount), 10)
	}
	if s.ShimPid != 0 {
		b = append(b, `,"shim_pid":`...)
		b = strconv.AppendInt(b, int64(s.ShimPid), 10)
		b = append(b, `,"shim_start":`...)
		b = strconv.AppendUint(b, s.ShimStart, 10)
	}
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s to b as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func AppendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ProcStart returns the start time of process pid (clock ticks after boot,
// field 22 of /proc/<pid>/stat) and whether it is a zombie. Together with the
// PID it names a process for good: a PID can be reused, the pair cannot.
func ProcStart(pid int) (start uint64, zombie bool, err error) {
	if pid <= 0 {
		return 0, false, os.ErrNotExist
	}
	b, err := smallfile.Read("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	return parseProcStat(b)
}

// parseProcStat reads the start time and the zombie state from b, the
// content of a /proc/<pid>/stat.
func parseProcStat(b []byte) (start uint64, zombie bool, err error) {
	// The command name (field 2) is in parentheses and may hold anything;
	// the fields after the last ')' are plain.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, errors.New("malformed /proc stat")
	}
	// Field 3 (the state) is the first after it; field 22 the 20th.
	st, ok := nthField(b[i+1:], 0)
	f22, ok22 := nthField(b[i+1:], 19)
	if !ok || !ok22 {
		return 0, false, errors.New("malformed /proc stat")
	}
	start, err = strconv.ParseUint(string(f22), 10, 64)
	if err != nil {
		return 0, false, err
	}
	return start, len(st) == 1 && (st[0] == 'Z' || st[0] == 'X'), nil
}

// nthField is the n-th (from 0) of b's fields separated by spaces or
// newlines; ok is false when b has fewer.
func nthField(b []byte, n int) (field []byte, ok bool) {
	for i := 0; i < len(b); {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n') {
			i++
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\n' {
			j++
		}
		if j > i {
			if n == 0 {
				return b[i:j], true
			}
			n--
		}
		i = j
	}
	return nil, false
}

// Alive reports whether the process pid that started at start (see
// ProcStart) still runs. A zombie is not alive. start 0 skips the check of
// the start time.
func Alive(pid int, start uint64) bool {
	s, zombie, err := ProcStart(pid)
	if err != nil || zombie {
		return false
	}
	return start == 0 || s == start
}

// LastErrorMessage returns the msg of the last error line of the runtime's
// JSON log in b (runc --log-format json), on one line.
func LastErrorMessage(b []byte) string {
	var msg string
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		b = rest
		if !bytes.Contains(line, []byte(`"level":"error"`)) && !bytes.Contains(line, []byte(`"level":"fatal"`)) {
			continue
		}
		if m, ok := jsonField(line, "msg"); ok {
			msg = m
		}
	}
	return strings.Join(strings.Fields(msg), " ")
}

// jsonField extracts the string value of key from a flat JSON object.
func jsonField(line []byte, key string) (string, bool) {
	i := bytes.Index(line, []byte(`"`+key+`":"`))
	if i < 0 {
		return "", false
	}
	start := i + len(key) + 4
	j := start
	for j < len(line) && line[j] != '"' {
		if line[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(line) {
		return "", false
	}
	v, err := strconv.Unquote(`"` + string(line[start:j]) + `"`)
	if err != nil {
		return string(line[start:j]), true
	}
	return v, true
}

// RuntimeArgs returns the global arguments of every runtime invocation for
// the runtime state directory root, followed by args.
func RuntimeArgs(root string, args ...string) []string {
	return append([]string{"--root", root, "--log-format", "json"}, args...)
}

// RuntimeRoot is the runtime's state directory under the run directory.
func RuntimeRoot(runDir string) string { return filepath.Join(runDir, "runc") }

// Dir is the directory of container id under the state root.
func Dir(root, id string) string { return filepath.Join(root, "containers", id) }

// CgroupsPath is the container's cgroup, relative to each hierarchy's root.
func CgroupsPath(id string) string { return "/berth/" + id }
