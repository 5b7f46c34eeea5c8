package deploy

import "context"

// Kind is the kind of a cluster object. Its order is the order objects are
// created in: what a service refers to exists before the service.
type Kind string

// The kinds of objects a project becomes.
const (
	KindNetwork Kind = "network"
	KindConfig  Kind = "config"
	KindSecret  Kind = "secret"
	KindService Kind = "service"
)

// rank is the creation order of a kind.
func (k Kind) rank() int {
	switch k {
	case KindNetwork:
		return 0
	case KindConfig:
		return 1
	case KindSecret:
		return 2
	}
	return 3
}

// Object is one object of a project on a cluster, desired or observed.
type Object struct {
	Kind Kind
	// Name is the object's name on the cluster, unique per kind, e.g.
	// "shop_web".
	Name string
	// Service is the Compose service a service object is made from; empty
	// for other kinds.
	Service string
	// Spec is what the target's API takes to create the object. Compute
	// compares a desired and an observed Spec as JSON, leaving out empty
	// values on both sides.
	Spec any
	// Immutable objects are never updated: a changed config or secret gets
	// a new name, a network is kept as it is.
	Immutable bool
	// Lineage names what the versions of an immutable object share (a
	// config's or secret's Compose key): a version the file no longer
	// makes is removed once a deploy has made its successor.
	Lineage string
	// After names the services (Compose names) this service starts after
	// (depends_on): they are created or updated first.
	After []string

	// ID and Version are set on observed objects: the cluster's ID and the
	// version index an update must name.
	ID      string
	Version uint64
}

// Target is the cluster a project is deployed onto. Implementations talk
// to the cluster's API; each method is one round of requests and holds no
// state between calls, so a Target is safe for concurrent use.
type Target interface {
	// Observe returns the objects of the project (stack) the cluster holds,
	// with ID and Version set. An empty cluster gives none and no error.
	Observe(ctx context.Context, project string) ([]Object, error)
	// Create creates the object. An object of that name already existing is
	// an error wrapping errdefs.ErrConflict.
	Create(ctx context.Context, o Object) error
	// Update replaces current's spec with desired's, naming current.Version:
	// a concurrent change makes it fail (errdefs.ErrConflict) rather than be
	// lost.
	Update(ctx context.Context, current, desired Object) error
	// Remove removes the object. It is idempotent: an object already gone
	// is no error.
	Remove(ctx context.Context, o Object) error
	// Status reports the services' tasks: one entry per name given (cluster
	// names), in that order.
	Status(ctx context.Context, services []string) ([]ServiceStatus, error)
}

// ServiceStatus is how far a service's rollout has come.
type ServiceStatus struct {
	Name    string
	Desired int // tasks the service should run; for a global service, the eligible nodes
	Running int // tasks running (and healthy, with a healthcheck) at the current version
	// Updating is true while the cluster still rolls an update out.
	Updating bool
	// Failed is set when the rollout cannot succeed without a change: a
	// paused or rolled-back update, or tasks that keep failing. It names
	// the node and the task's error.
	Failed string
	// Note is the latest state of a task that is not running yet, e.g.
	// "pending: no suitable node", for reports while waiting.
	Note string
}

// Ready says whether the service runs all its desired tasks.
func (s ServiceStatus) Ready() bool {
	return s.Failed == "" && !s.Updating && s.Running == s.Desired
}
