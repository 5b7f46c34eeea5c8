package spec

import (
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/netmgr/portmap"
)

// Project is a loaded Compose project in berth's own terms. Services,
// Networks and Volumes are sorted by name; only services enabled by the
// active profiles are in Services. A Project is immutable once Load returns
// it and safe for concurrent reads.
type Project struct {
	Name         string
	WorkingDir   string   // absolute project directory
	ComposeFiles []string // absolute paths of the files loaded, in order
	// IncludedFiles are the files named by include and extends, absolute.
	IncludedFiles []string
	// EnvFiles holds the absolute paths of the env files read: the project's
	// (.env, --env-file, COMPOSE_ENV_FILES) in the order read, then the
	// services' env_file entries that exist, sorted. A change to any of them
	// can change the project.
	EnvFiles []string
	Services []Service
	// DisabledServices names the services the active profiles leave out,
	// sorted. Their containers are not orphans.
	DisabledServices []string
	// Jobs are the enabled jobs (the top-level jobs element), sorted by
	// name: each a Service with Job set. up does not start them; run does,
	// through WithJob.
	Jobs     []Service
	Networks []Network
	Volumes  []Volume
	// Configs and Secrets are the project's configs and secrets that an
	// enabled service uses, sorted by key.
	Configs []FileObject
	Secrets []FileObject

	// unsupported lists fields the project sets that berth does not run yet;
	// see Project.CheckSupported.
	unsupported []FieldError
	// refusedByUp lists what `berth up` refuses; see Project.CheckSchedules.
	refusedByUp []FieldError
	// developErrs are the develop rules watch cannot act on; see
	// Project.CheckWatch. mainFile names the project in errors about it
	// as a whole.
	developErrs []serviceFieldError
	mainFile    string
	// config is the project as compose-go resolved it, kept for `berth
	// config`. Nil when loaded with LoadOptions.NoInterpolate.
	config *types.Project
	// model is the uninterpolated Compose model, set instead of config when
	// loaded with LoadOptions.NoInterpolate.
	model map[string]any
}

