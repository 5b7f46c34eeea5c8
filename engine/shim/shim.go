// Package shim is the per-container supervisor: `berth shim …` (hidden),
// started detached (its own session) by the engine for each container it
// starts, and `/.berth/init`, the berth binary run as a container's PID 1
// when the container asks for an init (see InitMain).
//
// # Protocol with the engine
//
// The engine starts `berth shim --root R --run-dir D --runtime PATH --id ID`
// in its own session, with stdin and stdout on /dev/null, stderr appending
// to shim.log, and a pipe as fd 3. The shim creates and starts the
// container with the runtime, writes state.json (status running, PIDs and
// start times) and closes fd 3 without writing: the container runs. If it
// cannot, it writes one line of error text to fd 3, leaves no runtime state
// behind and exits non-zero; the engine undoes the rest and returns that text.
//
// While the container runs, the shim copies its stdout and stderr into
// container.log as JSON lines ({"time":…,"stream":"stdout","log":"text"})
// and reaps every child (it is a child subreaper, so the container's init
// becomes its child when the runtime exits). When the init exits, the shim
// drains the remaining output, records the OOM kill if any, deletes the
// runtime's state, writes state.json (status exited, exit code — 128+signal
// for a signal — and finish time) and exits. state.json saying exited
// therefore means the log is complete and the runtime holds nothing more.
//
// With a restart policy (--restart always|unless-stopped|on-failure[:N]) the
// shim restarts the container after it exits, with a back-off of 100ms
// doubling to a minute (reset by a run of 10s), state.json saying
// restarting in between and counting the restarts, unless the engine wrote
// the stopping marker (Stop does before it signals). With --health-test
// it runs the healthcheck through the runtime's exec while the container
// runs, recording health.json. With --tty it takes the container's
// terminal from the runtime's console socket; with --stdin it keeps the
// container's stdin; attach clients reach both, and the raw output, on
// the abstract socket ctrstate.AttachSocket. Logs rotate with
// --log-max-size and --log-max-file. With --auto-remove, once the
// container has exited for good, the shim starts `berth container rm ID`
// (detached) before it exits.
//
// The shim's own errors go to its standard error, which the engine opens on
// shim.log in the container directory (so a crash is recorded too). It keeps
// its memory small: one goroutine per stream, fixed buffers, no JSON
// library, and a low GC target.
package shim

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// readyFD is the file descriptor of the readiness pipe (ExtraFiles[0]).
const readyFD = 3

// drainTimeout bounds how long the shim waits, after the container's init
// exited, for the output pipes to reach EOF (a process outside the
// container may still hold them).
const drainTimeout = 2 * time.Second

// initReadyTimeout bounds the wait for a just-started init to report that
// it forwards signals: milliseconds, unless the machine is badly loaded.
const initReadyTimeout = 10 * time.Second

type options struct {
	root, runDir, runtime, id    string
	berth                        string // the berth binary, for auto-removal; "": this one
	restartArg                   string
	debug                        bool
	tty                          bool   // the container has a terminal: take it through a console socket
	init                         bool   // the container's process is the init (ctrstate.InitReadyArg): wait until it is ready
	stdin                        bool   // keep the container's stdin open for attach clients
	autoRemove                   bool   // remove the container once it has exited for good (autoremove.go)
	restart                      policy // what to do when the container exits
	health                       healthConfig
	logMaxSize                   int64 // bytes; 0: no rotation
	logMaxFile                   int
	logMaxSizeArg, logMaxFileArg string
}

