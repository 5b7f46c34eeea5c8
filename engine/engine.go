// Package engine is berth's embedded container engine: the image store
// (package image), containers run by an OCI runtime (runc) from bundles on
// overlayfs, each watched over by a shim process (package shim), and their
// logs and states. It knows nothing about Compose; callers describe a
// container with ContainerConfig.
//
// # State on disk
//
//	<root>/containers/<id>/container.json   the record (config, image, stop signal), written once by Create
//	<root>/containers/<id>/state.json       the process state, written by the shim (and by the engine while no shim runs)
//	<root>/containers/<id>/bundle/          config.json and rootfs/ (the overlay mount point, mounted while running)
//	<root>/containers/<id>/upper, work      the overlay's upper and work directories (kept across restarts)
//	<root>/containers/<id>/container.log    JSON lines {"time","stream","log"}, appended by the shim
//	<root>/containers/<id>/container.log.N  rotated logs (logging max-size/max-file), .1 the newest
//	<root>/containers/<id>/health.json      the healthcheck's status and last 5 results, written by the shim
//	<root>/containers/<id>/stopping         written by Stop before it signals: the shim restarts nothing more
//	<root>/containers/<id>/hosts, resolv.conf, hostname   bind-mounted at /etc/…
//	<root>/containers/<id>/endpoints.json   network attachments while running
//	<root>/containers/<id>/files/           the "file" mounts (configs, secrets), rewritten at every start
//	<root>/containers/<id>/shim.log, runc.log   the shim's and the runtime's errors
//	<run>/runc/                             the runtime's own state (--root)
//	<run>/attach/<id[:24]>.sock             the shim's attach socket (stdin, terminal, raw output)
//	<root>/events.jsonl, events.jsonl.1     the event journal (internal/eventlog, Journal): appended by
//	                                        the engine, the shims, netmgr, volmgr and the image store
//
// A container directory appears complete (Create renames it into place) and
// is taken apart by Remove after its record is deleted; a directory without
// a record is a removal that was interrupted, which Remove by ID finishes.
//
// # Locks
//
// The name lock, <root>/containers/lock, makes Create's name check and the
// new directory one step. Start, Stop, Remove, Pause and Unpause take the
// container's lock (flock on its directory) and re-read its state after
// taking it. The hosts lock, <root>/containers/hosts.lock, serialises the
// rewriting of hosts files. The default network's lock,
// <root>/containers/defaultnet.lock, makes the default network's existence
// follow the records that name it (defaultnet.go). Order: container lock,
// then hosts lock or default network lock; the name lock is only ever
// held inside the default network's lock (Create). The image store and
// network manager take their own locks inside these.
//
// # Honest state
//
// What the shim recorded is checked against the machine: a container that
// state.json calls running whose shim is gone (SIGKILLed, or the run
// directory wiped by a reboot) is reported running only if its init process
// (PID and start time) still lives; otherwise exited, with the exit code the
// shim never wrote reported as 255 — Docker's code for a container whose
// exit status was lost — and Error saying so.
package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/eventlog"
	"github.com/berth-dev/berth/internal/rounds"
	"github.com/berth-dev/berth/internal/topdir"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/volmgr"
	"github.com/containerd/errdefs"
)

// Options configure an Engine.
type Options struct {
	Root    string // state root, e.g. /var/lib/berth
	RunDir  string // run directory, e.g. /run/berth
	Runtime string // OCI runtime binary, a name looked up in PATH or a path; default "runc"
	Exe     string // the berth binary (the shim runs it to auto-remove a container); default os.Executable
	Logger  *slog.Logger
	// Shim is the binary started as each container's shim (`Shim shim …`)
	// and bind-mounted as its init: berth's small shim program
	// (cmd/berth-shim, a static C program that internal/shimbin carries).
	// Without one the engine can do everything but start a container.
	Shim string
}

