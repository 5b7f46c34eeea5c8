package dockerapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/creack/pty"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
)

// logOptions reads the query of logs and attach: which streams, follow,
// tail, since, until, timestamps.
type logOptions struct {
	engine.LogOptions
	stdout, stderr, timestamps bool
}

func readLogOptions(r *http.Request) (logOptions, error) {
	o := logOptions{stdout: boolParam(r, "stdout"), stderr: boolParam(r, "stderr"), timestamps: boolParam(r, "timestamps")}
	o.Follow = boolParam(r, "follow")
	o.Details = boolParam(r, "details")
	o.Tail = -1
	if t := r.URL.Query().Get("tail"); t != "" && t != "all" {
		n, err := intParam(r, "tail", -1)
		if err != nil {
			return o, err
		}
		o.Tail = n
	}
	var err error
	if o.Since, err = parseSince(r, "since"); err != nil {
		return o, err
	}
	if o.Until, err = parseSince(r, "until"); err != nil {
		return o, err
	}
	return o, nil
}

// sendLogs writes the container's log lines the options select to stdout
// and stderr.
func (s *Server) sendLogs(ctx context.Context, c *engine.Container, o logOptions, stdout, stderr io.Writer) error {
	return s.eng.Logs(ctx, c.ID, o.LogOptions, func(l engine.LogLine) error {
		w := stdout
		if l.Stream == "stderr" {
			if !o.stderr {
				return nil
			}
			w = stderr
		} else if !o.stdout {
			return nil
		}
		text := l.Text + "\n"
		if o.Details {
			text = LogDetails(l.Attrs) + " " + text
		}
		if o.timestamps {
			text = l.Time.UTC().Format("2006-01-02T15:04:05.000000000Z") + " " + text
		}
		_, err := io.WriteString(w, text)
		return err
	})
}

// containerLogs is `GET /containers/{id}/logs`: multiplexed frames, or the
// raw stream of a container with a terminal.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) error {
	o, err := readLogOptions(r)
	if err != nil {
		return err
	}
	if !o.stdout && !o.stderr {
		return fmt.Errorf("you must choose at least one stream: %w", errdefs.ErrInvalidArgument)
	}
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ct := multiplexedStream
	if c.Config.Tty {
		ct = rawStream
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	stdout, stderr := outputs(w, c.Config.Tty)
	if err := s.sendLogs(r.Context(), c, o, stdout, stderr); err != nil && r.Context().Err() == nil {
		s.log.Warn("logs", "container", c.Config.Name, "err", err)
	}
	return nil
}

// containerAttach is `POST /containers/{id}/attach` (hijacked). With
// stream, output is sent from the container's start (the CLI attaches
// before it starts the container) until it exits; logs=1 alone sends the
// log so far. stdin=1 relays the client's input to a container with
// OpenStdin.
func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) error {
	o, err := readLogOptions(r)
	if err != nil {
		return err
	}
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	stream, logs, stdin := boolParam(r, "stream"), boolParam(r, "logs"), boolParam(r, "stdin") && c.Config.OpenStdin
	done := s.attachBegin(c.ID)
	defer done()
	ct := multiplexedStream
	if c.Config.Tty {
		ct = rawStream
	}
	conn, rw, err := hijack(w, r, ct)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The request's context ends with the hijacked connection's reads:
	// this one ends when the client closes it or the server stops.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	stdout, stderr := outputs(conn, c.Config.Tty)
	if !stream {
		if logs {
			_ = s.sendLogs(ctx, c, o, stdout, stderr)
		}
		return nil
	}
	// Without stdin the client half-closes its side (CloseWrite) at once:
	// its going away shows as a failed write.
	// Attached to before it runs (`docker start -a`): its output from
	// the start to come. A container that ran before waits for a new run.
	fresh := c.State.Status == engine.StatusCreated
	rerun := c.State.Status == engine.StatusExited
	attached, prevStart := time.Now(), c.State.StartedAt
	if c, err = s.waitUntil(ctx, c, func(c *engine.Container) bool {
		return c.State.Status != engine.StatusCreated && (!rerun || c.State.StartedAt.After(prevStart))
	}); err != nil {
		return nil
	}
	if stdin || c.Config.Tty {
		aio := engine.AttachIO{Stdout: stdout, Stderr: stderr, CloseStdin: !c.Config.Tty}
		if stdin {
			aio.Stdin = rw
		}
		err = s.eng.Attach(ctx, c.ID, aio)
		if !errdefs.IsFailedPrecondition(err) {
			return nil
		}
		// It exited before we could attach: its log holds its output.
	}
	// From its first line when it was attached to before it started,
	// else what it writes from now on.
	o.Follow, o.Tail, o.Since = true, -1, time.Time{}
	switch {
	case rerun:
		o.Since = attached
	case !fresh:
		o.Tail = 0
	}
	_ = s.sendLogs(ctx, c, o, stdout, stderr)
	return nil
}

// execInstance is an exec created and maybe started.
type execInstance struct {
	id        string
	container *engine.Container
	req       container.ExecCreateRequest

	// Guarded by Server.mu:
	running  bool
	started  bool
	exitCode *int
	term     *ptyPair // while a process with a terminal runs
}

func newExecID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecCreateRequest
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	if len(req.Cmd) == 0 {
		return fmt.Errorf("no exec command specified: %w", errdefs.ErrInvalidArgument)
	}
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.State.Status != engine.StatusRunning {
		return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
	}
	ex := &execInstance{id: newExecID(), container: c, req: req}
	s.mu.Lock()
	s.execs[ex.id] = ex
	s.mu.Unlock()
	return writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: ex.id})
}

