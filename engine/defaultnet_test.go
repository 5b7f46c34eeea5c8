package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/netmgr"
)

// fakeNets is an in-memory network store: it records which networks exist
// and how often each was created and removed.
type fakeNets struct {
	mu      sync.Mutex
	nets    map[string]bool
	creates int
	removes int
	// removeErr, when set, is what Remove returns (the network stays).
	removeErr error
}

func newFakeNets() *fakeNets { return &fakeNets{nets: map[string]bool{}} }

func (f *fakeNets) Get(_ context.Context, name string) (*netmgr.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.nets[name] {
		return nil, fmt.Errorf("network %q: %w", name, errdefs.ErrNotFound)
	}
	return &netmgr.Network{Name: name}, nil
}

func (f *fakeNets) Create(_ context.Context, cfg netmgr.NetworkConfig) (*netmgr.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nets[cfg.Name] {
		return nil, fmt.Errorf("network %q: %w", cfg.Name, errdefs.ErrAlreadyExists)
	}
	// Widen the window in which a missing lock would let a removal
	// interleave.
	time.Sleep(time.Millisecond)
	f.nets[cfg.Name] = true
	f.creates++
	return &netmgr.Network{Name: cfg.Name}, nil
}

func (f *fakeNets) Remove(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removeErr != nil {
		return f.removeErr
	}
	if !f.nets[name] {
		return fmt.Errorf("network %q: %w", name, errdefs.ErrNotFound)
	}
	delete(f.nets, name)
	f.removes++
	return nil
}

func (f *fakeNets) has(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nets[name]
}

func newDefaultNetEngine(t *testing.T) (*Engine, *fakeNets) {
	t.Helper()
	e := newUnprivEngine(t, "/bin/true", true)
	f := newFakeNets()
	e.defNets = f
	return e, f
}

func onDefault(name string) ContainerConfig {
	return ContainerConfig{Name: name, Image: "busybox", Cmd: []string{"true"}, Networks: []EndpointConfig{{Network: DefaultNetwork}}}
}