// Engine runs containers. Safe for concurrent use by several goroutines and
// several processes (state changes take per-container file locks).
type Engine struct {
	opt    Options // immutable; defaults filled in by New
	log    *slog.Logger
	images *image.Store
	nets   *netmgr.Manager
	vols   *volmgr.Store
	events *eventlog.Log // <root>/events.jsonl
	// defNets makes and removes the default network (defaultnet.go):
	// nets, or a fake in tests; nil without a network manager.
	defNets networkStore

	// alive tells whether the process pid started at start (0: any) lives;
	// a seam for tests of the state logic.
	alive func(pid int, start uint64) bool
	// hostResolvConf is the host's resolver configuration, copied into
	// containers.
	hostResolvConf string
	// removeSwept: a process's first Remove sweeps what killed Creates
	// left (sweepTemp); one sweep a process is enough.
	removeSwept sync.Once
	// claims are Creates' claims of names, made together (claimName).
	claims rounds.Queue[*nameClaim]
	// starts bounds the Starts in flight in this process (startSlots);
	// nil: no bound.
	starts chan struct{}
}

// startSlots is how many containers one process starts at once. A start
// is mostly CPU (the overlay and network namespace, the veth, runc and its
// init, the seccomp filter's compilation) and contended kernel locks: a
// cold up of 100 services starting all 100 at once on 2 CPUs took 2.8–3.0 s,
// bounded at 4 a CPU 2.55–2.58 s (2 or 8 a CPU did as well); at 1 and 20
// services it makes no difference. A slot is taken before the container's
// lock and held for the start only (not its hooks), and a Start never
// waits for another's slot holding a container's lock, so slots cannot
// deadlock with those locks.
func startSlots() int { return 4 * runtime.NumCPU() }

// ContainerID names a container: 64 hex digits.
type ContainerID string

