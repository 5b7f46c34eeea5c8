package reconciler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/spec"
)

// translateNetwork sets the container's networks, addresses and host entries.
func translateNetwork(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	c.ExposedPorts = slices.Clone(s.Expose)
	for _, sn := range s.Networks {
		nw, ok := projectNetwork(p, sn.Name)
		if !ok {
			return fmt.Errorf("service %q: network %q is not declared in the project: %w", s.Name, sn.Name, errdefs.ErrInvalidArgument)
		}
		aliases := slices.Clone(sn.Aliases)
		if !sn.NoServiceAlias {
			aliases = append([]string{s.Name}, aliases...)
		}
		ep := engine.EndpointConfig{
			Network: nw.Name, Aliases: aliases,
			MacAddress: sn.MacAddress, Priority: sn.Priority, GwPriority: sn.GwPriority,
		}
		if sn.IPv4Address != "" {
			a, err := netip.ParseAddr(sn.IPv4Address)
			if err != nil {
				return fmt.Errorf("service %q: networks.%s.ipv4_address: %q is not an IP address: %w", s.Name, sn.Name, sn.IPv4Address, errdefs.ErrInvalidArgument)
			}
			ep.Address = a
		}
		if sn.IPv6Address != "" {
			a, err := netip.ParseAddr(sn.IPv6Address)
			if err != nil || a.Is4() || a.Is4In6() {
				return fmt.Errorf("service %q: networks.%s.ipv6_address: %q is not an IPv6 address: %w", s.Name, sn.Name, sn.IPv6Address, errdefs.ErrInvalidArgument)
			}
			if !nw.EnableIPv6 {
				return fmt.Errorf("service %q: networks.%s.ipv6_address: network %q has no enable_ipv6: %w", s.Name, sn.Name, sn.Name, errdefs.ErrInvalidArgument)
			}
			ep.Address6 = a
		}
		if err := endpointExtras(s, sn, &ep); err != nil {
			return err
		}
		c.Networks = append(c.Networks, ep)
	}
	if s.MacAddress != "" && len(c.Networks) > 0 {
		// The service's mac_address is the one of its first network.
		first := 0
		for i, ep := range c.Networks {
			if ep.Priority > c.Networks[first].Priority {
				first = i
			}
		}
		if c.Networks[first].MacAddress == "" {
			c.Networks[first].MacAddress = s.MacAddress
		}
	}
	if err := translateNetworkMode(p, s, c); err != nil {
		return err
	}
	for _, pt := range s.Ports {
		c.Ports = append(c.Ports, pt.Mapping) // parsed by spec; as it is
	}
	c.DNS = append([]string(nil), s.DNS...)
	c.DNSSearch = append([]string(nil), s.DNSSearch...)
	c.DNSOptions = append([]string(nil), s.DNSOpt...)
	for i, h := range s.ExtraHosts {
		e, err := parseExtraHost(h)
		if err != nil {
			return fmt.Errorf("service %q: extra_hosts[%d]: %w", s.Name, i, err)
		}
		c.ExtraHosts = append(c.ExtraHosts, e)
	}
	return nil
}

// translateNetworkMode sets network_mode: host, none, or the namespace of
// another container ("service:NAME" naming the service's first container).
// "bridge" joins the engine's default network, as Docker's default bridge.
func translateNetworkMode(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	switch mode := s.NetworkMode; {
	case mode == "":
		return nil
	case mode == "bridge":
		// Docker's default bridge: the engine's, shared with `berth
		// container run`, made and removed with the containers on it. As
		// on Docker's, the service's name is no alias there.
		c.NetworkMode, c.Networks = "", []engine.EndpointConfig{{Network: engine.DefaultNetwork}}
		return nil
	case mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:") || strings.HasPrefix(mode, "service:"):
		m, err := namespaceMode(p, s, "network_mode", mode)
		if err != nil {
			return err
		}
		c.NetworkMode, c.Networks = m, nil
		if len(s.Ports) > 0 {
			return fmt.Errorf("service %q: network_mode %q: ports cannot be published: %w", s.Name, mode, errdefs.ErrInvalidArgument)
		}
		return nil
	default:
		return fmt.Errorf("service %q: network_mode %q: want host, none, service:NAME or container:NAME: %w", s.Name, mode, errdefs.ErrInvalidArgument)
	}
}

// NetworkConfig is the network manager's configuration of a project
// network: enable_ipv6, its ipam.config (at most one IPv4 and, with
// enable_ipv6, one IPv6 subnet, each with gateway and ip_range; an IPv6
// network without an IPv6 subnet gets one from berth's IPv6 pool, as
// Docker's does from its default pools) and driver_opts
// (com.docker.network.driver.mtu, com.docker.network.bridge.name).
func NetworkConfig(n spec.Network, labels map[string]string) (netmgr.NetworkConfig, error) {
	cfg := netmgr.NetworkConfig{Name: n.Name, Labels: labels, Internal: n.Internal, EnableIPv6: n.EnableIPv6}
	var seen4, seen6 bool
	for i, sub := range n.Subnets {
		field := fmt.Sprintf("networks.%s.ipam.config[%d]", n.Key, i)
		pfx, err := netip.ParsePrefix(sub.Subnet)
		if err != nil || pfx.Addr().Is4In6() {
			return cfg, fmt.Errorf("%s.subnet: %q is not a CIDR: %w", field, sub.Subnet, errdefs.ErrInvalidArgument)
		}
		is6 := pfx.Addr().Is6()
		switch {
		case is6 && !n.EnableIPv6:
			return cfg, fmt.Errorf("%s.subnet: %s is an IPv6 subnet; it needs enable_ipv6: true: %w", field, pfx, errdefs.ErrInvalidArgument)
		case is6 && seen6, !is6 && seen4:
			return cfg, fmt.Errorf("%s.subnet: %s: one IPv4 and one IPv6 subnet are supported: %w", field, pfx, errdefs.ErrNotImplemented)
		}
		var gw netip.Addr
		if sub.Gateway != "" {
			if gw, err = netip.ParseAddr(sub.Gateway); err != nil || gw.Is6() != is6 {
				return cfg, fmt.Errorf("%s.gateway: %q is not an address of subnet %s's family: %w", field, sub.Gateway, pfx, errdefs.ErrInvalidArgument)
			}
		}
		var r netip.Prefix
		if sub.IPRange != "" {
			if r, err = netip.ParsePrefix(sub.IPRange); err != nil || r.Addr().Is6() != is6 {
				return cfg, fmt.Errorf("%s.ip_range: %q is not a CIDR of subnet %s's family: %w", field, sub.IPRange, pfx, errdefs.ErrInvalidArgument)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(sub.AuxAddresses)) {
			a, err := netip.ParseAddr(sub.AuxAddresses[name])
			if err != nil || !pfx.Contains(a) {
				return cfg, fmt.Errorf("%s.aux_addresses.%s: %q is not an address of subnet %s: %w", field, name, sub.AuxAddresses[name], pfx, errdefs.ErrInvalidArgument)
			}
			cfg.AuxAddresses = append(cfg.AuxAddresses, a)
		}
		if is6 {
			cfg.Subnet6, cfg.Gateway6, cfg.IPRange6, seen6 = pfx, gw, r, true
		} else {
			cfg.Subnet, cfg.Gateway, cfg.IPRange, seen4 = pfx, gw, r, true
		}
	}
	if err := cfg.SetDriverOptions(n.DriverOpts); err != nil {
		return cfg, fmt.Errorf("networks.%s.driver_opts.%w", n.Key, err)
	}
	return cfg, nil
}
