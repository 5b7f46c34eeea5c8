package dockerapi

import (
	"maps"
	"net/netip"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/netmgr"
)

// NetworkSummary is one element of `GET /networks` (`docker network ls`).
func NetworkSummary(n *netmgr.Network) network.Summary {
	out := network.Network{
		Name:       n.Name,
		ID:         n.ID,
		Created:    n.Created,
		Scope:      "local",
		Driver:     "bridge",
		EnableIPv4: true,
		EnableIPv6: n.Subnet6.IsValid(),
		IPAM:       network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{}},
		Internal:   n.Internal,
		Options:    n.DriverOptions(),
		Labels:     maps.Clone(n.Labels),
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if n.Subnet.IsValid() {
		out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	if n.Subnet6.IsValid() {
		out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet6, IPRange: n.IPRange6, Gateway: n.Gateway6})
	}
	return network.Summary{Network: out}
}

// NetworkInspect is `GET /networks/{id}`: n as `docker network inspect`
// shows it, with the containers attached to it.
func NetworkInspect(n *netmgr.Network) network.Inspect {
	out := network.Inspect{Network: NetworkSummary(n).Network, Containers: map[string]network.EndpointResource{}}
	for id, ep := range n.Endpoints {
		r := network.EndpointResource{EndpointID: id}
		if len(ep.Names) > 0 {
			r.Name = ep.Names[0]
		}
		if mac, err := parseMAC(ep.MAC); err == nil {
			r.MacAddress = mac
		}
		if ep.Addr.IsValid() {
			r.IPv4Address = netip.PrefixFrom(ep.Addr, n.Subnet.Bits())
		}
		if ep.Addr6.IsValid() {
			r.IPv6Address = netip.PrefixFrom(ep.Addr6, n.Subnet6.Bits())
		}
		out.Containers[id] = r
	}
	return out
}
