package reconciler

import (
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/netmgr"
)

// Action is one typed change to the machine.
type Action interface {
	// Target names the resource: "container/web-1", "network/p_default";
	// stable and sortable.
	Target() string
	// String describes the action in one line, for --dry-run.
	String() string
}

// BuildImage builds a service's image from its build section, named Ref
// and the build's tags.
type BuildImage struct {
	Ref      string
	Services []string // the services that use it
	Options  build.Options
}

// CreateNetwork makes a network of the project.
type CreateNetwork struct{ Config netmgr.NetworkConfig }

// CreateVolume makes a named volume of the project.
type CreateVolume struct {
	Name       string
	Labels     map[string]string
	Driver     string            // "" or "local"
	DriverOpts map[string]string // the local driver's type, o and device
}

// PullImage fetches an image from its registry.
type PullImage struct {
	Ref      string
	Services []string // the services that use it
}

// Hooks are the lifecycle hooks of a container step, run through
// Runtime.Exec: PostStart once the container has started, PreStop before
// it is stopped, each in turn. Service names the service in errors.
type Hooks struct {
	Service   string
	PostStart []engine.ExecConfig
	PreStop   []engine.ExecConfig
}

// CreateContainer makes a container and, when Start, starts it.
type CreateContainer struct {
	Service string
	Number  int
	Config  engine.ContainerConfig
	Start   bool
	Hooks   Hooks
}

// RecreateContainer replaces a container whose configuration changed: the old
// one is stopped and removed, the new one created and, when Start, started.
type RecreateContainer struct {
	Service string
	Number  int
	OldID   engine.ContainerID
	Reason  string
	Timeout time.Duration
	Config  engine.ContainerConfig
	Start   bool
	Hooks   Hooks // PreStop runs in the old container, PostStart in the new one
}

// StartContainer starts an existing, stopped container.
type StartContainer struct {
	Name  string
	ID    engine.ContainerID
	Hooks Hooks
}

// RestartContainer stops and starts a container, as a dependency declared
// with restart: true was recreated.
type RestartContainer struct {
	Name    string
	ID      engine.ContainerID
	Reason  string
	Timeout time.Duration
	Hooks   Hooks
}

// StopContainer stops a running container and keeps it.
type StopContainer struct {
	Name    string
	ID      engine.ContainerID
	Timeout time.Duration
	Hooks   Hooks
}

// RemoveContainer stops (within Timeout) and removes a container.
type RemoveContainer struct {
	Name    string
	ID      engine.ContainerID
	Reason  string
	Timeout time.Duration
	Hooks   Hooks
}

// Conditions an AwaitService step waits for.
const (
	ConditionStarted   = "service_started"
	ConditionHealthy   = "service_healthy"
	ConditionCompleted = "service_completed_successfully"
	// ConditionReady is what `up --wait` waits for: running, and healthy
	// when the container has a healthcheck.
	ConditionReady = "ready"
)

// RunPreStart runs a service's pre_start containers, in turn, each to
// completion; one that fails is kept for inspection and fails the step.
type RunPreStart struct {
	Project string
	Service string
	Configs []engine.ContainerConfig
}

// AwaitService waits until every container of a service meets Condition,
// and fails as soon as one cannot any more (unhealthy, exited non-zero).
type AwaitService struct {
	Project   string
	Service   string
	Condition string
}

// RemoveNetwork removes a network of the project.
type RemoveNetwork struct{ Name string }

// RemoveVolume removes a named volume of the project and its data.
type RemoveVolume struct{ Name string }

// RemoveImage removes an image reference (down --rmi).
type RemoveImage struct{ Ref string }

func (a PullImage) Target() string         { return "image/" + a.Ref }
func (a BuildImage) Target() string        { return "image/" + a.Ref }
func (a CreateNetwork) Target() string     { return "network/" + a.Config.Name }
func (a CreateVolume) Target() string      { return "volume/" + a.Name }
func (a CreateContainer) Target() string   { return "container/" + a.Config.Name }
func (a RecreateContainer) Target() string { return "container/" + a.Config.Name }
func (a StartContainer) Target() string    { return "container/" + a.Name }
func (a StopContainer) Target() string     { return "container/" + a.Name }
func (a RestartContainer) Target() string  { return "container/" + a.Name }
func (a RemoveContainer) Target() string   { return "container/" + a.Name }
func (a AwaitService) Target() string      { return "service/" + a.Service }
func (a RunPreStart) Target() string       { return "pre_start/" + a.Service }
func (a RemoveNetwork) Target() string     { return "network/" + a.Name }
func (a RemoveVolume) Target() string      { return "volume/" + a.Name }
func (a RemoveImage) Target() string       { return "image/" + a.Ref }

func (a CreateNetwork) String() string {
	s := "create network " + a.Config.Name
	if a.Config.Internal {
		s += " (internal)"
	}
	return s
}
func (a CreateVolume) String() string { return "create volume " + a.Name }
func (a CreateContainer) String() string {
	s := "create container " + a.Config.Name + " (image " + a.Config.Image + ")"
	if a.Start {
		s += " and start it"
	}
	return s
}
func (a RecreateContainer) String() string {
	return fmt.Sprintf("recreate container %s (%s)", a.Config.Name, a.Reason)
}
func (a StartContainer) String() string { return "start container " + a.Name }
func (a StopContainer) String() string  { return "stop container " + a.Name }
func (a RemoveContainer) String() string {
	return fmt.Sprintf("stop and remove container %s (%s)", a.Name, a.Reason)
}
func (a RunPreStart) String() string {
	return fmt.Sprintf("run %d pre_start container(s) of service %s", len(a.Configs), a.Service)
}
func (a AwaitService) String() string {
	return fmt.Sprintf("wait for service %s: %s", a.Service, a.Condition)
}
func (a RemoveNetwork) String() string { return "remove network " + a.Name }
func (a RemoveVolume) String() string  { return "remove volume " + a.Name }
func (a RemoveImage) String() string   { return "remove image " + a.Ref }

// Step is one action of a plan and the steps it waits for.
type Step struct {
	ID     int
	Action Action
	After  []int // IDs of steps that must succeed first
}

// Plan is a DAG of steps. Unchanged lists the targets already as desired,
// and Warnings what the user should know but is not an error (orphans).
type Plan struct {
	Steps     []Step
	Unchanged []string
	Warnings  []string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 }

// String renders the plan, one step a line, for --dry-run and golden tests.
func (p *Plan) String() string {
	var b strings.Builder
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "%d. %s", s.ID, s.Action)
		if len(s.After) > 0 {
			fmt.Fprintf(&b, " [after %s]", joinInts(s.After))
		}
		b.WriteByte('\n')
	}
	for _, u := range p.Unchanged {
		fmt.Fprintf(&b, "= %s\n", u)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "! %s\n", w)
	}
	return b.String()
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func (a RestartContainer) String() string {
	return fmt.Sprintf("restart container %s (%s)", a.Name, a.Reason)
}

func (a BuildImage) String() string {
	return fmt.Sprintf("build image %s (for %s)", a.Ref, strings.Join(a.Services, ", "))
}

func (a PullImage) String() string {
	return fmt.Sprintf("pull image %s (for %s)", a.Ref, strings.Join(a.Services, ", "))
}
