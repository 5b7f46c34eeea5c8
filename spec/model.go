package spec

import (
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Project is a loaded Compose project in berth's own terms. Services,
// Networks and Volumes are sorted by name; only services enabled by the
// active profiles are in Services. A Project is immutable once Load returns
// it and safe for concurrent reads.
type Project struct {
	Name         string
	WorkingDir   string   // absolute project directory
	ComposeFiles []string // absolute paths of the files loaded, in order
	// EnvFiles holds the absolute paths of the env files read: the project's
	// (.env, --env-file, COMPOSE_ENV_FILES) in the order read, then the
	// services' env_file entries that exist, sorted. A change to any of them
	// can change the project.
	EnvFiles []string
	Services []Service
	// DisabledServices names the services the active profiles leave out,
	// sorted. Their containers are not orphans.
	DisabledServices []string
	Networks         []Network
	Volumes          []Volume

	// unsupported lists fields the project sets that berth does not run yet;
	// see Project.CheckSupported.
	unsupported []FieldError
	// config is the project as compose-go resolved it, kept for `berth
	// config`. Nil when loaded with LoadOptions.NoInterpolate.
	config *types.Project
	// model is the uninterpolated Compose model, set instead of config when
	// loaded with LoadOptions.NoInterpolate.
	model map[string]any
}

// Service is one service of the project.
type Service struct {
	Name            string
	Image           string
	ContainerName   string
	Entrypoint      []string // nil: the image's; empty: cleared
	Command         []string // nil: the image's; empty: cleared
	Environment     []string // KEY=VALUE, sorted by key; variables without a value are left out
	WorkingDir      string
	User            string
	Hostname        string
	Init            bool
	Labels          map[string]string
	Networks        []ServiceNetwork // sorted by Name
	Mounts          []Mount          // in file order
	DependsOn       []Dependency     // sorted by Service
	Scale           int              // replicas; 1 when unset
	Restart         string           // "no", "always", "on-failure[:N]", "unless-stopped"; empty when unset
	StopSignal      string
	StopGracePeriod *time.Duration
	ExtraHosts      []string // "name=ip", sorted
	Profiles        []string
	PullPolicy      string
}

// ServiceNetwork attaches a service to one of the project's networks.
type ServiceNetwork struct {
	Name        string   // key in the project's networks
	Aliases     []string // as written
	IPv4Address string
}

// Mount is one entry of a service's volumes, resolved.
type Mount struct {
	Type     string // "volume", "bind" or "tmpfs"
	Source   string // volume key (empty for an anonymous volume or tmpfs) or absolute host path
	Target   string
	ReadOnly bool
	NoCopy   bool
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
}

// Volume is one of the project's named volumes that a service uses.
type Volume struct {
	Key      string // name in the file
	Name     string // full name, e.g. "hello_data"
	External bool
	Driver   string // empty when unset
	Labels   map[string]string
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
