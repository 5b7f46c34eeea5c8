package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
	"github.com/berth-dev/berth/volmgr"
)

// OneOffVolumePrefix starts the names of a one-off container's anonymous
// volumes.
const OneOffVolumePrefix = "berth-run-"

// OneOff is the container of `run`: a service's container config as the
// caller changed it (OneOffConfig, then the command line's overrides).
type OneOff struct {
	Service string
	Config  engine.ContainerConfig
}

// run plans a one-off container of a service, as docker compose run: the
// service's dependencies brought up as up would (unless NoDeps), the
// networks and named volumes it uses, a new anonymous volume per anonymous
// mount, and the container, created and started once what it depends on
// meets its condition. The service's own containers are left alone.
func (b *builder) run() error {
	o := b.opt.OneOff
	i := slices.IndexFunc(b.desired.Services, func(s spec.Service) bool { return s.Name == o.Service })
	if i < 0 {
		return fmt.Errorf("no such service: %s: %w", o.Service, errdefs.ErrNotFound)
	}
	s := &b.desired.Services[i]
	var deps []*spec.Service
	if !b.opt.NoDeps {
		b.opt.Services = nil
		for _, d := range s.DependsOn {
			if slices.ContainsFunc(b.desired.Services, func(x spec.Service) bool { return x.Name == d.Service }) {
				b.opt.Services = append(b.opt.Services, d.Service)
			}
		}
		if len(b.opt.Services) > 0 {
			var err error
			if deps, err = b.selected(); err != nil {
				return err
			}
		}
	}
	all := append(slices.Clone(deps), s)
	pulled, err := b.images(all)
	if err != nil || b.opt.ImagesOnly {
		return err
	}
	// Project volumes the command line mounts (run -v KEY:/path) are made
	// too.
	var extra []string
	for _, m := range o.Config.Mounts {
		for _, v := range b.desired.Volumes {
			if m.Type == "volume" && m.Source == v.Name {
				extra = append(extra, v.Key)
			}
		}
	}
	if err := b.resources(all, extra, pulled); err != nil {
		return err
	}
	b.startServices(deps)
	for _, d := range deps {
		if err := b.upService(d); err != nil {
			return err
		}
	}
	if len(deps) > 0 {
		b.orphans()
	}
	cfg := o.Config
	cfg.Mounts = slices.Clone(cfg.Mounts)
	cfg.Labels = maps.Clone(cfg.Labels)
	after := b.serviceAfter(s)
	cafter := slices.Clone(after)
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if m.Type != "volume" || m.Source != "" {
			continue
		}
		m.Source = oneOffVolumeName(cfg.Name, m.Target)
		cafter = append(cafter, b.add(CreateVolume{Name: m.Source, Labels: map[string]string{
			spec.LabelProject: b.desired.Name, spec.LabelService: s.Name, volmgr.LabelAnonymous: "",
		}}, after...))
	}
	b.add(CreateContainer{Service: s.Name, Config: cfg, Start: true}, cafter...)
	if b.opt.RemoveOrphans {
		b.orphans() // run --remove-orphans
	}
	return nil
}

// oneOffVolumeName names the anonymous volume at target of the one-off
// container called name: new for every one-off (names are), yet derived,
// so that a plan stays a pure function of its inputs.
func oneOffVolumeName(name, target string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + target))
	return OneOffVolumePrefix + hex.EncodeToString(sum[:16])
}

// OneOffConfig is the configuration of a one-off container of service s
// called name, as docker compose run makes it from the service's: labelled
// as a one-off with no container number, never restarted, publishing the
// service's ports only with servicePorts and answering to its aliases only
// with useAliases.
func OneOffConfig(p *spec.Project, s *spec.Service, name string, servicePorts, useAliases bool) (engine.ContainerConfig, error) {
	cfg, err := ContainerConfig(p, s, 1)
	if err != nil {
		return cfg, err
	}
	cfg.Name = name
	cfg.Labels[spec.LabelOneOff] = spec.LabelTrue
	delete(cfg.Labels, spec.LabelContainerNumber)
	cfg.Restart = engine.RestartPolicy{}
	if !servicePorts {
		cfg.Ports = nil
	}
	if !useAliases {
		for i := range cfg.Networks {
			cfg.Networks[i].Aliases = nil
		}
	}
	return cfg, nil
}
