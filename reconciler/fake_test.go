package reconciler

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/volmgr"
)

// fake is an in-memory engine, network manager and volume store. failOn
// makes the named operation on the named target fail ("start:p-web-1").
type fake struct {
	mu         sync.Mutex // guards the fields below
	containers map[engine.ContainerID]*engine.Container
	networks   map[string]*netmgr.Network
	volumes    map[string]*volmgr.Volume
	calls      []string
	failOn     map[string]bool
	nextID     int
	// onStart sets the state a container reaches when started, by name
	// (default: running, no health).
	onStart map[string]engine.State
	// images are the image references present; Pull adds one.
	images map[string]bool
}

func newFake() *fake {
	return &fake{
		containers: map[engine.ContainerID]*engine.Container{},
		networks:   map[string]*netmgr.Network{},
		volumes:    map[string]*volmgr.Volume{},
		failOn:     map[string]bool{},
		onStart:    map[string]engine.State{},
		images:     map[string]bool{"busybox": true},
	}
}

func (f *fake) deps() Deps {
	return Deps{Runtime: f, Networks: (*fakeNets)(f), Volumes: (*fakeVols)(f), Images: (*fakeImages)(f)}
}

type fakeImages fake

func (i *fakeImages) Resolve(_ context.Context, ref string) (*image.Image, error) {
	f := (*fake)(i)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[ref] {
		return nil, fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
	}
	return &image.Image{ID: "sha256:" + ref}, nil
}

func (i *fakeImages) Pull(_ context.Context, ref string, _ image.PullOptions) (*image.Image, error) {
	f := (*fake)(i)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("pull", ref); err != nil {
		return nil, err
	}
	f.images[ref] = true
	return &image.Image{ID: "sha256:" + ref}, nil
}

func (i *fakeImages) Remove(_ context.Context, ref string) error {
	f := (*fake)(i)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("remove-image", ref); err != nil {
		return err
	}
	if !f.images[ref] {
		return fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
	}
	delete(f.images, ref)
	return nil
}

func (f *fake) record(op, target string) error {
	f.calls = append(f.calls, op+" "+target)
	if f.failOn[op+":"+target] {
		return fmt.Errorf("%s %s: injected failure", op, target)
	}
	return nil
}

func (f *fake) Create(_ context.Context, c engine.ContainerConfig) (*engine.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("create", c.Name); err != nil {
		return nil, err
	}
	for _, o := range f.containers {
		if o.Config.Name == c.Name {
			return nil, fmt.Errorf("container name %q: %w", c.Name, errdefs.ErrConflict)
		}
	}
	f.nextID++
	id := engine.ContainerID(fmt.Sprintf("id%d", f.nextID))
	f.containers[id] = &engine.Container{ID: id, Config: c, ImageID: "sha256:" + c.Image, State: engine.State{Status: engine.StatusCreated}}
	return f.containers[id], nil
}

