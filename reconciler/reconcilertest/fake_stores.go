package reconcilertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/volmgr"
)

// FakeNetworks is the networks of a Fake, implementing the reconciler's
// Networks. It checks configurations as netmgr does (netmgr.CheckConfig)
// and keeps given subnets apart; it hands out none itself.
type FakeNetworks Fake

// Create records the network.
func (n *FakeNetworks) Create(_ context.Context, cfg netmgr.NetworkConfig) (*netmgr.Network, error) {
	f := (*Fake)(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("create-network", cfg.Name); err != nil {
		return nil, err
	}
	if err := netmgr.CheckConfig(cfg); err != nil {
		return nil, err
	}
	if _, ok := f.networks[cfg.Name]; ok {
		return nil, fmt.Errorf("network %q: %w", cfg.Name, errdefs.ErrAlreadyExists)
	}
	if cfg.Subnet.IsValid() {
		for _, o := range f.networks {
			if o.Subnet.IsValid() && o.Subnet.Overlaps(cfg.Subnet) {
				return nil, fmt.Errorf("network %q: subnet %s overlaps network %q (%s): %w", cfg.Name, cfg.Subnet, o.Name, o.Subnet, errdefs.ErrConflict)
			}
		}
	}
	nw := &netmgr.Network{Name: cfg.Name, Labels: maps.Clone(cfg.Labels), Internal: cfg.Internal, Subnet: cfg.Subnet.Masked()}
	f.networks[cfg.Name] = nw
	return cloneNetwork(nw), nil
}

// Get returns a copy of the network.
func (n *FakeNetworks) Get(_ context.Context, name string) (*netmgr.Network, error) {
	f := (*Fake)(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	nw, ok := f.networks[name]
	if !ok {
		return nil, fmt.Errorf("network %q: %w", name, errdefs.ErrNotFound)
	}
	return cloneNetwork(nw), nil
}

// List returns copies of the networks carrying every label of labels,
// sorted by name.
func (n *FakeNetworks) List(_ context.Context, labels map[string]string) ([]*netmgr.Network, error) {
	f := (*Fake)(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*netmgr.Network
	for _, name := range slices.Sorted(maps.Keys(f.networks)) {
		if nw := f.networks[name]; hasLabels(nw.Labels, labels) {
			out = append(out, cloneNetwork(nw))
		}
	}
	return out, nil
}

// Remove deletes the network.
func (n *FakeNetworks) Remove(_ context.Context, name string) error {
	f := (*Fake)(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[name]; !ok {
		return fmt.Errorf("network %q: %w", name, errdefs.ErrNotFound)
	}
	if err := f.recordLocked("remove-network", name); err != nil {
		return err
	}
	delete(f.networks, name)
	return nil
}

func cloneNetwork(nw *netmgr.Network) *netmgr.Network {
	cp := *nw
	cp.Labels = maps.Clone(nw.Labels)
	return &cp
}

// FakeVolumes is the volumes of a Fake, implementing the reconciler's
// Volumes: volmgr's names, and the engine's refusal to remove a volume a
// container mounts.
type FakeVolumes Fake

// Create records the volume.
func (v *FakeVolumes) Create(_ context.Context, name string, labels map[string]string) (*volmgr.Volume, error) {
	f := (*Fake)(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("create-volume", name); err != nil {
		return nil, err
	}
	if err := volmgr.ValidateName(name); err != nil {
		return nil, err
	}
	if _, ok := f.volumes[name]; ok {
		return nil, fmt.Errorf("volume %q: %w", name, errdefs.ErrAlreadyExists)
	}
	vol := &volmgr.Volume{Name: name, Driver: "local", Labels: maps.Clone(labels)}
	f.volumes[name] = vol
	return cloneVolume(vol), nil
}

// Get returns a copy of the volume.
func (v *FakeVolumes) Get(_ context.Context, name string) (*volmgr.Volume, error) {
	f := (*Fake)(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := volmgr.ValidateName(name); err != nil {
		return nil, err
	}
	vol, ok := f.volumes[name]
	if !ok {
		return nil, fmt.Errorf("volume %q: %w", name, errdefs.ErrNotFound)
	}
	return cloneVolume(vol), nil
}

// List returns copies of the volumes carrying every label of labels,
// sorted by name.
func (v *FakeVolumes) List(_ context.Context, labels map[string]string) ([]*volmgr.Volume, error) {
	f := (*Fake)(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*volmgr.Volume
	for _, name := range slices.Sorted(maps.Keys(f.volumes)) {
		if vol := f.volumes[name]; hasLabels(vol.Labels, labels) {
			out = append(out, cloneVolume(vol))
		}
	}
	return out, nil
}

// Remove deletes the volume unless a container mounts it.
func (v *FakeVolumes) Remove(_ context.Context, name string) error {
	f := (*Fake)(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := volmgr.ValidateName(name); err != nil {
		return err
	}
	if _, ok := f.volumes[name]; !ok {
		return fmt.Errorf("volume %q: %w", name, errdefs.ErrNotFound)
	}
	if err := f.recordLocked("remove-volume", name); err != nil {
		return err
	}
	var users []string
	for _, c := range f.containers {
		if slices.ContainsFunc(c.Config.Mounts, func(m engine.Mount) bool { return m.Type == "volume" && m.Source == name }) {
			users = append(users, c.Config.Name)
		}
	}
	if len(users) > 0 {
		slices.Sort(users)
		return fmt.Errorf("volume %q is in use by container %s: %w", name, strings.Join(users, ", "), errdefs.ErrConflict)
	}
	delete(f.volumes, name)
	return nil
}

func cloneVolume(vol *volmgr.Volume) *volmgr.Volume {
	cp := *vol
	cp.Labels = maps.Clone(vol.Labels)
	cp.Options = maps.Clone(vol.Options)
	return &cp
}

// FakeImages is the image store of a Fake, implementing the reconciler's
// Images. References are checked as the image store checks them
// (image.Normalize) but not normalised: an image is known by the
// reference it was put in with.
type FakeImages Fake

// Resolve finds the image ref.
func (i *FakeImages) Resolve(_ context.Context, ref string) (*image.Image, error) {
	f := (*Fake)(i)
	if _, err := image.Normalize(ref); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[ref] {
		return nil, fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
	}
	return &image.Image{ID: f.imageIDLocked(ref)}, nil
}

// Pull puts ref in the store if the registry has it.
func (i *FakeImages) Pull(_ context.Context, ref string, _ image.PullOptions) (*image.Image, error) {
	f := (*Fake)(i)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.recordLocked("pull", ref); err != nil {
		return nil, err
	}
	if _, err := image.Normalize(ref); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	if !f.registry[ref] {
		return nil, fmt.Errorf("pull %q: manifest unknown: %w", ref, errdefs.ErrNotFound)
	}
	f.images[ref] = true
	f.pulledAt[ref] = time.Now()
	return &image.Image{ID: f.imageIDLocked(ref)}, nil
}

// LastPulled returns when Pull last fetched ref, or SetPulled says it did.
func (i *FakeImages) LastPulled(_ context.Context, ref string) (time.Time, error) {
	if _, err := image.Normalize(ref); err != nil {
		return time.Time{}, err
	}
	f := (*Fake)(i)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pulledAt[ref], nil
}

// Remove takes ref out of the store unless a container was made from it.
func (i *FakeImages) Remove(_ context.Context, ref string) error {
	f := (*Fake)(i)
	if _, err := image.Normalize(ref); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[ref] {
		return fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
	}
	if err := f.recordLocked("remove-image", ref); err != nil {
		return err
	}
	var users []string
	for _, c := range f.containers {
		if c.Config.Image == ref {
			users = append(users, c.Config.Name)
		}
	}
	if len(users) > 0 {
		slices.Sort(users)
		return fmt.Errorf("image %q is in use by container %s: %w", ref, strings.Join(users, ", "), errdefs.ErrConflict)
	}
	delete(f.images, ref)
	return nil
}
