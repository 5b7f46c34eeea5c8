package reconciler

import (
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// translateNetwork sets the container's networks, addresses and host entries.
func translateNetwork(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	for _, sn := range s.Networks {
		nw, ok := projectNetwork(p, sn.Name)
		if !ok {
			return fmt.Errorf("service %q: network %q is not declared in the project: %w", s.Name, sn.Name, errdefs.ErrInvalidArgument)
		}
		ep := engine.EndpointConfig{Network: nw.Name, Aliases: append([]string{s.Name}, sn.Aliases...)}
		if sn.IPv4Address != "" {
			a, err := netip.ParseAddr(sn.IPv4Address)
			if err != nil {
				return fmt.Errorf("service %q: networks.%s.ipv4_address: %q is not an IP address: %w", s.Name, sn.Name, sn.IPv4Address, errdefs.ErrInvalidArgument)
			}
			ep.Address = a
		}
		c.Networks = append(c.Networks, ep)
	}
	for i, h := range s.ExtraHosts {
		e, err := parseExtraHost(h)
		if err != nil {
			return fmt.Errorf("service %q: extra_hosts[%d]: %w", s.Name, i, err)
		}
		c.ExtraHosts = append(c.ExtraHosts, e)
	}
	return nil
}
