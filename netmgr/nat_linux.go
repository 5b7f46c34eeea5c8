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
	"github.com/berth-dev/berth/netmgr/portmap"
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

func (m *Manager) nat(ctx context.Context, f family, args ...string) (string, error) {
	return m.xtables(ctx, f, append([]string{"-t", "nat"}, args...)...)
}

// natRules lists the rules of chain in the nat table of family f
// (arguments after "-A <chain>") and whether it exists.
func (m *Manager) natRules(ctx context.Context, f family, chain string) (rules [][]string, exists bool, err error) {
	return (&natTable{m: m, f: f}).rules(ctx, chain)
}

// natTable is a listing of family f's nat table, read when first asked
// and again only after a change made through it: a network's removal asks
// about four chains, and usually changes none. The firewall lock must be
// held while it is used.
type natTable struct {
	m    *Manager
	f    family
	list string
	read bool
}

// rules is natRules, from the listing.
func (t *natTable) rules(ctx context.Context, chain string) (rules [][]string, exists bool, err error) {
	if !t.read {
		if t.list, err = t.m.nat(ctx, t.f, "-S"); err != nil {
			return nil, false, err
		}
		t.read = true
	}
	return parseNATRules(t.f, t.list, chain)
}

// changed says the table was changed: the next question reads it again.
func (t *natTable) changed() { t.read = false }

func parseNATRules(f family, out, chain string) (rules [][]string, exists bool, err error) {
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
			return nil, false, fmt.Errorf("%s -t nat -S: %w", f, err)
		}
		rules = append(rules, args)
	}
	return rules, exists, nil
}

// ensureNATChainsLocked creates berth's nat chains and their jump rules,
// each unless it exists. The firewall lock must be held.
func (m *Manager) ensureNATChainsLocked(ctx context.Context, f family) error {
	t, err := m.listTables(ctx, f)
	if err != nil {
		return err
	}
	cmds, err := natEnsureCmds(f, t)
	if err != nil || len(cmds) == 0 {
		return err
	}
	return m.restore(ctx, f, "nat", cmds)
}

// dropEmptyNATChainsLocked removes each of berth's nat chains that holds no
// rule, with its jump rules. The firewall lock must be held.
func (m *Manager) dropEmptyNATChainsLocked(ctx context.Context, f family) error {
	return m.dropEmptyNATChainsIn(ctx, &natTable{m: m, f: f})
}

func (m *Manager) dropEmptyNATChainsIn(ctx context.Context, t *natTable) error {
	for _, c := range natChains {
		rules, exists, err := t.rules(ctx, c.name)
		if err != nil {
			return err
		}
		if !exists || len(rules) > 0 {
			continue
		}
		for _, j := range c.jumps {
			for {
				rules, _, err := t.rules(ctx, j[0])
				if err != nil {
					return err
				}
				if !slices.ContainsFunc(rules, func(r []string) bool { return slices.Equal(r, j[1:]) }) {
					break
				}
				t.changed()
				if _, err := m.nat(ctx, t.f, append([]string{"-D", j[0]}, j[1:]...)...); err != nil {
					return err
				}
			}
		}
		t.changed()
		if _, err := m.nat(ctx, t.f, "-X", c.name); err != nil {
			return err
		}
	}
	return nil
}

// addNATLocked adds network n's masquerade rules of family f and lets its
// bridge forward and (IPv4) route 127.0.0.1 (for published ports reached
// at localhost); with Options.Outbound also its outbound masquerade and the
// host's IP forwarding. IPv6 forwarding is host-wide but for the bridge's
// force_forwarding (kernels from 6.17), set where the kernel has it and
// gone with the bridge. The firewall lock must be held.
func (m *Manager) addNATLocked(ctx context.Context, f family, n *Network) error {
	if err := m.ensureNATChainsLocked(ctx, f); err != nil {
		return err
	}
	for _, r := range postRules(n, f, m.opt.Outbound) {
		if _, err := m.nat(ctx, f, append([]string{"-A", natPost}, r...)...); err != nil {
			return err
		}
	}
	return m.bridgeSysctls(f, n)
}

