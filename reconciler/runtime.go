package reconciler

import (
	"context"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/volmgr"
)

// Runtime is the part of the engine the reconciler drives. engine.Engine
// implements it. Methods are safe for concurrent use; Remove and Stop are
// idempotent.
type Runtime interface {
	Create(ctx context.Context, c engine.ContainerConfig) (*engine.Container, error)
	Start(ctx context.Context, id engine.ContainerID) error
	Stop(ctx context.Context, id engine.ContainerID, timeout time.Duration) error
	Remove(ctx context.Context, id engine.ContainerID, force bool) error
	List(ctx context.Context, labels map[string]string) ([]*engine.Container, error)
}

// Networks is the part of the network manager the reconciler drives.
// netmgr.Manager implements it.
type Networks interface {
	Create(ctx context.Context, cfg netmgr.NetworkConfig) (*netmgr.Network, error)
	Get(ctx context.Context, name string) (*netmgr.Network, error)
	List(ctx context.Context, labels map[string]string) ([]*netmgr.Network, error)
	Remove(ctx context.Context, name string) error
}

// Volumes is the part of the volume store the reconciler drives.
// volmgr.Store implements it.
type Volumes interface {
	Create(ctx context.Context, name string, labels map[string]string) (*volmgr.Volume, error)
	Get(ctx context.Context, name string) (*volmgr.Volume, error)
	List(ctx context.Context, labels map[string]string) ([]*volmgr.Volume, error)
	Remove(ctx context.Context, name string) error
}

// Images is the part of the image store the reconciler drives.
// image.Store implements it.
type Images interface {
	Resolve(ctx context.Context, ref string) (*image.Image, error)
	Pull(ctx context.Context, ref string, opt image.PullOptions) (*image.Image, error)
	Remove(ctx context.Context, ref string) error
}

// Deps are what Observe and Apply work with.
type Deps struct {
	Runtime  Runtime
	Networks Networks
	Volumes  Volumes
	Images   Images
	// LockProject takes the cross-process lock of the project called
	// name, waiting until it is free or ctx is done; Converge holds it
	// from Observe to the end of Apply. nil: no lock (tests in one
	// process).
	LockProject func(ctx context.Context, name string) (unlock func(), err error)
}