// TestDefaultNetworkLifecycle: the default network is made by the first
// container naming it, kept while any container names it, and removed
// with the last; containers on other networks never touch it.
func TestDefaultNetworkLifecycle(t *testing.T) {
	e, f := newDefaultNetEngine(t)
	ctx := t.Context()
	other, err := e.Create(ctx, ContainerConfig{Name: "other", Image: "busybox", Cmd: []string{"true"}, Networks: []EndpointConfig{{Network: "front"}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.has(DefaultNetwork) || f.creates != 0 {
		t.Fatalf("a container on another network made the default one")
	}
	a, err := e.Create(ctx, onDefault("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Create(ctx, onDefault("b"))
	if err != nil {
		t.Fatal(err)
	}
	if !f.has(DefaultNetwork) || f.creates != 1 {
		t.Fatalf("after two containers: exists %v, created %d times; want made once", f.has(DefaultNetwork), f.creates)
	}
	if err := e.Remove(ctx, a.ID, false); err != nil {
		t.Fatal(err)
	}
	if !f.has(DefaultNetwork) {
		t.Fatal("the default network went while container b still names it")
	}
	if err := e.Remove(ctx, other.ID, false); err != nil {
		t.Fatal(err)
	}
	if !f.has(DefaultNetwork) {
		t.Fatal("removing a container on another network removed the default one")
	}
	if err := e.Remove(ctx, b.ID, false); err != nil {
		t.Fatal(err)
	}
	if f.has(DefaultNetwork) || f.removes != 1 {
		t.Fatalf("after the last container: exists %v, removed %d times; want removed once", f.has(DefaultNetwork), f.removes)
	}
}

// TestDefaultNetworkFailedCreate: a Create that fails after making the
// default network (the name is taken) leaves no network behind, and one
// that fails before (unknown image) makes none.
func TestDefaultNetworkFailedCreate(t *testing.T) {
	e, f := newDefaultNetEngine(t)
	ctx := t.Context()
	// The name is taken by a container that is not on the default network.
	if _, err := e.Create(ctx, ContainerConfig{Name: "x", Image: "busybox", Cmd: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, onDefault("x")); !errdefs.IsConflict(err) {
		t.Fatalf("Create with a taken name: %v, want Conflict", err)
	}
	if f.has(DefaultNetwork) {
		t.Error("a failed Create left the default network")
	}
	bad := onDefault("y")
	bad.Image = "nosuch:1"
	if _, err := e.Create(ctx, bad); !errdefs.IsNotFound(err) {
		t.Fatalf("Create of an unknown image: %v, want NotFound", err)
	}
	if f.creates != 1 || f.has(DefaultNetwork) {
		t.Errorf("created %d times, exists %v; want 1 and no", f.creates, f.has(DefaultNetwork))
	}
}

// TestDefaultNetworkRemoveFails: when the network cannot be removed, the
// container's removal says so, and the next removal of a default
// network's container finishes the job.
func TestDefaultNetworkRemoveFails(t *testing.T) {
	e, f := newDefaultNetEngine(t)
	ctx := t.Context()
	a, err := e.Create(ctx, onDefault("a"))
	if err != nil {
		t.Fatal(err)
	}
	f.removeErr = fmt.Errorf("network %q: busy: %w", DefaultNetwork, errdefs.ErrConflict)
	if err := e.Remove(ctx, a.ID, false); !errdefs.IsConflict(err) {
		t.Fatalf("Remove: %v, want the network's Conflict", err)
	}
	if _, err := e.Get(ctx, "a"); !errdefs.IsNotFound(err) {
		t.Fatalf("the container survived: %v", err)
	}
	f.removeErr = nil
	b, err := e.Create(ctx, onDefault("b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Remove(ctx, b.ID, false); err != nil {
		t.Fatal(err)
	}
	if f.has(DefaultNetwork) {
		t.Error("the default network is left")
	}
}

// TestDefaultNetworkConcurrent: containers created and removed at once by
// many goroutines each find the network there for as long as they exist,
// and none is left at the end.
func TestDefaultNetworkConcurrent(t *testing.T) {
	e, f := newDefaultNetEngine(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Go(func() {
			for j := range 4 {
				c, err := e.Create(ctx, onDefault(fmt.Sprintf("c%d-%d", i, j)))
				if err != nil {
					errs <- err
					return
				}
				if !f.has(DefaultNetwork) {
					errs <- fmt.Errorf("container %s exists without the default network", c.Config.Name)
				}
				// The engine's Start makes sure of it too.
				if err := e.ensureDefaultNetwork(ctx); err != nil {
					errs <- err
				}
				if err := e.Remove(ctx, c.ID, false); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if f.has(DefaultNetwork) {
		t.Error("the default network is left after every container went")
	}
}

// TestRemoveIfUnused covers the decision alone.
func TestRemoveIfUnused(t *testing.T) {
	f := newFakeNets()
	f.nets["n"] = true
	users := []ContainerConfig{{Networks: []EndpointConfig{{Network: "m"}}}, {NetworkMode: "host"}}
	if err := removeIfUnused(t.Context(), f, "n", append(users, ContainerConfig{Networks: []EndpointConfig{{Network: "m"}, {Network: "n"}}})); err != nil || !f.has("n") {
		t.Fatalf("used network: err %v, exists %v", err, f.has("n"))
	}
	if err := removeIfUnused(t.Context(), f, "n", users); err != nil || f.has("n") {
		t.Fatalf("unused network: err %v, exists %v", err, f.has("n"))
	}
	if err := removeIfUnused(t.Context(), f, "n", nil); err != nil {
		t.Fatalf("network already gone: %v", err)
	}
}

// TestSweepAutoRemove: an exited AutoRemove container is removed (and the
// default network with it), as is one whose owner is gone; a created one,
// one whose owner still lives (it removes the container itself) and an
// exited one without AutoRemove stay.
func TestSweepAutoRemove(t *testing.T) {
	e, f := newDefaultNetEngine(t)
	ctx := t.Context()
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	// This process's PID with another start time: a process that is gone.
	gonePid := &ProcRef{Pid: self.Pid, Start: self.Start + 1}
	mk := func(name string, auto bool, status Status, owner ...*ProcRef) *Container {
		t.Helper()
		cfg := onDefault(name)
		cfg.AutoRemove = auto
		if len(owner) > 0 {
			cfg.AutoRemoveOwner = owner[0]
		}
		c, err := e.Create(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if status != StatusCreated {
			sf := stateFile{Version: ctrstate.StateVersion, State: State{Status: status, ExitCode: 3, FinishedAt: time.Now()}}
			if err := writeState(e.containerDir(c.ID), sf); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	gone := mk("gone", true, StatusExited)
	orphaned := mk("orphaned", true, StatusExited, gonePid)
	mk("created", true, StatusCreated)
	mk("kept", false, StatusExited)
	mk("owned", true, StatusExited, self)
	removed, err := e.SweepAutoRemove(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	want := []ContainerID{gone.ID, orphaned.ID}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	var names []string
	cs, err := e.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		names = append(names, c.Config.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"created", "kept", "owned"}) {
		t.Errorf("left %v, want [created kept owned]", names)
	}
	for _, c := range cs {
		if err := e.Remove(ctx, c.ID, false); err != nil {
			t.Fatal(err)
		}
	}
	if f.has(DefaultNetwork) {
		t.Error("the default network is left")
	}
}

// TestAutoRemoveConfig: AutoRemove is refused with a restart policy and
// reaches the shim as --auto-remove.
func TestAutoRemoveConfig(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	cfg := ContainerConfig{Name: "x", Image: "busybox", Cmd: []string{"true"}, AutoRemove: true, Restart: RestartPolicy{Name: "always"}}
	if _, err := e.Create(t.Context(), cfg); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("AutoRemove with restart always: %v, want InvalidArgument", err)
	}
	cfg.Restart = RestartPolicy{}
	if args := shimArgs(&record{Config: cfg}); !slices.Contains(args, "--auto-remove") {
		t.Errorf("shim args %q lack --auto-remove", args)
	}
	owned := cfg
	owned.AutoRemoveOwner = &ProcRef{Pid: 1, Start: 1}
	if args := shimArgs(&record{Config: owned}); slices.Contains(args, "--auto-remove") {
		t.Errorf("shim args %q have --auto-remove, yet the owner removes the container", args)
	}
	cfg.AutoRemove = false
	if args := shimArgs(&record{Config: cfg}); slices.Contains(args, "--auto-remove") {
		t.Errorf("shim args %q have --auto-remove", args)
	}
	cfg.AutoRemoveOwner = owned.AutoRemoveOwner
	if _, err := e.Create(t.Context(), cfg); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("AutoRemoveOwner without AutoRemove: %v, want InvalidArgument", err)
	}
}
