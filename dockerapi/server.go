package dockerapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/common"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/netmgr"
)

// APIVersion is the Docker Engine API version the server speaks;
// MinAPIVersion the oldest it accepts.
const (
	APIVersion    = "1.51"
	MinAPIVersion = "1.40"
)

// maxBody bounds a JSON request body.
const maxBody = 4 << 20

// Options configure a Server.
type Options struct {
	Engine   *engine.Engine
	Networks *netmgr.Manager // nil: no network endpoints
	Builder  *build.Builder  // nil: no POST /build
	Version  string          // berth's version, for /version
	Logger   *slog.Logger
	// Root and RunDir are the state root and run directory /info reports.
	Root, RunDir string
}

// Server is the Docker Engine API over an engine: an http.Handler. It
// keeps no state of its own but the exec instances created and not yet
// forgotten (Docker's exec IDs live in the daemon's memory too) and the
// attach streams it is serving. Safe for concurrent use.
type Server struct {
	opt Options
	eng *engine.Engine
	log *slog.Logger
	mux *http.ServeMux
	// ctx ends with Close: the goroutines the server owns (exit watches)
	// and its event streams end with it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the goroutines the server owns

	mu sync.Mutex // guards the fields below
	// execs are the exec instances by ID.
	execs map[string]*execInstance
	// attached counts the attach streams per container ID, which an
	// auto-removal waits for.
	attached map[engine.ContainerID]*sync.WaitGroup
}

// New returns the API server over opt's engine. ctx carries the values of
// the goroutines the server owns; its cancellation is not followed: Close
// ends them.
func New(ctx context.Context, opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}

	s := &Server{opt: opt, eng: opt.Engine, log: opt.Logger, mux: http.NewServeMux(),
		execs: map[string]*execInstance{}, attached: map[engine.ContainerID]*sync.WaitGroup{}}
	// The server's own lifetime, not a request's: Close ends it.
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.routes()
	return s
}

// Close ends the event streams and the goroutines the server owns and
// waits for them. The containers it started keep running.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// versionPrefix is the /v1.NN a client puts before every path.
var versionPrefix = lazyregexp.New(`^/v1\.[0-9]+/`)

// ServeHTTP answers one request, whatever /v1.NN prefix its path has.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if loc := versionPrefix.FindStringIndex(r.URL.Path); loc != nil {
		r.URL.Path = r.URL.Path[loc[1]-1:]
		r.URL.RawPath = ""
	}
	w.Header().Set("API-Version", APIVersion)
	w.Header().Set("Server", "berth/"+s.opt.Version)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /_ping", handlerFunc(s.ping))
	m.Handle("HEAD /_ping", handlerFunc(s.ping))
	m.Handle("GET /version", handlerFunc(s.version))
	m.Handle("GET /info", handlerFunc(s.info))

	m.Handle("POST /containers/create", handlerFunc(s.containerCreate))
	m.Handle("GET /containers/json", handlerFunc(s.containerList))
	m.Handle("GET /containers/{id}/json", handlerFunc(s.containerInspect))
	m.Handle("POST /containers/{id}/start", handlerFunc(s.containerStart))
	m.Handle("POST /containers/{id}/stop", handlerFunc(s.containerStop))
	m.Handle("POST /containers/{id}/restart", handlerFunc(s.containerRestart))
	m.Handle("POST /containers/{id}/kill", handlerFunc(s.containerKill))
	m.Handle("POST /containers/{id}/wait", handlerFunc(s.containerWait))
	m.Handle("POST /containers/{id}/pause", handlerFunc(s.containerPause))
	m.Handle("POST /containers/{id}/unpause", handlerFunc(s.containerUnpause))
	m.Handle("DELETE /containers/{id}", handlerFunc(s.containerDelete))
	m.Handle("GET /containers/{id}/logs", handlerFunc(s.containerLogs))
	m.Handle("POST /containers/{id}/attach", handlerFunc(s.containerAttach))
	m.Handle("POST /containers/{id}/resize", handlerFunc(s.noContent))
	m.Handle("POST /containers/{id}/exec", handlerFunc(s.execCreate))
	m.Handle("HEAD /containers/{id}/archive", handlerFunc(s.archiveHead))
	m.Handle("GET /containers/{id}/archive", handlerFunc(s.archiveGet))
	m.Handle("PUT /containers/{id}/archive", handlerFunc(s.archivePut))
	m.Handle("GET /containers/{id}/top", handlerFunc(s.containerTop))
	m.Handle("GET /containers/{id}/stats", handlerFunc(s.containerStats))
	m.Handle("POST /containers/{id}/rename", handlerFunc(s.containerRename))
	m.Handle("POST /containers/{id}/update", handlerFunc(s.containerUpdate))
	m.Handle("POST /exec/{id}/start", handlerFunc(s.execStart))
	m.Handle("POST /exec/{id}/resize", handlerFunc(s.execResize))
	m.Handle("GET /exec/{id}/json", handlerFunc(s.execInspect))

	m.Handle("GET /events", handlerFunc(s.systemEvents))
	m.Handle("POST /build", handlerFunc(s.build))

	m.Handle("GET /networks", handlerFunc(s.networkList))
	m.Handle("POST /networks/create", handlerFunc(s.networkCreate))
	m.Handle("POST /networks/prune", handlerFunc(s.networkPrune))
	m.Handle("POST /networks/{id}/connect", handlerFunc(s.networkConnect))
	m.Handle("POST /networks/{id}/disconnect", handlerFunc(s.networkDisconnect))
	m.Handle("GET /networks/{id}", handlerFunc(s.networkInspect))
	m.Handle("DELETE /networks/{id}", handlerFunc(s.networkDelete))

	m.Handle("GET /volumes", handlerFunc(s.volumeList))
	m.Handle("POST /volumes/create", handlerFunc(s.volumeCreate))
	m.Handle("POST /volumes/prune", handlerFunc(s.volumePrune))
	m.Handle("GET /volumes/{name}", handlerFunc(s.volumeInspect))
	m.Handle("DELETE /volumes/{name}", handlerFunc(s.volumeDelete))

	m.Handle("GET /images/json", handlerFunc(s.imageList))
	m.Handle("POST /images/create", handlerFunc(s.imageCreate))
	m.Handle("POST /images/load", handlerFunc(s.imageLoad))
	m.Handle("GET /images/get", handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return s.imageSave(w, r, r.URL.Query()["names"])
	}))
	m.Handle("GET /images/{name...}", handlerFunc(s.imageGet))
	m.Handle("DELETE /images/{name...}", handlerFunc(s.imageDelete))
	m.Handle("POST /images/{name...}", handlerFunc(s.imagePost))

	// No plugins: `docker inspect NAME` asks here last.
	m.Handle("GET /plugins", handlerFunc(func(w http.ResponseWriter, _ *http.Request) error { return writeJSON(w, http.StatusOK, []struct{}{}) }))
	m.Handle("GET /plugins/{name}/json", handlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("plugin %q not found: %w", r.PathValue("name"), errdefs.ErrNotFound)
	}))

	m.Handle("/", handlerFunc(s.notImplemented))
}

