package netmgr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/flock"
	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
)

// natChain is one of berth's chains in the nat table and the jump rules
// into it (arguments after "-A <parent>").
type natChain struct {
	name  string
	jumps [][]string // [parent, args…]
}

var natChains = []natChain{
	{natDNAT, [][]string{
		{"PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", natDNAT},
		{"OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", natDNAT},
	}},
	{natPost, [][]string{{"POSTROUTING", "-j", natPost}}},
}

func (m *Manager) nat(ctx context.Context, args ...string) (string, error) {
	return m.iptables(ctx, append([]string{"-t", "nat"}, args...)...)
}

// natRules lists the rules of chain in the nat table (arguments after
// "-A <chain>") and whether it exists.
func (m *Manager) natRules(ctx context.Context, chain string) (rules [][]string, exists bool, err error) {
	out, err := m.nat(ctx, "-S")
	if err != nil {
		return nil, false, err
	}
	for _, l := range lines(out) {
		if l == "-N "+chain {
			exists = true
			continue
		}
		rest, ok := strings.CutPrefix(l, "-A "+chain+" ")
		if !ok {
			continue
		}
		args, err := splitRule(rest)
		if err != nil {
			return nil, false, fmt.Errorf("iptables -t nat -S: %w", err)
		}
		rules = append(rules, args)
	}
	return rules, exists, nil
}

