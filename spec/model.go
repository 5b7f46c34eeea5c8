package spec

import "time"

// Project is a loaded Compose project in berth's own terms. Services,
// Networks and Volumes are sorted by name; only services enabled by the
// active profiles are in Services.
type Project struct {
	Name         string
	WorkingDir   string
	ComposeFiles []string // absolute paths of the files loaded, in order
	EnvFiles     []string // absolute paths of the env files read (.env, --env-file)
	Services     []Service
	Networks     []Network
	Volumes      []Volume

	// unsupported lists fields the project sets that berth does not run yet;
	// see Project.CheckSupported.
	unsupported []FieldError
	// config is the project rendered by compose-go, kept for `berth config`.
	config configSource
}

// Service is one service of the project.
type Service struct {
	Name            string
	Image           string
	ContainerName   string
	Entrypoint      []string // nil: the image's
	Command         []string // nil: the image's
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
	Restart         string           // "no", "always", "on-failure[:N]", "unless-stopped"
	StopSignal      string
	StopGracePeriod *time.Duration
	ExtraHosts      []string // "name=ip" or "name:ip" as written
	Profiles        []string
	PullPolicy      string
}

// ServiceNetwork attaches a service to one of the project's networks.
type ServiceNetwork struct {
	Name        string // key in the project's networks
	Aliases     []string
	IPv4Address string
}

// Mount is one entry of a service's volumes, resolved.
type Mount struct {
	Type     string // "volume", "bind" or "tmpfs"
	Source   string // volume key (empty for an anonymous volume) or absolute host path
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

// Network is one of the project's networks.
type Network struct {
	Key      string // name in the file, e.g. "default"
	Name     string // full name, e.g. "hello_default"
	External bool
	Internal bool
	Driver   string
	Labels   map[string]string
}

// Volume is one of the project's named volumes.
type Volume struct {
	Key      string // name in the file
	Name     string // full name, e.g. "hello_data"
	External bool
	Driver   string
	Labels   map[string]string
}

// FieldError is a problem with one field of a Compose file.
type FieldError struct {
	File  string // base name of the file when known, else "compose"
	Path  string // e.g. `services.web.deploy.placement`
	Issue string // e.g. "not supported by berth yet"
}

func (e FieldError) Error() string { return e.File + ": " + e.Path + ": " + e.Issue }

type configSource interface{}