func parseArgs(args []string) (options, error) {
	var o options
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--debug" || a == "--tty" || a == "--stdin" || a == "--auto-remove" || a == "--init" {
			o.debug = o.debug || a == "--debug"
			o.init = o.init || a == "--init"
			o.tty = o.tty || a == "--tty"
			o.stdin = o.stdin || a == "--stdin"
			o.autoRemove = o.autoRemove || a == "--auto-remove"
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		var dst *string
		switch name {
		case "--root":
			dst = &o.root
		case "--run-dir":
			dst = &o.runDir
		case "--runtime":
			dst = &o.runtime
		case "--berth":
			dst = &o.berth
		case "--id":
			dst = &o.id
		case "--restart":
			dst = &o.restartArg
		case "--log-max-size":
			dst = &o.logMaxSizeArg
		case "--log-max-file":
			dst = &o.logMaxFileArg
		case "--health-test":
			o.health.test = append(o.health.test, "")
			dst = &o.health.test[len(o.health.test)-1]
		case "--health-interval", "--health-timeout", "--health-start-period", "--health-start-interval", "--health-retries":
			dst = o.health.field(name)
		default:
			return o, errors.New("unknown argument " + strconv.Quote(a))
		}
		if !hasVal {
			if i+1 >= len(args) {
				return o, errors.New(name + " needs a value")
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	switch {
	case o.root == "" || o.runDir == "" || o.runtime == "" || o.id == "":
		return o, errors.New("usage: berth shim --root DIR --run-dir DIR --runtime PATH --id ID")
	case strings.ContainsAny(o.id, "/.") || len(o.id) > 128:
		return o, errors.New("bad container ID " + strconv.Quote(o.id))
	}
	p, err := parsePolicy(o.restartArg)
	if err != nil {
		return o, err
	}
	o.restart = p
	if err := o.health.parse(); err != nil {
		return o, err
	}
	if o.logMaxSizeArg != "" {
		if o.logMaxSize, err = strconv.ParseInt(o.logMaxSizeArg, 10, 64); err != nil || o.logMaxSize < 0 {
			return o, errors.New("bad --log-max-size " + strconv.Quote(o.logMaxSizeArg))
		}
	}
	if o.logMaxFileArg != "" {
		if o.logMaxFile, err = strconv.Atoi(o.logMaxFileArg); err != nil || o.logMaxFile < 1 {
			return o, errors.New("bad --log-max-file " + strconv.Quote(o.logMaxFileArg))
		}
	}
	return o, nil
}

// Main runs the shim with its command-line arguments and returns the exit
// code: 0 when the container ran (whatever its own exit code), 1 when it
// could not be started, 2 for bad arguments.
func Main(args []string) int {
	debug.SetGCPercent(20)
	// The readiness pipe is for the shim alone: the runtime and the
	// container must not inherit it, or its EOF would wait for them.
	unix.CloseOnExec(readyFD)
	ready := os.NewFile(readyFD, "ready")
	o, err := parseArgs(args)
	if err != nil {
		msg := "berth shim: " + err.Error() + "\n"
		_, _ = os.Stderr.WriteString(msg)
		if ready != nil {
			_, _ = ready.WriteString(msg)
		}
		return 2
	}
	s := &shim{opt: o, dir: ctrstate.Dir(o.root, o.id), ready: ready}
	if err := s.listenAttach(); err != nil {
		s.logf(err.Error() + "; the container cannot be attached to")
	}
	st, err := s.start()
	if err != nil {
		s.logf("start: " + err.Error())
		s.notReady(err.Error())
		return 1
	}
	// Starting left garbage (the runtime's command lines, its output):
	// hand it back now, the shim lives as long as its container. When
	// berth itself is the shim, this also returns what its package
	// initialisers (the CLI's, the image store's…) allocated.
	debug.FreeOSMemory()
	s.run(st)
	s.attach.close()
	_ = s.logWriter.close()
	if o.autoRemove {
		s.startRemoval()
	}
	return 0
}

type shim struct {
	opt   options
	dir   string   // the container directory
	ready *os.File // readiness pipe; nil once closed

	copiers   chan struct{} // one value per finished output copier
	outR      *os.File
	errR      *os.File
	ttyR      *os.File // the terminal's master side, with --tty
	logWriter *logWriter
	children  children      // processes whose exit reap hands over
	attach    *attachServer // nil when its socket could not be made
	restarts  int           // restarts so far, recorded by start
}

func (s *shim) path(name string) string { return filepath.Join(s.dir, name) }

// start creates and starts the container, records it running and reports
// readiness. On error nothing of the container remains in the runtime.
func (s *shim) start() (ctrstate.State, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return ctrstate.State{}, errors.New("become child subreaper: " + err.Error())
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return ctrstate.State{}, err
	}
	defer devnull.Close()
	if s.logWriter == nil { // kept across restarts
		lw, err := openLogWriter(s.path(ctrstate.LogFile), s.opt.logMaxSize, s.opt.logMaxFile)
		if err != nil {
			return ctrstate.State{}, err
		}
		s.logWriter = lw
	}
	lw := s.logWriter
	outR, outW, err := os.Pipe()
	if err != nil {
		return ctrstate.State{}, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return ctrstate.State{}, err
	}
	s.outR, s.errR = outR, errR

	_ = os.Remove(s.path(ctrstate.InitPidFile))
	runtimeLog := s.path(ctrstate.RuntimeLog)
	logOffset := fileSize(runtimeLog)
	createArgs := []string{"--log", runtimeLog, "create", "--bundle", s.path(ctrstate.BundleDir),
		"--pid-file", s.path(ctrstate.InitPidFile)}
	var console *consoleSocket
	if s.opt.tty {
		if console, err = listenConsole(s.opt.id); err != nil {
			_ = outW.Close()
			_ = errW.Close()
			_ = outR.Close()
			_ = errR.Close()
			return ctrstate.State{}, err
		}
		createArgs = append(createArgs, "--console-socket", console.path)
	}
	files := []*os.File{devnull, outW, errW}
	// The init's readiness pipe (ctrstate.InitReadyArg): its descriptor 3.
	var initReady, initReadyW *os.File
	if s.opt.init {
		if initReady, initReadyW, err = os.Pipe(); err != nil {
			_ = outW.Close()
			_ = errW.Close()
			_ = outR.Close()
			_ = errR.Close()
			if console != nil {
				console.close()
			}
			return ctrstate.State{}, err
		}
		defer initReady.Close()
		createArgs = append(createArgs, "--preserve-fds", "1")
		files = append(files, initReadyW)
	}
	create := s.runtime(append(createArgs, s.opt.id)...)
	var stdinW *os.File
	if s.opt.stdin && !s.opt.tty {
		inR, inW, perr := os.Pipe()
		if perr != nil {
			_ = outW.Close()
			_ = errW.Close()
			_ = outR.Close()
			_ = errR.Close()
			return ctrstate.State{}, perr
		}
		files[0], stdinW = inR, inW
		defer inR.Close() // the container holds its own copy
	}
	err = runCmd(create, files)
	if initReadyW != nil {
		_ = initReadyW.Close() // the container holds its own copy
	}
	if err != nil && stdinW != nil {
		_ = stdinW.Close()
		stdinW = nil
	}
	if console != nil {
		if err == nil {
			if s.ttyR, err = console.receive(); err != nil {
				s.forceDelete()
				err = errors.New("terminal: " + err.Error())
			}
		}
		console.close()
	}
	// The container holds its own copies now; ours must go so that EOF
	// comes when the container's processes are gone.
	_ = outW.Close()
	_ = errW.Close()
	if err != nil {
		_ = outR.Close()
		_ = errR.Close()
		return ctrstate.State{}, runtimeError(runtimeLog, logOffset, "create", err)
	}
	pid, err := readPid(s.path(ctrstate.InitPidFile))
	if err != nil {
		s.forceDelete()
		return ctrstate.State{}, err
	}
	initStart, _, _ := ctrstate.ProcStart(pid)

	s.attach.setStreams(stdinW, s.ttyR)
	if s.attach != nil {
		lw.tap = s.attach.output
	}
	s.copiers = make(chan struct{}, 3)
	go lw.copy(outR, "stdout", s.copiers)
	go lw.copy(errR, "stderr", s.copiers)
	if s.ttyR != nil {
		go lw.copy(s.ttyR, "stdout", s.copiers)
	}

	logOffset = fileSize(runtimeLog)
	startCmd := s.runtime("--log", runtimeLog, "start", s.opt.id)
	if err := runCmd(startCmd, []*os.File{devnull, devnull, devnull}); err != nil {
		s.forceDelete()
		s.drain()
		return ctrstate.State{}, runtimeError(runtimeLog, logOffset, "start", err)
	}
	if initReady != nil {
		s.awaitInit(initReady)
	}

	shimStart, _, _ := ctrstate.ProcStart(os.Getpid())
	st := ctrstate.State{
		Version:   ctrstate.StateVersion,
		Status:    ctrstate.StatusRunning,
		Pid:       pid,
		InitStart: initStart,
		StartedAt: time.Now().UTC(),
		ShimPid:   os.Getpid(),
		ShimStart: shimStart,

		RestartCount: s.restarts,
	}
	if len(s.opt.health.test) > 0 {
		// Before readiness: a started container has a health from the start.
		s.writeHealth(&healthState{status: "starting"})
	}
	if err := s.writeState(&st); err != nil {
		// Without a state file the engine cannot see the container: give up.
		s.kill(pid)
		s.reap(pid)
		s.forceDelete()
		s.drain()
		return ctrstate.State{}, err
	}
	if s.ready != nil {
		_ = s.ready.Close()
		s.ready = nil
	}
	return st, nil
}

// supervise waits for the container's init to exit, then records it:
// exited, or restarting when restart says the run is followed by another
// (so that exited is only ever written once the shim is done).
func (s *shim) supervise(st *ctrstate.State, restart func(code int) bool) {
	stopHealth := s.startHealth()
	code := s.reap(st.Pid)
	stopHealth()
	s.drain()
	s.attach.endRun()
	st.OOMKilled = oomKilled(s.opt.id)
	if out, err := combinedOutput(s.runtime("delete", s.opt.id)); err != nil {
		s.logf("runtime delete: " + err.Error() + ": " + ctrstate.LastErrorMessage(out))
	}
	st.Status = ctrstate.StatusExited
	st.ExitCode = code
	st.FinishedAt = time.Now().UTC()
	if restart != nil && restart(code) {
		st.Status = ctrstate.StatusRestarting
		st.Pid, st.InitStart = 0, 0
	}
	if err := s.writeState(st); err != nil {
		s.logf(err.Error())
	}
}

// reap waits for children until pid exits and returns its exit code (128+n
// for signal n). Other children (the runtime's helpers, orphans) are reaped
// on the way.
func (s *shim) reap(pid int) int {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			// Not our child (no subreaper in effect?): watch it instead.
			s.logf("wait: " + err.Error() + "; polling the container's init")
			for ctrstate.Alive(pid, 0) {
				time.Sleep(50 * time.Millisecond)
			}
			return 255
		case wpid == pid:
			return exitCode(ws)
		default:
			s.children.deliver(wpid, ws) // a healthcheck's runtime exec, or an orphan
		}
	}
}