// Service is one service of the project.
//
// Slices and maps are nil when the file sets nothing. Unless a field says
// otherwise, zero means "not set": the image's value or the engine's
// default applies.
type Service struct {
	Name string
	// Job is set when this is a job, not a service: what triggers it.
	Job           *Job
	Image         string
	ContainerName string
	Entrypoint    []string // nil: the image's; empty: cleared
	Command       []string // nil: the image's; empty: cleared
	Environment   []string // KEY=VALUE, sorted by key; variables without a value are left out
	WorkingDir    string
	User          string
	Hostname      string
	Domainname    string
	Init          bool
	Labels        map[string]string
	Networks      []ServiceNetwork // sorted by Name
	Mounts        []Mount          // in file order
	VolumesFrom   []string         // as written: "service[:ro|rw]" or "container:name[:ro|rw]", in file order
	DependsOn     []Dependency     // sorted by Service
	Scale         int              // replicas; 1 when unset
	// Restart is the restart policy: "no", "always", "on-failure",
	// "on-failure:N" or "unless-stopped"; empty when unset. When the file
	// sets deploy.restart_policy, it replaces restart, as in Docker
	// Compose: condition "none" gives "no", "any" gives "always", and
	// "on-failure" with max_attempts N gives "on-failure:N".
	Restart         string
	StopSignal      string
	StopGracePeriod *time.Duration
	ExtraHosts      []string // "name=ip", sorted
	Profiles        []string
	// PullPolicy is "always", "missing", "never", "build" or "refresh";
	// empty when unset. daily, weekly and every_<duration> are "refresh"
	// with PullRefresh 24h, 168h and the duration: pull when the image's
	// last pull is older.
	PullPolicy  string
	PullRefresh time.Duration

	Healthcheck *Healthcheck // nil: the image's
	Ports       []Port       // in file order, one entry per container port
	Expose      []string     // "3000/tcp", one per port ("8000-8010/udp" is expanded), sorted

	Tty        bool
	StdinOpen  bool
	ReadOnly   bool // read-only root file system
	Privileged bool

	GroupAdd    []string // supplementary groups, names or IDs, as written
	CapAdd      []string // "CAP_NET_ADMIN" or "ALL": upper case, CAP_ prefixed, sorted, without duplicates
	CapDrop     []string // as CapAdd
	SecurityOpt []string // as written, e.g. "no-new-privileges:true", "seccomp=./profile.json" (relative to the project directory)
	Sysctls     map[string]string
	Ulimits     map[string]Ulimit // by name, e.g. "nofile"
	// Devices are "host:container:permissions" with the container path and
	// the permissions ("rwm" when not given) filled in, in file order; a
	// CDI device name (e.g. "vendor.com/gpu=all") is kept alone.
	Devices []string
	// Tmpfs are the entries of the tmpfs key as written, "path" or
	// "path:options" (e.g. "/run:size=64m,mode=1777"), in file order.
	Tmpfs []string

	// Resources. The top-level keys win over deploy.resources; Compose
	// rejects a file where both are set and differ. deploy.resources.limits
	// fills MemLimit (memory), CPUs (cpus) and PidsLimit (pids), and
	// deploy.resources.reservations fills MemReservation (memory), as Docker
	// Compose does; a cpus reservation only matters to Swarm and is ignored.
	ShmSize        int64   // bytes
	MemLimit       int64   // bytes
	MemReservation int64   // bytes
	MemSwapLimit   int64   // bytes of memory plus swap; -1: unlimited
	CPUs           float64 // number of CPUs, e.g. 0.5
	CPUShares      int64
	PidsLimit      int64 // -1: unlimited
	OomScoreAdj    int

	Pid         string   // PID namespace: "host", "service:name", "container:name"
	Ipc         string   // IPC namespace: "host", "private", "shareable", "service:name", "container:name"
	NetworkMode string   // "host", "none", "bridge", "service:name", "container:name"; empty with Networks set
	MacAddress  string   // of the container; see also ServiceNetwork.MacAddress
	DNS         []string // servers, in file order
	DNSSearch   []string // in file order
	DNSOpt      []string // in file order

	Logging *Logging // nil: the engine's default

	// Build is how the service's image is built; nil: it is pulled. With
	// a build and no image: attribute, Image is PROJECT-SERVICE, the name
	// Docker Compose gives the built image.
	Build *Build

	// Cgroups and namespaces beyond the basics.
	CgroupParent   string            // cgroup the container's goes under; empty: berth's
	Cgroup         string            // cgroup namespace: "host", "private"; empty: the engine's default (host on cgroups v1)
	Cpuset         string            // CPUs the container may use, as "0-2,4"
	CPUQuota       int64             // µs of CPU time per CPUPeriod
	CPUPeriod      int64             // µs
	CPURTRuntime   int64             // µs of real-time CPU per CPURTPeriod
	CPURTPeriod    int64             // µs
	MemSwappiness  int64             // 1-100; 0: the kernel's (Compose cannot tell 0 from unset)
	OomKillDisable bool              //
	Uts            string            // UTS namespace: "host"; empty: private
	UsernsMode     string            // "host" (berth has no user namespaces; the only mode it runs)
	Annotations    map[string]string // OCI annotations of the container
	Blkio          *Blkio            // block I/O weights and throttles; nil: none
	Runtime        string            // the OCI runtime binary, a name in PATH or a path; empty: the engine's
	Umask          *uint32           // the process's initial umask; nil: the runtime's (0022)
	// DeviceCgroupRules are Docker's "TYPE MAJOR:MINOR ACCESS" rules, as
	// written.
	DeviceCgroupRules []string
	// NoAttach is set by attach: false: `up` does not stream the
	// service's logs unless --attach names it.
	NoAttach bool
	// Links are "service" or "service:alias", as written; Load has added
	// each as an alias of that service on the networks both share, and a
	// dependency, as Docker Compose does.
	Links []string
	// ExternalLinks are "container[:alias]", as written: containers outside
	// the project the service's reach by alias (external_links).
	ExternalLinks []string

	Configs []FileRef // in file order
	Secrets []FileRef // in file order

	// PostStart runs in each container after it starts, PreStop before
	// it is stopped, in file order (lifecycle hooks).
	PostStart []Hook
	PreStop   []Hook
	// PreStart are init containers run to completion, in turn, before
	// the service's containers start when none of them runs (pre_start):
	// each a container specification completed with the service's (Load
	// does that, as compose-go does), its volumes its own; they also get
	// the service's named volumes and binds.
	PreStart []Service

	// Develop is what `berth watch` does when the service's files change;
	// nil without a develop section. It is not part of the config hash.
	Develop *Develop
}

// Hook is a lifecycle hook (post_start, pre_stop): a command run in the
// service's running container, as a sync+exec rule runs one.
type Hook = WatchExec