// ContainerConfig describes a container to create.
type ContainerConfig struct {
	Name       string            `json:"name"` // unique among containers
	Image      string            `json:"image"`
	Labels     map[string]string `json:"labels,omitempty"`
	Entrypoint []string          `json:"entrypoint"`    // nil: the image's; empty: none
	Cmd        []string          `json:"cmd"`           // nil: the image's (dropped when Entrypoint is set, as Docker does)
	Env        []string          `json:"env,omitempty"` // KEY=VALUE over the image's
	WorkingDir string            `json:"working_dir,omitempty"`
	User       string            `json:"user,omitempty"`
	Hostname   string            `json:"hostname,omitempty"` // default: first 12 digits of the ID
	Init       bool              `json:"init,omitempty"`
	Mounts     []Mount           `json:"mounts,omitempty"`
	Networks   []EndpointConfig  `json:"networks,omitempty"` // none: loopback only
	ExtraHosts []HostEntry       `json:"extra_hosts,omitempty"`
	// Links are containers this one reaches by another name, as Docker's
	// links: "NAME[:ALIAS]" (alias: NAME). While NAME runs on a network
	// this container shares, its hosts file names its address ALIAS.
	Links       []string       `json:"links,omitempty"`
	StopSignal  string         `json:"stop_signal,omitempty"`  // default: the image's, else SIGTERM
	StopTimeout *time.Duration `json:"stop_timeout,omitempty"` // default 10s

	// Process and security (the containers issue).
	Tty         bool              `json:"tty,omitempty"`
	OpenStdin   bool              `json:"open_stdin,omitempty"`
	ReadOnly    bool              `json:"read_only,omitempty"`
	Privileged  bool              `json:"privileged,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	GroupAdd    []string          `json:"group_add,omitempty"`
	CapAdd      []string          `json:"cap_add,omitempty"`  // CAP_… names, or ALL
	CapDrop     []string          `json:"cap_drop,omitempty"` // CAP_… names, or ALL
	SecurityOpt []string          `json:"security_opt,omitempty"`
	Sysctls     map[string]string `json:"sysctls,omitempty"`
	Ulimits     map[string]Ulimit `json:"ulimits,omitempty"` // by name: nofile, nproc, …
	Devices     []string          `json:"devices,omitempty"` // host:container:perm
	// DeviceCgroupRules are more devices the container may use, as
	// Docker's "TYPE MAJOR:MINOR ACCESS" ("c 1:3 mr", "b 8:* rwm").
	DeviceCgroupRules []string  `json:"device_cgroup_rules,omitempty"`
	ShmSize           int64     `json:"shm_size,omitempty"` // bytes; 0: 64 MiB
	Resources         Resources `json:"resources,omitzero"`
	OomScoreAdj       int       `json:"oom_score_adj,omitempty"`
	// Umask is the process's initial umask; nil: the runtime's (0022).
	Umask *uint32 `json:"umask,omitempty"`
	// CgroupParent is the cgroup the container's goes under, relative to
	// each hierarchy's root; "": berth's own (/berth).
	CgroupParent string `json:"cgroup_parent,omitempty"`
	// CgroupnsMode is "" or "host" (the host's cgroup namespace, Docker's
	// default on cgroups v1), or "private".
	CgroupnsMode string            `json:"cgroupns_mode,omitempty"`
	UTSMode      string            `json:"uts_mode,omitempty"`    // "" (private) or "host"
	Annotations  map[string]string `json:"annotations,omitempty"` // OCI annotations
	PidMode      string            `json:"pid_mode,omitempty"`    // "", "host", "container:<id>"
	IpcMode      string            `json:"ipc_mode,omitempty"`    // "", "host", "shareable", "container:<id>"
	Restart      RestartPolicy     `json:"restart,omitzero"`
	// AutoRemove: the container is removed once it has exited for good
	// (docker run --rm): by its shim, which runs `berth container rm`
	// when it is done, else by the next SweepAutoRemove. Not with a
	// restart policy.
	AutoRemove bool `json:"auto_remove,omitempty"`
	// AutoRemoveOwner, with AutoRemove, is the process that removes the
	// container itself once it has read its exit code (a foreground
	// `container run --rm`): the shim leaves the container to it, and
	// SweepAutoRemove removes the container only once that process is
	// gone (it was killed before it could).
	AutoRemoveOwner *ProcRef     `json:"auto_remove_owner,omitempty"`
	Healthcheck     *Healthcheck `json:"healthcheck,omitempty"` // nil: the image's
	Logging         LogConfig    `json:"logging,omitzero"`

	// Networking (the networks issue).
	NetworkMode string               `json:"network_mode,omitempty"` // "" (bridge networks), "host", "none", "container:<id>"
	Ports       []netmgr.PortMapping `json:"ports,omitempty"`        // published on the first network; typed by the caller (see recordV1 for old records)
	// ExposedPorts are the ports the container says it listens on, as
	// Docker's "80/tcp", beside the image's; published nowhere.
	ExposedPorts []string `json:"exposed_ports,omitempty"`
	DNS          []string `json:"dns,omitempty"`
	DNSSearch    []string `json:"dns_search,omitempty"`
	DNSOptions   []string `json:"dns_options,omitempty"`

	// Data (the volumes issue).
	VolumesFrom []string `json:"volumes_from,omitempty"` // container[:ro|:rw]
	// VolumeLabels label the anonymous volumes the engine makes for the
	// image's VOLUMEs that no mount covers (see ImageVolumeName).
	VolumeLabels map[string]string `json:"volume_labels,omitempty"`

	// Runtime is the OCI runtime binary that runs the container, a name
	// looked up in PATH or a path (docker run --runtime); "": the
	// engine's.
	Runtime string `json:"runtime,omitempty"`

	// RootfsLayers, when set, are the directories (overlay lower layers,
	// lowest first) under the container's root filesystem in place of
	// the image's layers: a builder's RUN step stacks the layers it made
	// itself. Image may then be empty (no image configuration applies),
	// and the overlay is mounted with redirect_dir=off and metacopy=off, so
	// its upper directory (see UpperDir) holds every change in full.
	RootfsLayers []string `json:"rootfs_layers,omitempty"`
}

// Ulimit is one resource limit; values above the host's hard limit are clamped.
type Ulimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// Resources are cgroup limits; zero means unlimited.
type Resources struct {
	MemLimit       int64   `json:"mem_limit,omitempty"` // bytes
	MemReservation int64   `json:"mem_reservation,omitempty"`
	MemSwapLimit   int64   `json:"memswap_limit,omitempty"` // -1: unlimited swap
	CPUs           float64 `json:"cpus,omitempty"`
	CPUShares      int64   `json:"cpu_shares,omitempty"`
	PidsLimit      int64   `json:"pids_limit,omitempty"`
	CpusetCpus     string  `json:"cpuset_cpus,omitempty"` // "0-2,4"
	CpusetMems     string  `json:"cpuset_mems,omitempty"` // memory nodes, "0-1"
	CPUQuota       int64   `json:"cpu_quota,omitempty"`   // µs per CPUPeriod; with CPUs set, CPUs wins
	CPUPeriod      int64   `json:"cpu_period,omitempty"`  // µs
	CPURTRuntime   int64   `json:"cpu_rt_runtime,omitempty"`
	CPURTPeriod    int64   `json:"cpu_rt_period,omitempty"`
	MemSwappiness  int64   `json:"mem_swappiness,omitempty"` // 1-100; 0: the kernel's
	OomKillDisable bool    `json:"oom_kill_disable,omitempty"`
	Blkio          *Blkio  `json:"blkio,omitempty"` // nil: no block I/O limits
}

// Blkio are the block I/O weights and throttles of a container (cgroup
// blkio), devices by host path.
type Blkio struct {
	Weight          uint16              `json:"weight,omitempty"` // 10-1000; 0: the kernel's
	WeightDevice    []BlkioWeightDevice `json:"weight_device,omitempty"`
	DeviceReadBps   []BlkioThrottle     `json:"device_read_bps,omitempty"`
	DeviceWriteBps  []BlkioThrottle     `json:"device_write_bps,omitempty"`
	DeviceReadIOps  []BlkioThrottle     `json:"device_read_iops,omitempty"`
	DeviceWriteIOps []BlkioThrottle     `json:"device_write_iops,omitempty"`
}

// BlkioWeightDevice is the weight of one block device.
type BlkioWeightDevice struct {
	Path   string `json:"path"`
	Weight uint16 `json:"weight"`
}

// BlkioThrottle is a rate limit on one block device: bytes or operations
// per second.
type BlkioThrottle struct {
	Path string `json:"path"`
	Rate uint64 `json:"rate"`
}

// RestartPolicy says when the shim restarts the container's process.
type RestartPolicy struct {
	Name       string `json:"name,omitempty"` // "", "no", "always", "on-failure", "unless-stopped"
	MaxRetries int    `json:"max_retries,omitempty"`
}

// Healthcheck is how the shim probes the container. Test is Docker's form:
// ["CMD", …], ["CMD-SHELL", "…"] or ["NONE"].
type Healthcheck struct {
	Test          []string      `json:"test,omitempty"`
	Interval      time.Duration `json:"interval,omitempty"`
	Timeout       time.Duration `json:"timeout,omitempty"`
	StartPeriod   time.Duration `json:"start_period,omitempty"`
	StartInterval time.Duration `json:"start_interval,omitempty"`
	Retries       int           `json:"retries,omitempty"`
}

// LogConfig is the container's log: its driver and the json-file log's
// rotation.
type LogConfig struct {
	// Driver is "" (json-file) or "none": the container's output is not
	// kept (its log is /dev/null); reading its log is
	// errdefs.ErrFailedPrecondition, as Docker says, and following it
	// (attached output) shows nothing.
	Driver  string `json:"driver,omitempty"`
	MaxSize int64  `json:"max_size,omitempty"` // bytes per file; 0: no rotation
	MaxFile int    `json:"max_file,omitempty"` // files kept, with the current one
	// Compress gzips each rotated file (container.log.1.gz …), as the
	// compress option of Docker's drivers: after each rotation the shim
	// runs `berth log-compress` (CompressRotatedLogs) and waits for it
	// before it rotates again. Logs reads the compressed files.
	Compress bool `json:"compress,omitempty"`
	// The json-file driver's attributes of every line, which Logs gives
	// with Details (docker logs --details): the container labels named
	// by Labels or matching LabelsRegex, the environment variables named
	// by Env or matching EnvRegex, and Tag, a template over the
	// container (Docker's {{.ID}}, {{.FullID}}, {{.Name}}, {{.ImageID}},
	// {{.ImageFullID}}, {{.ImageName}}, {{.DaemonName}}).
	Labels      []string `json:"labels,omitempty"`
	LabelsRegex string   `json:"labels_regex,omitempty"`
	Env         []string `json:"env,omitempty"`
	EnvRegex    string   `json:"env_regex,omitempty"`
	Tag         string   `json:"tag,omitempty"`
}

// Mount is a filesystem mounted into the container.
type Mount struct {
	Type     string   `json:"type"` // "bind", "volume", "tmpfs", "file" or "image" (Source an image reference, always read-only)
	Source   string   `json:"source,omitempty"`
	Target   string   `json:"target"`
	ReadOnly bool     `json:"read_only,omitempty"`
	Options  []string `json:"options,omitempty"`

	Subpath        string `json:"subpath,omitempty"`          // volume, image: mount this sub-directory
	NoCopy         bool   `json:"nocopy,omitempty"`           // volume: do not seed from the image
	Propagation    string `json:"propagation,omitempty"`      // bind: rprivate, shared, …
	CreateHostPath bool   `json:"create_host_path,omitempty"` // bind: make a missing source
	// Recursive is Docker's bind recursion: "" or "enabled" (sub-mounts
	// too; read-only ones read-only as well), "disabled" (no
	// sub-mounts), "writable" (read-only, sub-mounts not), "readonly"
	// (read-only, every sub-mount too).
	Recursive string `json:"recursive,omitempty"`
	TmpfsSize int64  `json:"tmpfs_size,omitempty"` // bytes
	TmpfsMode uint32 `json:"tmpfs_mode,omitempty"`

	// Type "file" (configs and secrets): Content, or the host file Source
	// when Content is nil, is written at start under the container's
	// directory with FileUID, FileGID and FileMode (0: 0444) and
	// bind-mounted read-only at Target.
	Content  []byte `json:"content,omitempty"`
	FileUID  int    `json:"file_uid,omitempty"`
	FileGID  int    `json:"file_gid,omitempty"`
	FileMode uint32 `json:"file_mode,omitempty"`
}

// EndpointConfig attaches the container to a network by its full name.
type EndpointConfig struct {
	Network string     `json:"network"`
	Aliases []string   `json:"aliases,omitempty"` // names other containers on the network resolve to it
	Address netip.Addr `json:"address,omitzero"`  // static address; zero: allocated

	Address6   netip.Addr `json:"address6,omitzero"`
	MacAddress string     `json:"mac_address,omitempty"`
	Priority   int        `json:"priority,omitempty"`    // higher: attached first (eth0)
	GwPriority int        `json:"gw_priority,omitempty"` // highest: the default route
	// InterfaceName is the container's interface; "": eth0, eth1, … in
	// attach order.
	InterfaceName string       `json:"interface_name,omitempty"`
	LinkLocalIPs  []netip.Addr `json:"link_local_ips,omitempty"` // more addresses of the interface, link-local
	// Sysctls are the interface's own settings (Docker's endpoint option
	// com.docker.network.endpoint.sysctls): keys net.ipv4.conf.IFNAME.…
	// or net.ipv6.conf.IFNAME.…, IFNAME standing for the interface.
	Sysctls map[string]string `json:"sysctls,omitempty"`
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
	Health     *Health   `json:"health,omitempty"` // nil: no healthcheck
	// RestartCount is how many times the restart policy restarted the
	// container since it was last started.
	RestartCount int `json:"restart_count,omitempty"`
}

// Health statuses, with Docker's words.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Health is what the shim's healthcheck last recorded.
type Health struct {
	Status        string         `json:"status"` // HealthStarting, HealthHealthy or HealthUnhealthy
	FailingStreak int            `json:"failing_streak"`
	Log           []HealthResult `json:"log,omitempty"` // the last results, oldest first
}

// HealthResult is one run of the healthcheck.
type HealthResult struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	ExitCode int       `json:"exit_code"`
	Output   string    `json:"output"`
}

// Container is a container as observed.
type Container struct {
	ID       ContainerID     `json:"id"`
	Config   ContainerConfig `json:"config"`
	ImageID  string          `json:"image_id"`
	Created  time.Time       `json:"created"`
	State    State           `json:"state"`
	Networks []NetworkStatus `json:"network_status,omitempty"` // while running
	// ImageConfig is the image's configuration when the container was
	// created: what an unset Entrypoint, Cmd, Env… fall back to.
	ImageConfig image.Config `json:"image_config"`
	// StopSignal is the signal that stops it: the configuration's, the
	// image's, or SIGTERM.
	StopSignal string `json:"stop_signal"`
	dir        string // the container's state directory
}

// NetworkStatus is the container's address on one network.
type NetworkStatus struct {
	Network string     `json:"network"`
	Address netip.Addr `json:"address"`
	// Address6 is the IPv6 address on a network with IPv6; zero otherwise.
	Address6 netip.Addr           `json:"address6,omitzero"`
	MAC      string               `json:"mac,omitempty"`
	Ports    []netmgr.PortMapping `json:"ports,omitempty"` // published to Address, host ports settled (see Container.Publishers)
}

// LogLine is one line a container wrote.
type LogLine struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	Text   string    `json:"log"`    // without the trailing newline
	// Attrs are the line's attributes (logging labels, env, tag), given
	// with LogOptions.Details only.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Follow bool // keep reading until the container stops and its log is drained, or ctx is done
	Tail   int  // last N lines; negative: all
	Since  time.Time
	Until  time.Time
	// Details gives each line the attributes the container's logging
	// options name (LogConfig.Labels, Env, Tag).
	Details bool
}

// New returns an Engine using the image store and network manager given.
// nets may be nil for an engine whose containers join no network.
func New(opt Options, images *image.Store, nets *netmgr.Manager) (*Engine, error) {
	if opt.Root == "" || opt.RunDir == "" {
		return nil, fmt.Errorf("engine: root and run directory are required: %w", errdefs.ErrInvalidArgument)
	}
	if images == nil {
		return nil, fmt.Errorf("engine: no image store: %w", errdefs.ErrInvalidArgument)
	}
	var err error
	if opt.Root, err = filepath.Abs(opt.Root); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if opt.RunDir, err = filepath.Abs(opt.RunDir); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if opt.Runtime == "" {
		opt.Runtime = "runc"
	}
	if opt.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("engine: find the berth binary: %w", err)
		}
		opt.Exe = exe
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	// One tree per container in each: see topdir for why they are spread.
	for _, d := range []string{filepath.Join(opt.Root, "containers"), ctrstate.RuntimeRoot(opt.RunDir)} {
		if err := topdir.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	vols, err := volmgr.Open(opt.Root, opt.Logger)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e := &Engine{
		opt:            opt,
		log:            opt.Logger,
		images:         images,
		nets:           nets,
		vols:           vols,
		events:         eventlog.Open(opt.Root),
		alive:          ctrstate.Alive,
		hostResolvConf: "/etc/resolv.conf",
		starts:         make(chan struct{}, startSlots()),
	}
	if nets != nil {
		e.defNets = nets
	}
	return e, nil
}

// classified is an error that keeps its own message and also matches an
// errdefs class with errors.Is.
type classified struct {
	err   error
	class error
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.err, c.class} }

// withClass returns err, also classified as class (an errdefs error), with
// err's message unchanged.
func withClass(err, class error) error {
	if err == nil || errors.Is(err, class) {
		return err
	}
	return &classified{err: err, class: class}
}
