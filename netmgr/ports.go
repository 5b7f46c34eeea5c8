package netmgr

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/netmgr/portmap"
)

// berth's chains in the nat table and the built-in chains that jump to them.
const (
	natDNAT      = "BERTH-DNAT"        // from PREROUTING and OUTPUT, for local destinations
	natPost      = "BERTH-POSTROUTING" // from POSTROUTING
	natDNATMatch = "-m addrtype --dst-type LOCAL"
)

// PortMapping publishes a port of a sandbox on the host; it is
// portmap.Mapping, parsed where the port entered berth. A mapping with no
// HostIP is published on every IPv4 address of the host and, when the
// endpoint has an IPv6 address, on every IPv6 address but ::1 (IPv6 has no
// route_localnet: reaching a container from ::1 needs a userland proxy,
// which berth does not have); an IPv4 HostIP (0.0.0.0 included) on IPv4
// only, an IPv6 one (:: included, ::1 refused) on IPv6 only. In a request
// HostPort 0 asks for an ephemeral port and HostPortEnd for a free one of a
// range; an endpoint's mappings have their host ports settled.
type PortMapping = portmap.Mapping

// hostAddrPort is port on the host address of p, 0.0.0.0 for every address.
func hostAddrPort(p PortMapping, port uint16) string {
	ip := p.HostIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(ip, port).String()
}