// ensureNATChainsLocked creates berth's nat chains and their jump rules,
// each unless it exists. The firewall lock must be held.
func (m *Manager) ensureNATChainsLocked(ctx context.Context) error {
	for _, c := range natChains {
		_, exists, err := m.natRules(ctx, c.name)
		if err != nil {
			return err
		}
		if !exists {
			if _, err := m.nat(ctx, "-N", c.name); err != nil {
				return err
			}
		}
		for _, j := range c.jumps {
			rules, _, err := m.natRules(ctx, j[0])
			if err != nil {
				return err
			}
			if slices.ContainsFunc(rules, func(r []string) bool { return slices.Equal(r, j[1:]) }) {
				continue
			}
			if _, err := m.nat(ctx, append([]string{"-I", j[0], "1"}, j[1:]...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropEmptyNATChainsLocked removes each of berth's nat chains that holds no
// rule, with its jump rules. The firewall lock must be held.
func (m *Manager) dropEmptyNATChainsLocked(ctx context.Context) error {
	for _, c := range natChains {
		rules, exists, err := m.natRules(ctx, c.name)
		if err != nil {
			return err
		}
		if !exists || len(rules) > 0 {
			continue
		}
		for _, j := range c.jumps {
			for {
				rules, _, err := m.natRules(ctx, j[0])
				if err != nil {
					return err
				}
				if !slices.ContainsFunc(rules, func(r []string) bool { return slices.Equal(r, j[1:]) }) {
					break
				}
				if _, err := m.nat(ctx, append([]string{"-D", j[0]}, j[1:]...)...); err != nil {
					return err
				}
			}
		}
		if _, err := m.nat(ctx, "-X", c.name); err != nil {
			return err
		}
	}
	return nil
}

// addNATLocked adds network n's masquerade rules and lets its bridge
// forward and route 127.0.0.1 (for published ports reached at localhost);
// with Options.Outbound also its outbound masquerade and the host's IP
// forwarding. The firewall lock must be held.
func (m *Manager) addNATLocked(ctx context.Context, n *Network) error {
	if err := m.ensureNATChainsLocked(ctx); err != nil {
		return err
	}
	rules := natPostRules(n)
	if m.opt.Outbound {
		rules = append(rules, []string{"-s", n.Subnet.String(), "!", "-o", n.Bridge, "-m", "comment", "--comment", ruleComment(n.Name), "-j", "MASQUERADE"})
	}
	for _, r := range rules {
		if _, err := m.nat(ctx, append([]string{"-A", natPost}, r...)...); err != nil {
			return err
		}
	}
	for _, k := range []string{"forwarding", "route_localnet"} {
		if err := writeSysctl(filepath.Join("/proc/sys/net/ipv4/conf", n.Bridge, k), "1"); err != nil {
			return err
		}
	}
	if m.opt.Outbound {
		if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
	}
	return nil
}

// removeNATLocked removes network n's nat rules (its masquerade rules and
// any DNAT rule of its endpoints), and berth's nat chains once empty. The
// firewall lock must be held.
func (m *Manager) removeNATLocked(ctx context.Context, n *Network) error {
	// Also sweeps the masquerade rules of bridges that are gone (a network
	// whose clean-up was cut short): a bridge exists before its rules are
	// added and after they are removed.
	if err := m.deleteNATRulesLocked(ctx, natPost, func(r []string) bool { return isRuleOf(r, n) || orphanRule(r) }); err != nil {
		return err
	}
	prefix := portComment(n.Name, "")
	if err := m.deleteNATRulesLocked(ctx, natDNAT, func(r []string) bool { return hasCommentPrefix(r, prefix) }); err != nil {
		return err
	}
	return m.dropEmptyNATChainsLocked(ctx)
}

// deleteNATRulesLocked deletes the rules of chain for which match holds.
func (m *Manager) deleteNATRulesLocked(ctx context.Context, chain string, match func([]string) bool) error {
	rules, exists, err := m.natRules(ctx, chain)
	if err != nil || !exists {
		return err
	}
	for _, r := range rules {
		if !match(r) {
			continue
		}
		if _, err := m.nat(ctx, append([]string{"-D", chain}, r...)...); err != nil {
			return err
		}
	}
	return nil
}

// orphanRule reports whether the rule sends to a berth bridge that does not
// exist.
func orphanRule(rule []string) bool {
	i := slices.Index(rule, "-o")
	if i < 0 || i+1 >= len(rule) || (i > 0 && rule[i-1] == "!") || !strings.HasPrefix(rule[i+1], bridgePrefix) {
		return false
	}
	_, err := netlink.LinkByName(rule[i+1])
	_, notFound := errors.AsType[netlink.LinkNotFoundError](err)
	return notFound
}

func hasCommentPrefix(rule []string, prefix string) bool {
	for i := 0; i+1 < len(rule); i++ {
		if rule[i] == "--comment" && strings.HasPrefix(rule[i+1], prefix) {
			return true
		}
	}
	return false
}

// publishLocked adds the DNAT rules of endpoint ep of network n. On error
// none is left. The network lock must be held; it takes the firewall lock.
func (m *Manager) publish(ctx context.Context, n *Network, ep Endpoint) (retErr error) {
	if len(ep.Ports) == 0 {
		return nil
	}
	unlock, err := flock.Lock(ctx, m.opt.FirewallLock)
	if err != nil {
		return fmt.Errorf("firewall lock: %w", err)
	}
	defer unlock()
	defer func() {
		if retErr != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
			defer cancel()
			retErr = errors.Join(retErr, m.unpublishLocked(cctx, n, ep.Sandbox))
		}
	}()
	if err := m.ensureNATChainsLocked(ctx); err != nil {
		return err
	}
	// Other berth roots on the host publish through the same chain: their
	// ports are in its rules, not in this root's records.
	existing, _, err := m.natRules(ctx, natDNAT)
	if err != nil {
		return err
	}
	for i, p := range ep.Ports {
		for _, r := range existing {
			if o, ok := ruleMapping(r); ok && overlaps(o, p) {
				return fmt.Errorf("ports[%d]: %s is already in use: %w", i, p.hostAddrPort(p.HostPort), errdefs.ErrConflict)
			}
		}
	}
	for _, r := range dnatRules(n.Name, ep.Sandbox, ep.Addr, ep.Ports) {
		if _, err := m.nat(ctx, append([]string{"-A", natDNAT}, r...)...); err != nil {
			return err
		}
	}
	return fail("publish")
}

// unpublish removes the DNAT rules of sandbox on network n.
func (m *Manager) unpublish(ctx context.Context, n *Network, sandbox string) error {
	unlock, err := flock.Lock(ctx, m.opt.FirewallLock)
	if err != nil {
		return fmt.Errorf("firewall lock: %w", err)
	}
	defer unlock()
	return m.unpublishLocked(ctx, n, sandbox)
}

func (m *Manager) unpublishLocked(ctx context.Context, n *Network, sandbox string) error {
	c := portComment(n.Name, sandbox)
	if err := m.deleteNATRulesLocked(ctx, natDNAT, func(r []string) bool {
		i := slices.Index(r, "--comment")
		return i >= 0 && i+1 < len(r) && r[i+1] == c
	}); err != nil {
		return err
	}
	return m.dropEmptyNATChainsLocked(ctx)
}

// portFree tries to bind the host port of p: a process of the host holding
// it makes errdefs.ErrConflict. The socket is closed at once.
func portFree(p PortMapping, port uint16) error {
	addr := p.hostAddrPort(port)
	var err error
	if p.Protocol == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp4", addr); err == nil {
			return c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp4", addr); err == nil {
			return l.Close()
		}
	}
	return fmt.Errorf("%s is already in use: %w", addr, errdefs.ErrConflict)
}

// ephemeralPort asks the kernel for a free port of the protocol at the
// host address.
func ephemeralPort(p PortMapping) (uint16, error) {
	addr := netip.AddrPortFrom(p.hostIP(), 0).String()
	if p.Protocol == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// choosePorts settles the host ports of req: a given port must be free
// (neither published by berth, in nets, nor bound by a process); a range
// gives its first free port; none gives an ephemeral one.
func choosePorts(req []PortMapping, nets []*Network) ([]PortMapping, error) {
	var taken []PortMapping
	for _, n := range nets {
		for _, ep := range n.Endpoints {
			taken = append(taken, ep.Ports...)
		}
	}
	usedByBerth := func(p PortMapping) bool {
		return slices.ContainsFunc(taken, func(t PortMapping) bool { return overlaps(t, p) })
	}
	out := make([]PortMapping, 0, len(req))
	for i, p := range req {
		p.HostIP = p.HostIP.Unmap()
		switch {
		case p.HostPort == 0:
			var err error
			for range 16 {
				if p.HostPort, err = ephemeralPort(p); err != nil {
					return nil, fmt.Errorf("ports[%d]: %w", i, err)
				}
				if !usedByBerth(p) {
					break
				}
			}
		case p.HostPortEnd != 0:
			found := false
			for port := int(p.HostPort); port <= int(p.HostPortEnd); port++ {
				c := p
				c.HostPort = uint16(port)
				if !usedByBerth(c) && portFree(c, c.HostPort) == nil {
					p.HostPort, found = c.HostPort, true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("ports[%d]: no free port in %s: %w", i, p.hostAddrPort(p.HostPort)+fmt.Sprintf("-%d", p.HostPortEnd), errdefs.ErrConflict)
			}
		default:
			if usedByBerth(p) {
				return nil, fmt.Errorf("ports[%d]: %s is already in use: %w", i, p.hostAddrPort(p.HostPort), errdefs.ErrConflict)
			}
			if err := portFree(p, p.HostPort); err != nil {
				return nil, fmt.Errorf("ports[%d]: %w", i, err)
			}
		}
		p.HostPortEnd = 0
		taken = append(taken, p)
		out = append(out, p)
	}
	return out, nil
}

func writeSysctl(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s: %w", path, err)
	}
	return nil
}
