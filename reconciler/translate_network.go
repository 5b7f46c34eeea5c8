package reconciler

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/spec"
)

// translateNetwork sets the container's networks, addresses and host entries.
func translateNetwork(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	for _, sn := range s.Networks {
		nw, ok := projectNetwork(p, sn.Name)
		if !ok {
			return fmt.Errorf("service %q: network %q is not declared in the project: %w", s.Name, sn.Name, errdefs.ErrInvalidArgument)
		}
		ep := engine.EndpointConfig{
			Network: nw.Name, Aliases: append([]string{s.Name}, sn.Aliases...),
			MacAddress: sn.MacAddress, Priority: sn.Priority, GwPriority: sn.GwPriority,
		}
		if sn.IPv4Address != "" {
			a, err := netip.ParseAddr(sn.IPv4Address)
			if err != nil {
				return fmt.Errorf("service %q: networks.%s.ipv4_address: %q is not an IP address: %w", s.Name, sn.Name, sn.IPv4Address, errdefs.ErrInvalidArgument)
			}
			ep.Address = a
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
	for i, pt := range s.Ports {
		proto := pt.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return fmt.Errorf("service %q: ports[%d]: protocol %q is not supported (tcp, udp): %w", s.Name, i, pt.Protocol, errdefs.ErrNotImplemented)
		}
		c.Ports = append(c.Ports, engine.PortBinding{HostIP: pt.HostIP, HostPort: pt.Published, ContainerPort: pt.Target, Protocol: proto})
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
// Docker's default bridge ("bridge") does not exist in berth.
func translateNetworkMode(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	switch mode := s.NetworkMode; {
	case mode == "":
		return nil
	case mode == "bridge":
		return fmt.Errorf("service %q: network_mode %q: berth has no default bridge; use the project's networks: %w", s.Name, mode, errdefs.ErrNotImplemented)
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
// network: its ipam.config (one IPv4 subnet, gateway, ip_range) and
// driver_opts (com.docker.network.driver.mtu,
// com.docker.network.bridge.name).
func NetworkConfig(n spec.Network, labels map[string]string) (netmgr.NetworkConfig, error) {
	cfg := netmgr.NetworkConfig{Name: n.Name, Labels: labels, Internal: n.Internal}
	if n.EnableIPv6 {
		return cfg, fmt.Errorf("networks.%s.enable_ipv6: IPv6 is not supported yet: %w", n.Key, errdefs.ErrNotImplemented)
	}
	if len(n.Subnets) > 1 {
		return cfg, fmt.Errorf("networks.%s.ipam.config: one subnet is supported, not %d: %w", n.Key, len(n.Subnets), errdefs.ErrNotImplemented)
	}
	for _, sub := range n.Subnets {
		pfx, err := netip.ParsePrefix(sub.Subnet)
		if err != nil || !pfx.Addr().Is4() {
			return cfg, fmt.Errorf("networks.%s.ipam.config[0].subnet: %q is not an IPv4 CIDR: %w", n.Key, sub.Subnet, errdefs.ErrInvalidArgument)
		}
		cfg.Subnet = pfx
		if sub.Gateway != "" {
			if cfg.Gateway, err = netip.ParseAddr(sub.Gateway); err != nil {
				return cfg, fmt.Errorf("networks.%s.ipam.config[0].gateway: %q is not an IP address: %w", n.Key, sub.Gateway, errdefs.ErrInvalidArgument)
			}
		}
		if sub.IPRange != "" {
			if cfg.IPRange, err = netip.ParsePrefix(sub.IPRange); err != nil {
				return cfg, fmt.Errorf("networks.%s.ipam.config[0].ip_range: %q is not a CIDR: %w", n.Key, sub.IPRange, errdefs.ErrInvalidArgument)
			}
		}
	}
	for k, v := range n.DriverOpts {
		switch k {
		case "com.docker.network.driver.mtu":
			mtu, err := strconv.Atoi(v)
			if err != nil {
				return cfg, fmt.Errorf("networks.%s.driver_opts.%s: %q is not a number: %w", n.Key, k, v, errdefs.ErrInvalidArgument)
			}
			cfg.MTU = mtu
		case "com.docker.network.bridge.name":
			cfg.BridgeName = v
		default:
			return cfg, fmt.Errorf("networks.%s.driver_opts.%s: not supported (com.docker.network.driver.mtu, com.docker.network.bridge.name): %w", n.Key, k, errdefs.ErrNotImplemented)
		}
	}
	return cfg, nil
}