// hostIPOn is the host address of p on family f: HostIP, or the
// unspecified address of f.
func hostIPOn(p PortMapping, f family) netip.Addr {
	if p.HostIP.IsValid() {
		return p.HostIP.Unmap()
	}
	if f == ipv6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// onFamily reports whether p is published on family f for an endpoint
// that has an IPv6 address when has6.
func onFamily(p PortMapping, f family, has6 bool) bool {
	switch {
	case !p.HostIP.IsValid():
		return f == ipv4 || has6
	case p.HostIP.Unmap().Is4():
		return f == ipv4
	default:
		return f == ipv6
	}
}

// validatePorts checks a request for an endpoint on a network with IPv6
// when has6: a mapping as portmap makes it (protocol, ports), and a host
// address the network can publish on. It changes nothing: defaults are
// applied where the mapping was parsed.
func validatePorts(ports []PortMapping, has6 bool) error {
	for i, p := range ports {
		h := p.HostIP.Unmap()
		switch {
		case p.Protocol != portmap.TCP && p.Protocol != portmap.UDP:
			return fmt.Errorf("ports[%d]: protocol %q: want tcp or udp: %w", i, p.Protocol, errdefs.ErrInvalidArgument)
		case p.ContainerPort == 0:
			return fmt.Errorf("ports[%d]: no container port: %w", i, errdefs.ErrInvalidArgument)
		case h.IsValid() && h.Is6() && h.IsLoopback():
			return fmt.Errorf("ports[%d]: host address %s: IPv6 loopback cannot be published to (berth has no userland proxy; use 127.0.0.1): %w", i, p.HostIP, errdefs.ErrNotImplemented)
		case h.IsValid() && h.Is6() && !has6:
			return fmt.Errorf("ports[%d]: host address %s: the network has no IPv6 (enable_ipv6): %w", i, p.HostIP, errdefs.ErrInvalidArgument)
		case p.HostPortEnd != 0 && (p.HostPort == 0 || p.HostPortEnd < p.HostPort):
			return fmt.Errorf("ports[%d]: bad host port range %d-%d: %w", i, p.HostPort, p.HostPortEnd, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// overlaps reports whether two bindings claim the same host port: same
// protocol and port, on a common address family (no HostIP counts as
// both), with an unspecified or the same host address.
func overlaps(a, b PortMapping) bool {
	if a.Protocol != b.Protocol || a.HostPort != b.HostPort {
		return false
	}
	ah, bh := a.HostIP.Unmap(), b.HostIP.Unmap()
	if ah.IsValid() && bh.IsValid() && ah.Is4() != bh.Is4() {
		return false
	}
	return !ah.IsValid() || !bh.IsValid() || ah.IsUnspecified() || bh.IsUnspecified() || ah == bh
}

// portComment tags the rules of sandbox's ports on network.
func portComment(network, sandbox string) string { return "berth:" + network + "/" + sandbox }

// dnatRules are the rules of family f (after "-A BERTH-DNAT") publishing
// ports of the endpoint at addr (its address of family f; has6: it has an
// IPv6 one).
func dnatRules(f family, network, sandbox string, addr netip.Addr, ports []PortMapping, has6 bool) [][]string {
	var out [][]string
	for _, p := range ports {
		if !onFamily(p, f, has6) {
			continue
		}
		var r []string
		if h := p.HostIP.Unmap(); h.IsValid() && !h.IsUnspecified() {
			r = append(r, "-d", netip.PrefixFrom(h, h.BitLen()).String())
		}
		r = append(r, "-p", string(p.Protocol), "-m", string(p.Protocol), "--dport", strconv.Itoa(int(p.HostPort)),
			"-m", "comment", "--comment", portComment(network, sandbox),
			"-j", "DNAT", "--to-destination", netip.AddrPortFrom(addr, p.ContainerPort).String())
		out = append(out, r)
	}
	return out
}

// natPostRules are a network's rules (after "-A BERTH-POSTROUTING"):
// connections to a published port that enter the bridge from the host itself
// (127.0.0.1 or its own addresses) or from a container of the network
// (through the host's address, hairpin included) are masqueraded, so that
// the replies come back through the host and its conntrack. Outside clients
// keep their addresses.
func natPostRules(n *Network, f family) [][]string {
	c := []string{"-m", "comment", "--comment", ruleComment(n.Name)}
	dnat := []string{"-m", "conntrack", "--ctstate", "DNAT"}
	var out [][]string
	r := append([]string{"-o", n.Bridge, "-m", "addrtype", "--src-type", "LOCAL"}, dnat...)
	out = append(out, append(append(r, c...), "-j", "MASQUERADE"))
	r = append([]string{"-s", subnetOf(n, f).String(), "-o", n.Bridge}, dnat...)
	out = append(out, append(append(r, c...), "-j", "MASQUERADE"))
	return out
}

// postRules are network n's rules of family f in berth's POSTROUTING
// chain: natPostRules, and when outbound the masquerade of connections out
// of the network, unless NoMasquerade (enable_ip_masquerade=false).
func postRules(n *Network, f family, outbound bool) [][]string {
	rules := natPostRules(n, f)
	if outbound && !n.NoMasquerade {
		rules = append(rules, []string{"-s", subnetOf(n, f).String(), "!", "-o", n.Bridge, "-m", "comment", "--comment", ruleComment(n.Name), "-j", "MASQUERADE"})
	}
	return rules
}

// ruleMapping reads the host side of a DNAT rule of berth's chain of
// family f (as dnatRules writes it and iptables -S lists it). A rule for
// every address has the unspecified address of f.
func ruleMapping(rule []string, f family) (PortMapping, bool) {
	var p PortMapping
	for i := 0; i+1 < len(rule); i++ {
		switch rule[i] {
		case "-p":
			p.Protocol = portmap.Protocol(rule[i+1])
		case "-d":
			if pfx, err := netip.ParsePrefix(rule[i+1]); err == nil {
				p.HostIP = pfx.Addr()
			} else if a, err := netip.ParseAddr(rule[i+1]); err == nil {
				p.HostIP = a
			}
		case "--dport":
			n, err := strconv.ParseUint(rule[i+1], 10, 16)
			if err != nil {
				return p, false
			}
			p.HostPort = uint16(n)
		}
	}
	if !p.HostIP.IsValid() {
		p.HostIP = hostIPOn(p, f)
	}
	return p, p.Protocol != "" && p.HostPort != 0
}