// Build is a service's build: section, paths resolved.
type Build struct {
	Context          string            // the build context directory, absolute
	Dockerfile       string            // relative to Context, or absolute; "" with DockerfileInline
	DockerfileInline string            // the Dockerfile's text, when given inline
	Args             map[string]string // a key written without a value takes the environment's, else is left out
	Target           string
	Labels           map[string]string
	Tags             []string // more names for the image, in file order
	NoCache          bool
	Pull             bool
	Network          string // "", "default", "none" or "host"
	// Secrets are the project's secrets RUN --mount=type=secret may
	// mount, by the id the Dockerfile names.
	Secrets []BuildSecret
	// SSH are the SSH agent sockets RUN --mount=type=ssh may use, by id;
	// an id written without a path ("default") is the environment's
	// SSH_AUTH_SOCK, "" when that is not set.
	SSH map[string]string
	// Privileged lets RUN --security=insecure run privileged.
	Privileged bool
	// Entitlements are what RUN steps may use besides: network.host,
	// security.insecure.
	Entitlements []string
	// ExtraHosts ("HOST=IP", sorted), ShmSize (bytes; 0: the engine's)
	// and Ulimits are those of the containers RUN steps run in.
	ExtraHosts []string
	ShmSize    int64
	Ulimits    map[string]Ulimit
	// NoCacheFilter names the stages built without the cache.
	NoCacheFilter []string
	// AdditionalContexts are the named contexts, by name: an absolute
	// directory, "docker-image://REF" or "service:NAME" (that service's
	// image, built first).
	AdditionalContexts map[string]string
}

// ServiceContextPrefix starts an additional context that is the image of
// another service.
const ServiceContextPrefix = types.ServicePrefix

// BuildSecret is one entry of build.secrets.
type BuildSecret struct {
	ID     string // the reference's target, else its source
	Source string // key in the project's secrets
}

// Healthcheck is a service's healthcheck. A zero duration or Retries is
// unset: the image's value applies, else the engine's default.
type Healthcheck struct {
	// Test is the check as Compose writes it: ["CMD", arg...],
	// ["CMD-SHELL", command] (from a plain string), or ["NONE"]. Nil keeps
	// the image's test while changing its timing.
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
	// Disable turns the image's healthcheck off. It is set by disable: true
	// and by a test of ["NONE"]; Test is then ["NONE"] and the other
	// fields are as written.
	Disable bool
}

// Port publishes one container port: the mapping netmgr publishes, parsed
// when the project is loaded (the protocol tcp when not written), and
// Compose's mode. Compose's short syntax and ranges are expanded, one Port
// per container port ("8000-8001:80-81" gives two); a host range with one
// container port ("8000-8010:80") is one Port that chooses a free host port
// of the range.
type Port struct {
	portmap.Mapping
	Mode string // "ingress" (the default) or "host"
}

// Blkio is a service's blkio_config: devices by host path, rates in
// bytes or operations per second.
type Blkio struct {
	Weight          uint16 // 10-1000; 0: unset
	WeightDevice    []BlkioWeightDevice
	DeviceReadBps   []BlkioThrottle
	DeviceWriteBps  []BlkioThrottle
	DeviceReadIOps  []BlkioThrottle
	DeviceWriteIOps []BlkioThrottle
}

// BlkioWeightDevice is the weight of one block device.
type BlkioWeightDevice struct {
	Path   string
	Weight uint16
}

// BlkioThrottle is a rate limit on one block device.
type BlkioThrottle struct {
	Path string
	Rate uint64
}

// Ulimit is one resource limit. A single value in the file sets both.
type Ulimit struct {
	Soft int64
	Hard int64
}

// Logging is a service's log driver.
type Logging struct {
	Driver  string // empty: the engine's default driver
	Options map[string]string
}

// FileRef is one entry of a service's configs or secrets: a project config
// or secret mounted read-only into the container.
type FileRef struct {
	Source string // key in the project's configs or secrets
	// Target is the absolute path in the container. Docker Compose's
	// defaults are applied: a secret goes to /run/secrets/<source> and a
	// config to /<source> when no target is given, and a relative target
	// is taken under /run/secrets/ or / respectively.
	Target string
	UID    string  // empty when not set
	GID    string  // empty when not set
	Mode   *uint32 // permission bits; nil when not set
	// Digest is the SHA-256 of the referenced object's content when the
	// project was loaded (hex; empty for an external object or a file that
	// could not be read). It is part of the service's config hash.
	Digest string
}

// FileObject is one of the project's configs or secrets.
type FileObject struct {
	Key  string // name in the file
	Name string // full name, e.g. "hello_token"
	File string // absolute path of the source file; empty unless from a file
	// Environment names the variable the value comes from; empty unless
	// from the environment.
	Environment string
	// Content is the value given inline (content:), or read from
	// Environment when that variable is set. For a secret it is secret:
	// never log it.
	Content  string
	External bool
}

