// Package engine is berth's embedded container engine: the image store
// (package image), containers run by an OCI runtime (runc) from bundles on
// overlayfs, each watched over by a shim process (package shim), and their
// logs and states. It knows nothing about Compose; callers describe a
// container with ContainerConfig.
//
// State: <root>/containers/<id>/ holds the record (container.json), the
// bundle, the overlay upper and work directories, logs and the state file
// written by the shim. The runtime's own state lives under <run>/runc.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
)

// Options configure an Engine.
type Options struct {
	Root    string // state root, e.g. /var/lib/berth
	RunDir  string // run directory, e.g. /run/berth
	Runtime string // OCI runtime binary; default "runc"
	Exe     string // berth binary started as the shim; default os.Executable
	Logger  *slog.Logger
}

// Engine runs containers. Safe for concurrent use by several goroutines and
// several processes (state changes take per-container file locks).
type Engine struct {
	opt    Options // immutable
	images *image.Store
	nets   *netmgr.Manager
}

// ContainerID names a container: 64 hex digits.
type ContainerID string

// ContainerConfig describes a container to create.
type ContainerConfig struct {
	Name       string            `json:"name"` // unique among containers
	Image      string            `json:"image"`
	Labels     map[string]string `json:"labels,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"` // nil: the image's
	Cmd        []string          `json:"cmd,omitempty"`        // nil: the image's (dropped when Entrypoint is set, as Docker does)
	Env        []string          `json:"env,omitempty"`        // KEY=VALUE over the image's
	WorkingDir string            `json:"working_dir,omitempty"`
	User       string            `json:"user,omitempty"`
	Hostname   string            `json:"hostname,omitempty"` // default: first 12 digits of the ID
	Init       bool              `json:"init,omitempty"`
	Mounts     []Mount           `json:"mounts,omitempty"`
	Networks   []EndpointConfig  `json:"networks,omitempty"` // none: loopback only
	ExtraHosts []HostEntry       `json:"extra_hosts,omitempty"`
	StopSignal string            `json:"stop_signal,omitempty"`  // default: the image's, else SIGTERM
	StopTimeout *time.Duration   `json:"stop_timeout,omitempty"` // default 10s
}

// Mount is a filesystem mounted into the container.
type Mount struct {
	Type     string   `json:"type"` // "bind" or "tmpfs"
	Source   string   `json:"source,omitempty"`
	Target   string   `json:"target"`
	ReadOnly bool     `json:"read_only,omitempty"`
	Options  []string `json:"options,omitempty"`
}

// EndpointConfig attaches the container to a network by its full name.
type EndpointConfig struct {
	Network string     `json:"network"`
	Aliases []string   `json:"aliases,omitempty"` // names other containers on the network resolve to it
	Address netip.Addr `json:"address,omitzero"`  // static address; zero: allocated
}

// HostEntry is a line of /etc/hosts.
type HostEntry struct {
	IP    string   `json:"ip"`
	Names []string `json:"names"`
}

// Status is a container's lifecycle state, with Docker's words.
type Status string

// The statuses a container can be in.
const (
	StatusCreated    Status = "created"
	StatusRunning    Status = "running"
	StatusPaused     Status = "paused"
	StatusRestarting Status = "restarting"
	StatusExited     Status = "exited"
	StatusDead       Status = "dead"
)

// State is what the shim last recorded about a container's process.
type State struct {
	Status     Status    `json:"status"`
	Pid        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exit_code"`
	OOMKilled  bool      `json:"oom_killed,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Error      string    `json:"error,omitempty"`
}

// Container is a container as observed.
type Container struct {
	ID       ContainerID     `json:"id"`
	Config   ContainerConfig `json:"config"`
	ImageID  string          `json:"image_id"`
	Created  time.Time       `json:"created"`
	State    State           `json:"state"`
	Networks []NetworkStatus `json:"network_status,omitempty"` // while running
}

// NetworkStatus is the container's address on one network.
type NetworkStatus struct {
	Network string     `json:"network"`
	Address netip.Addr `json:"address"`
	MAC     string     `json:"mac,omitempty"`
}

// LogLine is one line a container wrote.
type LogLine struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	Text   string    `json:"log"`    // without the trailing newline
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Follow bool // keep reading until the container stops and its log is drained, or ctx is done
	Tail   int  // last N lines; negative: all
	Since  time.Time
	Until  time.Time
}

var errUnimplemented = errors.New("not implemented")

// New returns an Engine using the image store and network manager given.
func New(opt Options, images *image.Store, nets *netmgr.Manager) (*Engine, error) {
	return &Engine{opt: opt, images: images, nets: nets}, nil
}

// Images returns the engine's image store.
func (e *Engine) Images() *image.Store { return e.images }

// Create makes a container (record and bundle, not yet started).
// errdefs.ErrConflict if the name is taken; errdefs.ErrNotFound for an
// unknown image.
func (e *Engine) Create(ctx context.Context, cfg ContainerConfig) (*Container, error) {
	return nil, errUnimplemented
}

// Start starts a created or exited container and returns once its process
// runs (or with the runtime's error, e.g. a missing executable).
func (e *Engine) Start(ctx context.Context, id ContainerID) error { return errUnimplemented }

// Stop sends the stop signal, waits up to timeout, then SIGKILL, and returns
// once the process is gone. Stopping a stopped container is a no-op.
func (e *Engine) Stop(ctx context.Context, id ContainerID, timeout time.Duration) error {
	return errUnimplemented
}

// Remove deletes the container and everything it owns (mounts, sandbox,
// runtime state, directory). A running container is refused with
// errdefs.ErrConflict unless force, which kills it first. Idempotent:
// errdefs.ErrNotFound only when the container never existed.
func (e *Engine) Remove(ctx context.Context, id ContainerID, force bool) error {
	return errUnimplemented
}

// Get returns the container named by ID, unique ID prefix or name.
func (e *Engine) Get(ctx context.Context, ref string) (*Container, error) {
	return nil, errUnimplemented
}

// List returns the containers whose labels include every pair in labels,
// sorted by name.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]*Container, error) {
	return nil, errUnimplemented
}

// Logs calls fn for each selected log line of the container, oldest first.
func (e *Engine) Logs(ctx context.Context, id ContainerID, opt LogOptions, fn func(LogLine) error) error {
	return errUnimplemented
}