// notImplemented answers every endpoint berth does not serve: 501 naming
// it.
func (s *Server) notImplemented(_ http.ResponseWriter, r *http.Request) error {
	return fmt.Errorf("%s %s: not implemented by berth: %w", r.Method, r.URL.Path, errdefs.ErrNotImplemented)
}

func (s *Server) noContent(w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
}

// handlerFunc is an endpoint: an error it returns is answered in Docker's
// shape, so it must return one only before it has written anything.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (f handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		writeError(w, err)
	}
}

// statusOf is the HTTP status Docker answers an error of err's class with.
func statusOf(err error) int {
	switch {
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidArgument(err):
		return http.StatusBadRequest
	case errdefs.IsConflict(err), errdefs.IsAlreadyExists(err), errdefs.IsFailedPrecondition(err):
		return http.StatusConflict
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	case errdefs.IsPermissionDenied(err):
		return http.StatusForbidden
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads this
	}
	return http.StatusInternalServerError
}

// writeError answers err in Docker's shape: {"message": …} with the status
// of its class.
func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), common.ErrorResponse{Message: err.Error()})
}

// writeJSON answers v with status. It returns nil: once the header is
// out, a failed write is the client's going away.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

// decodeBody reads r's JSON body into v: errdefs.ErrInvalidArgument when
// it is malformed, of the wrong types or too large. An empty body leaves v
// as it is when optional.
func decodeBody(r *http.Request, v any, optional bool) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	if err := dec.Decode(v); err != nil {
		if optional && errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("invalid JSON body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if dec.InputOffset() > maxBody {
		return fmt.Errorf("request body larger than %d bytes: %w", maxBody, errdefs.ErrInvalidArgument)
	}
	return nil
}

// boolParam reads a query flag as Docker does: "1", "true", "True"…
// are true; absent, "" and "0" are false.
func boolParam(r *http.Request, name string) bool {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b // any other non-empty value is true, as Docker's BoolValue
}

// intParam reads an integer query parameter; def when absent.
func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not an integer: %w", name, v, errdefs.ErrInvalidArgument)
	}
	return n, nil
}

// hijack takes over the connection of a streaming endpoint (attach, exec
// start): it answers 101 UPGRADED when the client asked to upgrade, else
// 200, with Docker's raw stream content type, and returns the connection
// with what the client already sent.
func hijack(w http.ResponseWriter, r *http.Request, contentType string) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("the connection cannot be hijacked: %w", errdefs.ErrNotImplemented)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if r.Header.Get("Upgrade") != "" {
		fmt.Fprintf(rw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: %s\r\n\r\n", contentType, APIVersion)
	} else {
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nApi-Version: %s\r\n\r\n", contentType, APIVersion)
	}
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rw, nil
}

// Content types of Docker's streams.
const (
	rawStream         = "application/vnd.docker.raw-stream"
	multiplexedStream = "application/vnd.docker.multiplexed-stream"
)

// frameWriter writes Docker's multiplexed frames of one stream (1: stdout,
// 2: stderr): an 8-byte header (stream, 0, 0, 0, big-endian length), then
// the bytes. Writers sharing mu interleave whole frames.
type frameWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	stream byte
}

func (f frameWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	hdr := [8]byte{f.stream}
	n := len(p)
	hdr[4], hdr[5], hdr[6], hdr[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	if _, err := f.w.Write(hdr[:]); err != nil {
		return 0, err
	}
	if _, err := f.w.Write(p); err != nil {
		return 0, err
	}
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, nil
}

// lockedWriter serialises writes to w (a TTY's single stream).
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.w.Write(p)
	if fl, ok := l.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// outputs are where a container's or exec's stdout and stderr go on w:
// raw with a terminal, else multiplexed frames.
func outputs(w io.Writer, tty bool) (stdout, stderr io.Writer) {
	mu := &sync.Mutex{}
	if tty {
		lw := lockedWriter{mu: mu, w: w}
		return lw, lw
	}
	return frameWriter{mu: mu, w: w, stream: 1}, frameWriter{mu: mu, w: w, stream: 2}
}
