package reconciler

import (
	"context"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/volmgr"
)

// Deps are what Observe and Apply work with. Each interface states its
// contract; engine.Engine, netmgr.Manager, engine.VolumeStore and
// engine.ImageStore implement them, reconcilertest.Fake is the in-memory
// double, and reconcilertest's suites (RunRuntimeSuite, RunNetworksSuite,
// RunVolumesSuite, RunImagesSuite) check both, one subtest per clause.
// Common to all four:
//
//   - Every method is safe for concurrent use, by goroutines and by berth
//     processes sharing a state root.
//   - Errors carry github.com/containerd/errdefs classes; a caller branches
//     on the class, never on the text.
//   - Values returned (containers, networks, volumes, images) are the
//     caller's: changing them changes nothing in the implementation, and
//     changing a map passed in after the call changes nothing either.
//   - List returns the objects whose labels hold every pair of labels: key
//     present, value equal (an empty value matches only an empty value);
//     nil or empty selects all. The result is sorted by name.
//   - A call that fails leaves nothing half-made: a failed Create leaves no
//     object and frees its name (and subnet), so that a retry can succeed.
//   - Removal is idempotent in effect: removing what does not exist (a
//     second Remove) is errdefs.ErrNotFound, which callers that converge
//     count as done.
type Deps struct {
	Runtime  Runtime
	Networks Networks
	Volumes  Volumes
	Images   Images
	// Builder builds the services' images; nil: a plan with a build
	// fails at that step.
	Builder Builder
	// LockProject takes the cross-process lock of the project called
	// name, waiting until it is free or ctx is done; Converge holds it
	// from Observe to the end of Apply. nil: no lock (tests in one
	// process).
	LockProject func(ctx context.Context, name string) (unlock func(), err error)
}

// Runtime is the part of the engine the reconciler drives: containers. An
// id is what Create returned.
//
//   - Create makes a container from a copy of c, in status created, not
//     started. A name another container holds is errdefs.ErrConflict (as
//     in Docker) and leaves that container alone; of concurrent Creates of
//     one name exactly one succeeds. A name outside
//     [a-zA-Z0-9][a-zA-Z0-9_.-]* or a configuration that cannot run is
//     errdefs.ErrInvalidArgument; an image the store lacks is
//     errdefs.ErrNotFound.
//   - Start runs a created or exited container and returns once its
//     process runs (status running). Starting a running container is a
//     no-op. A failed Start leaves the container as it was (created or
//     exited, the error in State.Error), holding no mount or sandbox.
//   - Stop sends the stop signal, waits up to timeout (negative: the
//     container's own, else 10s), then kills, and returns once the
//     container has exited (status exited) and its mounts and sandbox are
//     released. Stopping a container that is not running (created,
//     exited) is a no-op: nil, its status unchanged.
//   - Remove deletes a container that is not running with everything it
//     holds. A running one is errdefs.ErrConflict and keeps running, unless
//     force, which kills it first. A Remove that fails half-way leaves the
//     container for a retry to finish.
//   - Exec runs cfg's command in the running container id and returns its
//     exit code once it has exited (the command's own failure is a code,
//     not an error). A container that is not running is
//     errdefs.ErrFailedPrecondition. Lifecycle hooks (post_start,
//     pre_stop) run through it.
//   - ListBrief returns the containers List returns with the same labels,
//     in the same order, in brief: each one's ID, name, labels, mounts,
//     image ID and status as List gives them. It is what Observe reads.
//   - Start, Stop, Remove and Exec of an id no container has are
//     errdefs.ErrNotFound.
type Runtime interface {
	Create(ctx context.Context, c engine.ContainerConfig) (*engine.Container, error)
	Start(ctx context.Context, id engine.ContainerID) error
	Stop(ctx context.Context, id engine.ContainerID, timeout time.Duration) error
	Remove(ctx context.Context, id engine.ContainerID, force bool) error
	List(ctx context.Context, labels map[string]string) ([]*engine.Container, error)
	ListBrief(ctx context.Context, labels map[string]string) ([]engine.Brief, error)
	Exec(ctx context.Context, id engine.ContainerID, cfg engine.ExecConfig, stdio engine.ExecIO) (int, error)
}

