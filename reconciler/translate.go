package reconciler

import (
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// ContainerName is the name of container number n of service s, as Docker
// Compose names it.
func ContainerName(p *spec.Project, s *spec.Service, n int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return fmt.Sprintf("%s-%s-%d", p.Name, s.Name, n)
}

// ContainerConfig translates container number n of service s into the
// engine's terms. It is pure: the same inputs give the same config.
func ContainerConfig(p *spec.Project, s *spec.Service, n int) (engine.ContainerConfig, error) {
	return containerConfig(p, s, n, spec.ConfigHash(*s))
}

// containerConfig is ContainerConfig for a caller that has s's
// spec.ConfigHash already: hash.
func containerConfig(p *spec.Project, s *spec.Service, n int, hash string) (engine.ContainerConfig, error) {
	c := engine.ContainerConfig{
		Name:       ContainerName(p, s, n),
		Image:      s.Image,
		Entrypoint: s.Entrypoint,
		Cmd:        s.Command,
		Env:        s.Environment,
		WorkingDir: s.WorkingDir,
		User:       s.User,
		Hostname:   s.Hostname,
		Init:       s.Init,
		StopSignal: s.StopSignal,
	}
	if s.StopGracePeriod != nil {
		d := *s.StopGracePeriod
		c.StopTimeout = &d
	}
	c.Labels = maps.Clone(s.Labels)
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	maps.Copy(c.Labels, map[string]string{
		spec.LabelProject:         p.Name,
		spec.LabelService:         s.Name,
		spec.LabelContainerNumber: strconv.Itoa(n),
		spec.LabelOneOff:          spec.LabelFalse,
		spec.LabelConfigHash:      hash,
		spec.LabelWorkingDir:      p.WorkingDir,
		spec.LabelConfigFiles:     strings.Join(p.ComposeFiles, ","),
		spec.LabelImage:           s.Image,
	})
	for _, apply := range []func(*spec.Project, *spec.Service, *engine.ContainerConfig) error{
		translateRuntime, translateNetwork, translateData,
	} {
		if err := apply(p, s, &c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// parseExtraHost reads "name=ip" or "name:ip" (the IP may be IPv6).
func parseExtraHost(h string) (engine.HostEntry, error) {
	name, ip, ok := strings.Cut(h, "=")
	if !ok {
		name, ip, ok = strings.Cut(h, ":")
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if !ok || name == "" {
		return engine.HostEntry{}, fmt.Errorf("%q is not HOST=IP: %w", h, errdefs.ErrInvalidArgument)
	}
	if ip != "host-gateway" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return engine.HostEntry{}, fmt.Errorf("%q: %q is not an IP address: %w", h, ip, errdefs.ErrInvalidArgument)
		}
	}
	return engine.HostEntry{IP: ip, Names: []string{name}}, nil
}

func projectVolume(p *spec.Project, key string) (spec.Volume, bool) {
	for _, v := range p.Volumes {
		if v.Key == key {
			return v, true
		}
	}
	return spec.Volume{}, false
}

func projectNetwork(p *spec.Project, key string) (spec.Network, bool) {
	for _, n := range p.Networks {
		if n.Key == key {
			return n, true
		}
	}
	return spec.Network{}, false
}