func (f *fake) get(id engine.ContainerID) (*engine.Container, error) {
	c, ok := f.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

func (f *fake) Start(_ context.Context, id engine.ContainerID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(id)
	if err != nil {
		return err
	}
	if err := f.record("start", c.Config.Name); err != nil {
		return err
	}
	c.State = engine.State{Status: engine.StatusRunning}
	if st, ok := f.onStart[c.Config.Name]; ok {
		c.State = st
	}
	return nil
}

func (f *fake) Stop(_ context.Context, id engine.ContainerID, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(id)
	if err != nil {
		return err
	}
	if err := f.record("stop", c.Config.Name); err != nil {
		return err
	}
	c.State.Status = engine.StatusExited
	return nil
}

func (f *fake) Remove(_ context.Context, id engine.ContainerID, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(id)
	if err != nil {
		return err
	}
	if err := f.record("remove", c.Config.Name); err != nil {
		return err
	}
	delete(f.containers, id)
	return nil
}

func (f *fake) List(_ context.Context, labels map[string]string) ([]*engine.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*engine.Container
	for _, c := range f.containers {
		if hasAll(c.Config.Labels, labels) {
			cp := *c
			out = append(out, &cp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Config.Name < out[j].Config.Name })
	return out, nil
}

type fakeNets fake

func (n *fakeNets) Create(_ context.Context, cfg netmgr.NetworkConfig) (*netmgr.Network, error) {
	f := (*fake)(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("create-network", cfg.Name); err != nil {
		return nil, err
	}
	if _, ok := f.networks[cfg.Name]; ok {
		return nil, fmt.Errorf("network %q: %w", cfg.Name, errdefs.ErrAlreadyExists)
	}
	f.networks[cfg.Name] = &netmgr.Network{Name: cfg.Name, Labels: maps.Clone(cfg.Labels), Internal: cfg.Internal}
	return f.networks[cfg.Name], nil
}

func (n *fakeNets) Get(_ context.Context, name string) (*netmgr.Network, error) {
	f := (*fake)(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	nw, ok := f.networks[name]
	if !ok {
		return nil, fmt.Errorf("network %q: %w", name, errdefs.ErrNotFound)
	}
	return nw, nil
}

func (n *fakeNets) List(_ context.Context, labels map[string]string) ([]*netmgr.Network, error) {
	f := (*fake)(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*netmgr.Network
	for _, name := range slices.Sorted(maps.Keys(f.networks)) {
		if nw := f.networks[name]; hasAll(nw.Labels, labels) {
			out = append(out, nw)
		}
	}
	return out, nil
}

func (n *fakeNets) Remove(_ context.Context, name string) error {
	f := (*fake)(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("remove-network", name); err != nil {
		return err
	}
	if _, ok := f.networks[name]; !ok {
		return fmt.Errorf("network %q: %w", name, errdefs.ErrNotFound)
	}
	delete(f.networks, name)
	return nil
}

type fakeVols fake

func (v *fakeVols) Create(_ context.Context, name string, labels map[string]string) (*volmgr.Volume, error) {
	f := (*fake)(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("create-volume", name); err != nil {
		return nil, err
	}
	if _, ok := f.volumes[name]; ok {
		return nil, fmt.Errorf("volume %q: %w", name, errdefs.ErrAlreadyExists)
	}
	f.volumes[name] = &volmgr.Volume{Name: name, Labels: maps.Clone(labels)}
	return f.volumes[name], nil
}

func (v *fakeVols) Get(_ context.Context, name string) (*volmgr.Volume, error) {
	f := (*fake)(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	vol, ok := f.volumes[name]
	if !ok {
		return nil, fmt.Errorf("volume %q: %w", name, errdefs.ErrNotFound)
	}
	return vol, nil
}

func (v *fakeVols) List(_ context.Context, labels map[string]string) ([]*volmgr.Volume, error) {
	f := (*fake)(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*volmgr.Volume
	for _, name := range slices.Sorted(maps.Keys(f.volumes)) {
		if vol := f.volumes[name]; hasAll(vol.Labels, labels) {
			out = append(out, vol)
		}
	}
	return out, nil
}

func (v *fakeVols) Remove(_ context.Context, name string) error {
	f := (*fake)(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("remove-volume", name); err != nil {
		return err
	}
	if _, ok := f.volumes[name]; !ok {
		return fmt.Errorf("volume %q: %w", name, errdefs.ErrNotFound)
	}
	delete(f.volumes, name)
	return nil
}

func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// recordingSink collects events.
type recordingSink struct {
	mu     sync.Mutex // guards events
	events []string
}

func (s *recordingSink) Event(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := e.Target + " " + string(e.Status)
	if e.Err != nil {
		line += ": " + e.Err.Error()
	}
	s.events = append(s.events, line)
}

func (s *recordingSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := slices.Clone(s.events)
	slices.Sort(ev)
	return strings.Join(ev, "\n")
}