// bridgeSysctls are addNATLocked's settings of family f: network n's
// bridge forwards and (IPv4) routes 127.0.0.1; with Options.Outbound the
// host forwards.
func (m *Manager) bridgeSysctls(f family, n *Network) error {
	if f == ipv6 {
		ff := filepath.Join("/proc/sys/net/ipv6/conf", n.Bridge, "force_forwarding")
		if _, err := os.Stat(ff); err == nil {
			if err := writeSysctl(ff, "1"); err != nil {
				return err
			}
		}
		if m.opt.Outbound {
			return writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")
		}
		return nil
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

// removeNATLocked removes network n's nat rules of family f (its
// masquerade rules and any DNAT rule of its endpoints), and berth's nat
// chains once empty. The firewall lock must be held.
func (m *Manager) removeNATLocked(ctx context.Context, f family, n *Network) error {
	// Also sweeps the masquerade rules of bridges that are gone (a network
	// whose clean-up was cut short): a bridge exists before its rules are
	// added and after they are removed.
	t := &natTable{m: m, f: f}
	if err := m.deleteNATRulesIn(ctx, t, natPost, func(r []string) bool { return isRuleOf(r, n) || orphanRule(r) }); err != nil {
		return err
	}
	prefix := portComment(n.Name, "")
	// The network's DNAT rules: its comment, to one of its addresses (a
	// network of the same name in another root has other addresses).
	if err := m.deleteNATRulesIn(ctx, t, natDNAT, func(r []string) bool {
		return hasCommentPrefix(r, prefix) && dnatInto(r, subnetOf(n, f))
	}); err != nil {
		return err
	}
	return m.dropEmptyNATChainsIn(ctx, t)
}

// deleteNATRulesLocked deletes the rules of chain for which match holds.
func (m *Manager) deleteNATRulesLocked(ctx context.Context, f family, chain string, match func([]string) bool) error {
	return m.deleteNATRulesIn(ctx, &natTable{m: m, f: f}, chain, match)
}

func (m *Manager) deleteNATRulesIn(ctx context.Context, t *natTable, chain string, match func([]string) bool) error {
	rules, exists, err := t.rules(ctx, chain)
	if err != nil || !exists {
		return err
	}
	var del [][]string
	for _, r := range rules {
		if match(r) {
			del = append(del, r)
		}
	}
	if len(del) == 0 {
		return nil
	}
	t.changed()
	return m.deleteRules(ctx, t.f, "nat", chain, del)
}

// orphanRule reports whether the rule names, as its -o or -i interface
// (negated or not), a berth bridge that does not exist: bridge names are
// the networks' own, so it is the rule of a network gone without its rules
// (a network's masquerade rule says "! -o" its bridge, its published ports
// "! -i").
func orphanRule(rule []string) bool {
	for i := 0; i+1 < len(rule); i++ {
		if rule[i] != "-i" && rule[i] != "-o" || !strings.HasPrefix(rule[i+1], bridgePrefix) {
			continue
		}
		_, err := netlink.LinkByName(rule[i+1])
		if _, notFound := errors.AsType[netlink.LinkNotFoundError](err); notFound {
			return true
		}
	}
	return false
}

func hasCommentPrefix(rule []string, prefix string) bool {
	for i := 0; i+1 < len(rule); i++ {
		if rule[i] == "--comment" && strings.HasPrefix(rule[i+1], prefix) {
			return true
		}
	}
	return false
}

// publish adds the DNAT rules of endpoint ep of network n, in ip6tables
// too for ports published on IPv6 (see onFamily). On error
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
	has6 := ep.Addr6.IsValid()
	for _, f := range families(n) {
		rules := dnatRules(f, n.Name, ep.Sandbox, addrOf(ep, f), ep.Ports, has6)
		if len(rules) == 0 {
			continue
		}
		err := m.applyListed(ctx, f, func(t tables) ([]tableCmds, error) {
			// Other berth roots on the host publish through the same
			// chain: their ports are in its rules, not in this root's
			// records.
			existing, _, err := parseNATRules(f, t.nat, natDNAT)
			if err != nil {
				return nil, err
			}
			for i, p := range ep.Ports {
				if !onFamily(p, f, has6) {
					continue
				}
				for _, r := range existing {
					if o, ok := ruleMapping(r, f); ok && overlaps(o, p) {
						return nil, fmt.Errorf("ports[%d]: %s is already in use: %w", i, hostAddrPort(p, p.HostPort), errdefs.ErrConflict)
					}
				}
			}
			cmds, err := natEnsureCmds(f, t)
			if err != nil {
				return nil, err
			}
			for _, r := range rules {
				l, err := cmdLine("-A "+natDNAT, r)
				if err != nil {
					return nil, err
				}
				cmds = append(cmds, l)
			}
			return []tableCmds{{"nat", cmds}}, nil
		})
		if err != nil {
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

// unpublishLocked is unpublish; the firewall lock must be held. Each
// family takes one listing and one run of iptables-restore, which also
// drops berth's nat chains left empty.
func (m *Manager) unpublishLocked(ctx context.Context, n *Network, sandbox string) error {
	c := portComment(n.Name, sandbox)
	for _, f := range families(n) {
		ours := func(r []string) bool {
			i := slices.Index(r, "--comment")
			return i >= 0 && i+1 < len(r) && r[i+1] == c && dnatInto(r, subnetOf(n, f))
		}
		err := m.applyListed(ctx, f, func(t tables) ([]tableCmds, error) {
			cmds, err := natRemovalCmds(f, t, func(chain string, r []string) bool { return chain == natDNAT && ours(r) })
			return nonEmpty(tableCmds{"nat", cmds}), err
		})
		if errors.Is(err, errNeedsQuoting) {
			if err = m.deleteNATRulesLocked(ctx, f, natDNAT, ours); err == nil {
				err = m.dropEmptyNATChainsLocked(ctx, f)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listenNet is the network name for net.Listen of proto on family f.
func listenNet(proto string, f family) string {
	if f == ipv6 {
		return proto + "6"
	}
	return proto + "4"
}

// portFree tries to bind the host port of p on each address family it is
// published on: a process of the host holding it makes errdefs.ErrConflict.
// The sockets are closed at once.
func portFree(p PortMapping, port uint16, has6 bool) error {
	for _, f := range []family{ipv4, ipv6} {
		if !onFamily(p, f, has6) {
			continue
		}
		addr := netip.AddrPortFrom(hostIPOn(p, f), port).String()
		var err error
		if p.Protocol == portmap.UDP {
			var c net.PacketConn
			if c, err = net.ListenPacket(listenNet("udp", f), addr); err == nil {
				err = c.Close()
			}
		} else {
			var l net.Listener
			if l, err = net.Listen(listenNet("tcp", f), addr); err == nil {
				err = l.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("%s is already in use: %w", addr, errdefs.ErrConflict)
		}
	}
	return nil
}

// ephemeralPort asks the kernel for a free port of the protocol at the
// host address (on IPv4 unless the address is IPv6).
func ephemeralPort(p PortMapping) (uint16, error) {
	f := ipv4
	if p.HostIP.IsValid() && !p.HostIP.Unmap().Is4() {
		f = ipv6
	}
	addr := netip.AddrPortFrom(hostIPOn(p, f), 0).String()
	if p.Protocol == portmap.UDP {
		c, err := net.ListenPacket(listenNet("udp", f), addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	l, err := net.Listen(listenNet("tcp", f), addr)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// choosePorts settles the host ports of req for an endpoint (with an IPv6
// address when has6): a given port must be free (neither published by
// berth, in nets, nor bound by a process); a range gives its first free
// port; none gives an ephemeral one.
func choosePorts(req []PortMapping, nets []*Network, has6 bool) ([]PortMapping, error) {
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
				if !usedByBerth(p) && portFree(p, p.HostPort, has6) == nil {
					break
				}
			}
		case p.HostPortEnd != 0:
			found := false
			for port := int(p.HostPort); port <= int(p.HostPortEnd); port++ {
				c := p
				c.HostPort = uint16(port)
				if !usedByBerth(c) && portFree(c, c.HostPort, has6) == nil {
					p.HostPort, found = c.HostPort, true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("ports[%d]: no free port in %s: %w", i, hostAddrPort(p, p.HostPort)+fmt.Sprintf("-%d", p.HostPortEnd), errdefs.ErrConflict)
			}
		default:
			if usedByBerth(p) {
				return nil, fmt.Errorf("ports[%d]: %s is already in use: %w", i, hostAddrPort(p, p.HostPort), errdefs.ErrConflict)
			}
			if err := portFree(p, p.HostPort, has6); err != nil {
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