// Networks is the part of the network manager the reconciler drives:
// bridge networks, by name.
//
//   - Create makes the network (its bridge, subnet and firewall rules). A
//     network of that name is errdefs.ErrAlreadyExists and is left alone;
//     of concurrent Creates of one name exactly one succeeds. A bad name,
//     subnet or gateway is errdefs.ErrInvalidArgument (netmgr.CheckConfig);
//     a subnet overlapping another network's, or a route of the host's, is
//     errdefs.ErrConflict; an exhausted pool is
//     errdefs.ErrResourceExhausted.
//     (Docker says Conflict for a name in use; here AlreadyExists keeps
//     "the network is there, carry on" apart from a clash a converging
//     caller must not swallow.)
//   - Get returns the network; errdefs.ErrNotFound if there is none.
//   - Remove deletes the network and all it holds on the host (bridge,
//     rules). errdefs.ErrConflict while containers are connected;
//     errdefs.ErrNotFound if there is none. A Remove that fails keeps the
//     network's record for a retry to finish.
type Networks interface {
	Create(ctx context.Context, cfg netmgr.NetworkConfig) (*netmgr.Network, error)
	Get(ctx context.Context, name string) (*netmgr.Network, error)
	List(ctx context.Context, labels map[string]string) ([]*netmgr.Network, error)
	Remove(ctx context.Context, name string) error
}

// Volumes is the part of the volume store the reconciler drives: named
// volumes. It is the engine's store (engine.VolumeStore), which knows the
// containers: volmgr.Store alone does not keep the Remove clause.
//
//   - Create makes an empty volume. A volume of that name is
//     errdefs.ErrAlreadyExists and is left alone, data and labels; of
//     concurrent Creates of one name exactly one succeeds. A name outside
//     [a-zA-Z0-9][a-zA-Z0-9_.-]* is errdefs.ErrInvalidArgument, for Get and
//     Remove too.
//   - Get returns the volume; errdefs.ErrNotFound if there is none.
//   - Remove deletes the volume and its data. A volume any container
//     (running or not) mounts is errdefs.ErrConflict and is kept;
//     errdefs.ErrNotFound if there is none.
type Volumes interface {
	Create(ctx context.Context, name string, labels map[string]string) (*volmgr.Volume, error)
	Get(ctx context.Context, name string) (*volmgr.Volume, error)
	List(ctx context.Context, labels map[string]string) ([]*volmgr.Volume, error)
	Remove(ctx context.Context, name string) error
}

// Images is the part of the image store the reconciler drives. It is the
// engine's store (engine.ImageStore), which knows the containers:
// image.Store alone does not keep the Remove clause. References are
// normalised as Docker does ("busybox" is docker.io/library/busybox:latest).
//
//   - Resolve returns the image ref names; errdefs.ErrNotFound if the
//     store has none, errdefs.ErrInvalidArgument for a malformed reference.
//   - Pull fetches ref from its registry and names it in the store. A
//     reference the registry lacks is errdefs.ErrNotFound; an unreachable
//     registry errdefs.ErrUnavailable. A failed Pull changes no name.
//   - LastPulled returns when ref was last pulled into the store (by
//     Pull), the zero time if it never was.
//   - Remove removes the name ref, and the image once it has no name left.
//     An image a container (running or not) was made from is
//     errdefs.ErrConflict and is kept; errdefs.ErrNotFound if ref names
//     nothing.
type Images interface {
	Resolve(ctx context.Context, ref string) (*image.Image, error)
	Pull(ctx context.Context, ref string, opt image.PullOptions) (*image.Image, error)
	LastPulled(ctx context.Context, ref string) (time.Time, error)
	Remove(ctx context.Context, ref string) error
}

// Builder builds an image from a build context (engine/build.Builder).
// Build is safe for concurrent use; a build that fails moves no tag. A
// Dockerfile mistake is errdefs.ErrInvalidArgument.
type Builder interface {
	Build(ctx context.Context, opt build.Options) (*build.Result, error)
}