func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// drain waits for both output copiers to reach EOF, at most drainTimeout,
// then closes the pipes.
func (s *shim) drain() {
	if s.copiers == nil {
		return
	}
	streams := 2
	if s.ttyR != nil {
		streams = 3
	}
	closeAll := func() {
		_ = s.outR.Close()
		_ = s.errR.Close()
		if s.ttyR != nil {
			_ = s.ttyR.Close()
			s.ttyR = nil
		}
	}
	deadline := time.NewTimer(drainTimeout)
	defer deadline.Stop()
	for n := 0; n < streams; n++ {
		select {
		case <-s.copiers:
		case <-deadline.C:
			s.logf("output still open " + drainTimeout.String() + " after the container exited; closing it")
			closeAll()
			for ; n < streams; n++ {
				<-s.copiers
			}
			s.copiers = nil
			return
		}
	}
	closeAll()
	s.copiers = nil
}

func (s *shim) kill(pid int) {
	_ = unix.Kill(pid, unix.SIGKILL)
}

// forceDelete removes the container from the runtime, killing it if needed.
func (s *shim) forceDelete() {
	if out, err := combinedOutput(s.runtime("delete", "--force", s.opt.id)); err != nil {
		s.logf("runtime delete --force: " + err.Error() + ": " + ctrstate.LastErrorMessage(out))
	}
}

