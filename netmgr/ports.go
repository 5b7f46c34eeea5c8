package netmgr

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/containerd/errdefs"
)

// berth's chains in the nat table and the built-in chains that jump to them.
const (
	natDNAT      = "BERTH-DNAT"        // from PREROUTING and OUTPUT, for local destinations
	natPost      = "BERTH-POSTROUTING" // from POSTROUTING
	natDNATMatch = "-m addrtype --dst-type LOCAL"
)

// PortMapping publishes a port of a sandbox on the host.
type PortMapping struct {
	HostIP        netip.Addr `json:"host_ip,omitzero"`       // zero: every address of the host
	HostPort      uint16     `json:"host_port"`              // 0 in a request: one chosen from the ephemeral range
	HostPortEnd   uint16     `json:"host_port_end,omitzero"` // request only: choose a free port in HostPort..HostPortEnd
	ContainerPort uint16     `json:"container_port"`
	Protocol      string     `json:"protocol"` // "tcp" or "udp"
}

// String is the binding as Docker prints it: 0.0.0.0:8080->80/tcp.
func (p PortMapping) String() string {
	return fmt.Sprintf("%s->%d/%s", p.hostAddrPort(p.HostPort), p.ContainerPort, p.Protocol)
}

func (p PortMapping) hostIP() netip.Addr {
	if p.HostIP.IsValid() {
		return p.HostIP
	}
	return netip.IPv4Unspecified()
}

func (p PortMapping) hostAddrPort(port uint16) string {
	return netip.AddrPortFrom(p.hostIP(), port).String()
}

// validatePorts checks a request: protocol, ports, IPv4 host address.
func validatePorts(ports []PortMapping) error {
	for i, p := range ports {
		switch {
		case p.Protocol != "tcp" && p.Protocol != "udp":
			return fmt.Errorf("ports[%d]: protocol %q: want tcp or udp: %w", i, p.Protocol, errdefs.ErrInvalidArgument)
		case p.ContainerPort == 0:
			return fmt.Errorf("ports[%d]: no container port: %w", i, errdefs.ErrInvalidArgument)
		case p.HostIP.IsValid() && !p.HostIP.Unmap().Is4():
			return fmt.Errorf("ports[%d]: host address %s: only IPv4 is supported: %w", i, p.HostIP, errdefs.ErrNotImplemented)
		case p.HostPortEnd != 0 && (p.HostPort == 0 || p.HostPortEnd < p.HostPort):
			return fmt.Errorf("ports[%d]: bad host port range %d-%d: %w", i, p.HostPort, p.HostPortEnd, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// overlaps reports whether two bindings claim the same host port.
func overlaps(a, b PortMapping) bool {
	if a.Protocol != b.Protocol || a.HostPort != b.HostPort {
		return false
	}
	return !a.HostIP.IsValid() || !b.HostIP.IsValid() || a.HostIP.IsUnspecified() || b.HostIP.IsUnspecified() || a.HostIP == b.HostIP
}

// portComment tags the rules of sandbox's ports on network.
func portComment(network, sandbox string) string { return "berth:" + network + "/" + sandbox }

// dnatRules are the rules (after "-A BERTH-DNAT") publishing ports of the
// endpoint at addr.
func dnatRules(network, sandbox string, addr netip.Addr, ports []PortMapping) [][]string {
	var out [][]string
	for _, p := range ports {
		var r []string
		if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
			r = append(r, "-d", p.HostIP.String()+"/32")
		}
		r = append(r, "-p", p.Protocol, "-m", p.Protocol, "--dport", strconv.Itoa(int(p.HostPort)),
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
func natPostRules(n *Network) [][]string {
	c := []string{"-m", "comment", "--comment", ruleComment(n.Name)}
	dnat := []string{"-m", "conntrack", "--ctstate", "DNAT"}
	var out [][]string
	r := append([]string{"-o", n.Bridge, "-m", "addrtype", "--src-type", "LOCAL"}, dnat...)
	out = append(out, append(append(r, c...), "-j", "MASQUERADE"))
	r = append([]string{"-s", n.Subnet.String(), "-o", n.Bridge}, dnat...)
	out = append(out, append(append(r, c...), "-j", "MASQUERADE"))
	return out
}

// ruleMapping reads the host side of a DNAT rule of berth's chain (as
// dnatRules writes it and iptables -S lists it).
func ruleMapping(rule []string) (PortMapping, bool) {
	var p PortMapping
	for i := 0; i+1 < len(rule); i++ {
		switch rule[i] {
		case "-p":
			p.Protocol = rule[i+1]
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
	return p, p.Protocol != "" && p.HostPort != 0
}