func (s *Server) exec(id string) (*execInstance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex := s.execs[id]
	if ex == nil {
		return nil, fmt.Errorf("No such exec instance: %s: %w", id, errdefs.ErrNotFound)
	}
	return ex, nil
}

// execStart is `POST /exec/{id}/start`: detached, or hijacked with the
// process's streams (multiplexed, raw with a terminal).
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecStartRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	ex, err := s.exec(r.PathValue("id"))
	if err != nil {
		return err
	}
	s.mu.Lock()
	already := ex.started
	ex.started, ex.running = true, true
	s.mu.Unlock()
	if already {
		return fmt.Errorf("exec %s has already been started: %w", ex.id, errdefs.ErrConflict)
	}
	tty := ex.req.Tty || req.Tty
	cfg := engine.ExecConfig{Cmd: ex.req.Cmd, Env: ex.req.Env, User: ex.req.User, WorkingDir: ex.req.WorkingDir,
		Tty: tty && !req.Detach, Privileged: ex.req.Privileged, Detach: req.Detach}
	if req.Detach {
		code, err := s.eng.Exec(context.WithoutCancel(r.Context()), ex.container.ID, cfg, engine.ExecIO{})
		s.execDone(ex, code)
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	ct := multiplexedStream
	if tty {
		ct = rawStream
	}
	conn, rw, err := hijack(w, r, ct)
	if err != nil {
		s.execDone(ex, -1)
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	stdout, stderr := outputs(conn, tty)
	stdio := engine.ExecIO{Stdout: stdout, Stderr: stderr}
	if ex.req.AttachStdin {
		stdio.Stdin = rw
	}
	if tty {
		// The runtime relays a terminal of the caller's own: one made here,
		// copied to and from the connection.
		term, err := relayTerminal(rw, conn, consoleSize(ex.req.ConsoleSize, req.ConsoleSize))
		if err != nil {
			s.execDone(ex, -1)
			_, _ = io.WriteString(stdout, err.Error()+"\r\n")
			return nil
		}
		defer term.Close()
		s.mu.Lock()
		ex.term = term
		s.mu.Unlock()
		stdio = engine.ExecIO{Stdin: term.File, Stdout: term.File, Stderr: term.File, OwnTerminal: true}
	}
	code, err := s.eng.Exec(ctx, ex.container.ID, cfg, stdio)
	if err != nil {
		_, _ = io.WriteString(stderr, err.Error()+"\n")
	}
	s.execDone(ex, code)
	return nil
}

func (s *Server) execDone(ex *execInstance, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ex.running, ex.exitCode, ex.term = false, &code, nil
}

// execResize is `POST /exec/{id}/resize?h=&w=`: the size of the exec's
// terminal, which the runtime follows.
func (s *Server) execResize(w http.ResponseWriter, r *http.Request) error {
	h, err := intParam(r, "h", 0)
	if err != nil {
		return err
	}
	wd, err := intParam(r, "w", 0)
	if err != nil {
		return err
	}
	ex, err := s.exec(r.PathValue("id"))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ex.term != nil && h > 0 && wd > 0 {
		if err := pty.Setsize(ex.term.master, &pty.Winsize{Rows: uint16(h), Cols: uint16(wd)}); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) error {
	ex, err := s.exec(r.PathValue("id"))
	if err != nil {
		return err
	}
	s.mu.Lock()
	out := container.ExecInspectResponse{
		ID: ex.id, Running: ex.running, ExitCode: ex.exitCode, ContainerID: string(ex.container.ID),
		OpenStdin: ex.req.AttachStdin, OpenStdout: ex.req.AttachStdout, OpenStderr: ex.req.AttachStderr,
		CanRemove: !ex.running && ex.started,
		ProcessConfig: &container.ExecProcessConfig{Tty: ex.req.Tty, Entrypoint: ex.req.Cmd[0],
			Arguments: slices.Clone(ex.req.Cmd[1:]), User: ex.req.User, Privileged: &ex.req.Privileged},
	}
	s.mu.Unlock()
	return writeJSON(w, http.StatusOK, out)
}

// consoleSize is the first size given, as [height, width].
func consoleSize(sizes ...*[2]uint) *[2]uint {
	for _, sz := range sizes {
		if sz != nil && sz[0] > 0 && sz[1] > 0 {
			return sz
		}
	}
	return nil
}

// relayTerminal makes a terminal of size (nil: the default) and copies
// in to it and its output to out until it is closed. The terminal
// returned is the one a process is given (the pty's replica); closing it
// ends the relay.
func relayTerminal(in io.Reader, out io.Writer, size *[2]uint) (*ptyPair, error) {
	master, replica, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("exec: make a terminal: %w", err)
	}
	if size != nil {
		_ = pty.Setsize(master, &pty.Winsize{Rows: uint16(size[0]), Cols: uint16(size[1])})
	}
	if _, err := term.MakeRaw(int(replica.Fd())); err != nil {
		master.Close()
		replica.Close()
		return nil, fmt.Errorf("exec: make a terminal: %w", err)
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(master, in) }()
	go func() { _, _ = io.Copy(out, master); close(done) }()
	return &ptyPair{File: replica, master: master, done: done}, nil
}

// ptyPair is the replica side of a relayed terminal.
type ptyPair struct {
	*os.File
	master *os.File
	done   chan struct{}
}

// Close closes the replica, waits for the output relayed so far to be
// written, and closes the master.
func (p *ptyPair) Close() error {
	err := p.File.Close()
	<-p.done // the master reads EIO once no process holds the replica
	return errors.Join(err, p.master.Close())
}

// LogDetails is how docker logs --details shows a line's attributes:
// key=value, query-escaped, sorted by key, comma-separated.
func LogDetails(attrs map[string]string) string {
	parts := make([]string, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(attrs[k]))
	}
	return strings.Join(parts, ",")
}
