package reconcilertest

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/volmgr"
)

// Fake is an in-memory engine, network manager, volume store and image
// store sharing one state, as the real ones share a state root: a volume a
// container mounts is in use, a container needs its image. It passes the
// conformance suites. Runtime, Networks, Volumes and Images return its
// four faces; FailOn, OnStart, SetImage and Calls steer and watch it. Safe
// for concurrent use.
type Fake struct {
	mu         sync.Mutex // guards the fields below
	containers map[engine.ContainerID]*engine.Container
	networks   map[string]*netmgr.Network
	volumes    map[string]*volmgr.Volume
	images     map[string]bool // references the image store holds
	imageGen   map[string]int  // how often a reference was rebuilt: part of its ID
	registry   map[string]bool // references Pull finds
	calls      []string
	failOn     map[string]bool
	onStart    map[string]engine.State
	execCode   map[string]int // by container name: the exit code of its execs
	pulledAt   map[string]time.Time
	nextID     int
}

// NewFake returns an empty Fake whose image store and registry hold
// SuiteImage.
func NewFake() *Fake {
	return &Fake{
		containers: map[engine.ContainerID]*engine.Container{},
		networks:   map[string]*netmgr.Network{},
		volumes:    map[string]*volmgr.Volume{},
		images:     map[string]bool{SuiteImage: true},
		registry:   map[string]bool{SuiteImage: true},
		failOn:     map[string]bool{},
		onStart:    map[string]engine.State{},
		execCode:   map[string]int{},
		pulledAt:   map[string]time.Time{},
	}
}

// Runtime returns the fake's containers.
func (f *Fake) Runtime() *FakeRuntime { return (*FakeRuntime)(f) }

// Networks returns the fake's networks.
func (f *Fake) Networks() *FakeNetworks { return (*FakeNetworks)(f) }

// Volumes returns the fake's volumes.
func (f *Fake) Volumes() *FakeVolumes { return (*FakeVolumes)(f) }

// Images returns the fake's image store.
func (f *Fake) Images() *FakeImages { return (*FakeImages)(f) }

// FailOn makes every later call of op on target fail (after it is
// recorded), with an error that is no errdefs class and says "injected
// failure". op is one of create, start, stop, remove (containers, by name),
// create-network, remove-network, create-volume, remove-volume, pull and
// remove-image.
func (f *Fake) FailOn(op, target string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failOn[op+":"+target] = true
}

// OnStart sets the state the container named name reaches when started
// (default: running, no health).
func (f *Fake) OnStart(name string, st engine.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onStart[name] = st
}

// SetImage puts the image ref in the image store, or takes it out.
func (f *Fake) SetImage(ref string, present bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images[ref] = present
}

// imageIDLocked is the ID of the image ref names: new after each build.
// f.mu is held.
func (f *Fake) imageIDLocked(ref string) string {
	if g := f.imageGen[ref]; g > 0 {
		return fmt.Sprintf("sha256:%s.%d", ref, g)
	}
	return "sha256:" + ref
}

// Builder returns the fake's builder: Build records "build REF" (its first
// tag), fails as FailOn("build", REF) says, and names a new image under
// every tag, with a new ID.
func (f *Fake) Builder() *FakeBuilder { return (*FakeBuilder)(f) }

// FakeBuilder is the Fake's builder.
type FakeBuilder Fake

// Build makes the image opt tags.
func (b *FakeBuilder) Build(_ context.Context, opt build.Options) (*build.Result, error) {
	f := (*Fake)(b)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(opt.Tags) == 0 {
		return nil, fmt.Errorf("build: no tag: %w", errdefs.ErrInvalidArgument)
	}
	if err := f.recordLocked("build", opt.Tags[0]); err != nil {
		return nil, err
	}
	if f.imageGen == nil {
		f.imageGen = map[string]int{}
	}
	for _, t := range opt.Tags {
		f.images[t] = true
		f.imageGen[t]++
	}
	return &build.Result{ImageID: f.imageIDLocked(opt.Tags[0]), Tags: slices.Clone(opt.Tags)}, nil
}

// AddToRegistry makes ref one that Pull finds.
func (f *Fake) AddToRegistry(ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registry[ref] = true
}

// Calls returns the calls made, in order, as "op target" ("start p-web-1",
// "remove-volume p_data"; the ops of FailOn). Start, Stop and Remove of
// an object that does not exist are not recorded.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// ResetCalls forgets the calls recorded so far.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// recordLocked records the call op on target and returns the failure
// FailOn injected, if any. f.mu is held.
func (f *Fake) recordLocked(op, target string) error {
	f.calls = append(f.calls, op+" "+target)
	if f.failOn[op+":"+target] {
		return fmt.Errorf("%s %s: injected failure", op, target)
	}
	return nil
}

// FakeRuntime is the containers of a Fake, implementing the reconciler's
// Runtime. Containers are named, and their IDs are "id1", "id2", …
type FakeRuntime Fake