// runtime is the command line of the runtime with args (its --root first).
func (s *shim) runtime(args ...string) []string {
	argv := append([]string{s.opt.runtime}, ctrstate.RuntimeArgs(ctrstate.RuntimeRoot(s.opt.runDir), args...)...)
	if s.opt.debug {
		s.logf("exec " + strings.Join(argv, " "))
	}
	return argv
}

// awaitInit waits until the container's init reports on ready that it
// forwards signals (see InitMain), or closes it without a word (it died:
// reap will see its exit), at most initReadyTimeout.
func (s *shim) awaitInit(ready *os.File) {
	_ = ready.SetReadDeadline(time.Now().Add(initReadyTimeout))
	var b [1]byte
	if _, err := ready.Read(b[:]); errors.Is(err, os.ErrDeadlineExceeded) {
		s.logf("the container's init is not ready after " + initReadyTimeout.String() + "; reporting it running anyway")
	}
}

func (s *shim) writeState(st *ctrstate.State) error {
	return writeFileAtomic(s.path(ctrstate.StateFile), st.Marshal(), 0o644)
}

// notReady reports msg on the readiness pipe.
func (s *shim) notReady(msg string) {
	if s.ready == nil {
		return
	}
	_, _ = s.ready.WriteString(msg)
	_ = s.ready.Close()
	s.ready = nil
}

// logf writes a line to the shim's standard error, which the engine points
// at shim.log.
func (s *shim) logf(msg string) {
	b := time.Now().UTC().AppendFormat(make([]byte, 0, 64+len(msg)), time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, msg...)
	b = append(b, '\n')
	_, _ = os.Stderr.Write(b)
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, errors.New("bad pid file " + path)
	}
	return pid, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// runtimeError turns a failed runtime command into one line: the last error
// the runtime logged after offset, without its "runc create failed: unable
// to start container process: " preamble.
func runtimeError(logPath string, offset int64, verb string, err error) error {
	var msg string
	if f, oerr := os.Open(logPath); oerr == nil {
		if _, serr := f.Seek(offset, io.SeekStart); serr == nil {
			b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
			msg = ctrstate.LastErrorMessage(b)
		}
		_ = f.Close()
	}
	if msg == "" {
		return errors.New("runtime " + verb + ": " + err.Error())
	}
	for _, p := range []string{"runc " + verb + " failed: ", "unable to start container process: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return errors.New(msg)
}

// oomKilled reports whether the kernel's OOM killer acted in the container's
// memory cgroup (v1 memory.oom_control or v2 memory.events). Best effort.
func oomKilled(id string) bool {
	cg := ctrstate.CgroupsPath(id)
	for _, p := range []string{
		"/sys/fs/cgroup/memory" + cg + "/memory.oom_control",
		"/sys/fs/cgroup" + cg + "/memory.events",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n > 0
			}
		}
	}
	return false
}