// ServiceNetwork attaches a service to one of the project's networks.
type ServiceNetwork struct {
	Name        string   // key in the project's networks
	Aliases     []string // as written
	IPv4Address string
	IPv6Address string
	MacAddress  string
	Priority    int // the network with the highest priority is connected first; 0 when unset
	GwPriority  int // the network with the highest gw_priority provides the default gateway; 0 when unset
	// InterfaceName is the container's interface on the network; empty:
	// eth0, eth1, … in attach order.
	InterfaceName string
	LinkLocalIPs  []string          // more addresses of the interface, link-local, as written
	DriverOpts    map[string]string // the endpoint's driver options
	// NoServiceAlias is use_service_name_alias: false: the service's
	// name is not an alias of its containers on this network.
	NoServiceAlias bool
}

// Mount is one entry of a service's volumes, resolved.
type Mount struct {
	Type   string // "volume", "bind", "tmpfs" or "image"
	Source string // volume key (empty for an anonymous volume or tmpfs), absolute host path, or image reference
	// ReadOnly is always true for an image.
	Target   string
	ReadOnly bool
	NoCopy   bool   // volume: do not copy the image's content into an empty volume
	Subpath  string // volume, image: the sub-directory to mount; empty for all of it
	// Propagation is the bind mount's propagation ("rprivate", "shared",
	// ...), empty for the default.
	Propagation string
	// CreateHostPath says whether a missing bind source is created as a
	// directory. It is true for the short syntax and for a long-syntax
	// bind with a bind: block that does not set create_host_path: false.
	// A long-syntax bind without a bind: block gives false, as Docker
	// Compose then mounts without creating the path. False for other types.
	CreateHostPath bool
	TmpfsSize      int64  // tmpfs: size in bytes; 0: the engine's default
	TmpfsMode      uint32 // tmpfs: permission bits; 0: the engine's default

	// Recursive is bind.recursive: "enabled" (also when empty), "disabled"
	// (the source's sub-mounts are not mounted), "writable" (read-only,
	// its sub-mounts not), "readonly" (read-only with every sub-mount).
	Recursive string
	// VolumeLabels label the anonymous volume the mount makes
	// (volume.labels); a named volume has its own.
	VolumeLabels map[string]string
}

// Dependency is one depends_on entry.
type Dependency struct {
	Service   string
	Condition string // service_started, service_healthy, service_completed_successfully
	Required  bool
	Restart   bool
}

// Network is one of the project's networks that a service uses.
type Network struct {
	Key      string // name in the file, e.g. "default"
	Name     string // full name, e.g. "hello_default"
	External bool
	Internal bool
	Driver   string // empty when unset
	Labels   map[string]string
	// DriverOpts are the driver's options.
	DriverOpts map[string]string
	// Subnets are the ipam.config entries, in file order; empty means
	// allocate one.
	Subnets    []IPAMConfig
	EnableIPv6 bool
	Attachable bool
}

// IPAMConfig is one address pool of a network.
type IPAMConfig struct {
	Subnet  string // CIDR, e.g. "172.28.0.0/16"
	Gateway string // empty: the engine picks one
	IPRange string // CIDR of the sub-range containers get addresses from; empty: all of Subnet
	// AuxAddresses are addresses of Subnet the network must not give to
	// a container (aux_addresses), by the name the file gives them.
	AuxAddresses map[string]string
}

// Volume is one of the project's named volumes that a service uses.
type Volume struct {
	Key      string // name in the file
	Name     string // full name, e.g. "hello_data"
	External bool
	Driver   string // empty when unset
	Labels   map[string]string
	// DriverOpts are the driver's options.
	DriverOpts map[string]string
}

// FieldError is a problem with one field of a Compose file. Load returns
// it for malformed files (Err is errdefs.ErrInvalidArgument) and
// CheckSupported for fields berth does not run yet (Err is
// errdefs.ErrNotImplemented), so errors.Is classifies it.
type FieldError struct {
	File  string // the file as the user sees it: relative to the working directory (or a parent of it), else absolute; "compose" when not known
	Path  string // e.g. `services.web.deploy.placement`; empty when the problem is the whole file
	Issue string // e.g. "not supported by berth yet"
	Err   error  // class of the error, returned by Unwrap
}

// Error returns the problem on one line: "file: path: issue".
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.File + ": " + e.Issue
	}
	return e.File + ": " + e.Path + ": " + e.Issue
}

// Unwrap returns the class of the error, an errdefs sentinel.
func (e FieldError) Unwrap() error { return e.Err }