// validName is what the engine, like Docker, accepts as a container name.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Create makes a container in status created.
func (r *FakeRuntime) Create(_ context.Context, c engine.ContainerConfig) (*engine.Container, error) {
	f := (*Fake)(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("create", c.Name); err != nil {
		return nil, err
	}
	if !validName.MatchString(c.Name) {
		return nil, fmt.Errorf("container %q: invalid name: want [a-zA-Z0-9][a-zA-Z0-9_.-]*: %w", c.Name, errdefs.ErrInvalidArgument)
	}
	if !f.images[c.Image] {
		return nil, fmt.Errorf("container %q: image %q: %w", c.Name, c.Image, errdefs.ErrNotFound)
	}
	for _, o := range f.containers {
		if o.Config.Name == c.Name {
			return nil, fmt.Errorf("container name %q is already in use by container %s: %w", c.Name, o.ID, errdefs.ErrConflict)
		}
	}
	f.nextID++
	id := engine.ContainerID(fmt.Sprintf("id%d", f.nextID))
	ctr := &engine.Container{ID: id, Config: c, ImageID: f.imageIDLocked(c.Image), State: engine.State{Status: engine.StatusCreated}}
	f.containers[id] = cloneContainer(ctr) // not the caller's maps
	return cloneContainer(f.containers[id]), nil
}

// callLocked finds the container id and records the call op on it; f.mu
// is held.
func (f *Fake) callLocked(op string, id engine.ContainerID) (*engine.Container, error) {
	c, ok := f.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
	}
	return c, f.recordLocked(op, c.Config.Name)
}

// Start runs the container: it reaches the state OnStart set for its
// name. A running container is left alone.
func (r *FakeRuntime) Start(_ context.Context, id engine.ContainerID) error {
	f := (*Fake)(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.callLocked("start", id)
	if err != nil {
		return err
	}
	if active(c.State.Status) {
		return nil
	}
	c.State = engine.State{Status: engine.StatusRunning}
	if st, ok := f.onStart[c.Config.Name]; ok {
		c.State = st
	}
	return nil
}

// Stop makes a running container exited; any other is left alone.
func (r *FakeRuntime) Stop(_ context.Context, id engine.ContainerID, _ time.Duration) error {
	f := (*Fake)(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.callLocked("stop", id)
	if err != nil {
		return err
	}
	if active(c.State.Status) {
		c.State.Status = engine.StatusExited
	}
	return nil
}

// Remove deletes the container; a running one only with force.
func (r *FakeRuntime) Remove(_ context.Context, id engine.ContainerID, force bool) error {
	f := (*Fake)(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.callLocked("remove", id)
	if err != nil {
		return err
	}
	if active(c.State.Status) && !force {
		return fmt.Errorf("container %q: remove: the container is %s: stop it first or force the removal: %w", c.Config.Name, c.State.Status, errdefs.ErrConflict)
	}
	delete(f.containers, id)
	return nil
}

// SetPulled makes ref's last pull at t.
func (f *Fake) SetPulled(ref string, t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulledAt[ref] = t
}

// OnExec makes every Exec in the container called name exit with code.
func (f *Fake) OnExec(name string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execCode[name] = code
}

// Exec records the call as "exec NAME CMD…" and returns the code OnExec
// set for the container, else 0. It runs nothing.
func (r *FakeRuntime) Exec(_ context.Context, id engine.ContainerID, cfg engine.ExecConfig, _ engine.ExecIO) (int, error) {
	f := (*Fake)(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return -1, fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
	}
	if c.State.Status != engine.StatusRunning {
		return -1, fmt.Errorf("container %q is %s, not running: %w", c.Config.Name, c.State.Status, errdefs.ErrFailedPrecondition)
	}
	if len(cfg.Cmd) == 0 || cfg.Cmd[0] == "" {
		return -1, fmt.Errorf("exec: no command: %w", errdefs.ErrInvalidArgument)
	}
	if err := f.recordLocked("exec", c.Config.Name+" "+strings.Join(cfg.Cmd, " ")); err != nil {
		return -1, err
	}
	return f.execCode[c.Config.Name], nil
}

// List returns copies of the containers carrying every label of labels,
// sorted by name.
func (r *FakeRuntime) List(_ context.Context, labels map[string]string) ([]*engine.Container, error) {
	f := (*Fake)(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*engine.Container
	for _, c := range f.containers {
		if hasLabels(c.Config.Labels, labels) {
			out = append(out, cloneContainer(c))
		}
	}
	slices.SortFunc(out, func(a, b *engine.Container) int { return strings.Compare(a.Config.Name, b.Config.Name) })
	return out, nil
}

// ListBrief returns what List returns, in brief.
func (r *FakeRuntime) ListBrief(ctx context.Context, labels map[string]string) ([]engine.Brief, error) {
	all, err := r.List(ctx, labels)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Brief, 0, len(all))
	for _, c := range all {
		out = append(out, engine.Brief{ID: c.ID, Name: c.Config.Name, Labels: c.Config.Labels, Mounts: c.Config.Mounts,
			ImageID: c.ImageID, Status: c.State.Status})
	}
	return out, nil
}

func active(s engine.Status) bool {
	return s == engine.StatusRunning || s == engine.StatusPaused || s == engine.StatusRestarting
}

// cloneContainer copies c down to what a caller could change in place.
func cloneContainer(c *engine.Container) *engine.Container {
	cp := *c
	cp.Config.Labels = maps.Clone(c.Config.Labels)
	cp.Config.Mounts = slices.Clone(c.Config.Mounts)
	cp.Config.Networks = slices.Clone(c.Config.Networks)
	cp.Config.Cmd = slices.Clone(c.Config.Cmd)
	cp.Config.Env = slices.Clone(c.Config.Env)
	if c.State.Health != nil {
		h := *c.State.Health
		cp.State.Health = &h
	}
	return &cp
}

// hasLabels tells whether have carries every label of want: the key
// present with the same value (an empty value too), the filter of every
// List in the contracts.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}
