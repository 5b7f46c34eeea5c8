package netmgr

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/flock"
)

// Prune removes this root's unused networks (no sandbox connected, not in
// opt.Keep, carrying opt.Labels), as `docker network prune` does; then it
// sweeps the host of what interrupted berth runs left that no record
// names. A bridge is orphaned when its alias (see bridgeAlias) names a
// state root that no longer exists, or names this root but no record of
// this root has it; a bridge without such an alias (another tool's, an
// older berth's, or one whose alias the kernel truncated) is never
// touched, so other roots' networks are safe, whoever runs them. An
// orphaned bridge goes with its host-side veths (and so their peers) and
// with the DNAT rules that send to its subnets; berth's filter and
// masquerade rules naming a berth bridge that does not exist go too (a
// live network's bridge exists before its rules and after they are gone,
// both under the firewall lock). Failures are joined; what could be
// removed is.
func (m *Manager) Prune(ctx context.Context, opt PruneOptions) (*PruneReport, error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	nets, err := m.readAll()
	if err != nil {
		return nil, err
	}
	rep := &PruneReport{}
	var errs []error
	for _, n := range nets {
		if len(n.Endpoints) > 0 || slices.Contains(opt.Keep, n.Name) || !hasLabels(n, opt.Labels) {
			continue
		}
		if err := m.removeLocked(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Networks = append(rep.Networks, n.Name)
	}
	// Re-read: the sweep must see this root's records as they are now.
	if nets, err = m.readAll(); err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	subnets, err := m.sweepBridges(nets, rep)
	errs = append(errs, err)
	errs = append(errs, m.sweepRules(ctx, subnets, rep))
	return rep, errors.Join(errs...)
}

func hasLabels(n *Network, labels map[string]string) bool {
	for k, v := range labels {
		if got, ok := n.Labels[k]; !ok || v != "" && got != v {
			return false
		}
	}
	return true
}

// orphanedBy reports whether the bridge named br with the alias alias is
// orphaned, given this root's records (see Prune), and its network's name.
func (m *Manager) orphanedBy(br, alias string, nets []*Network) (string, bool) {
	network, root, ok := parseBridgeAlias(alias)
	if !ok {
		return "", false
	}
	if root == m.opt.Root {
		i := slices.IndexFunc(nets, func(n *Network) bool { return n.Name == network })
		return network, i < 0 || nets[i].Bridge != br
	}
	_, err := os.Stat(root)
	return network, errors.Is(err, os.ErrNotExist)
}

// sweepBridges deletes the orphaned bridges with their host-side veths and
// returns the subnets the bridges carried, by network name (for their DNAT
// rules).
func (m *Manager) sweepBridges(nets []*Network, rep *PruneReport) (map[string][]netip.Prefix, error) {
	links, err := dump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("prune: list links: %w", err)
	}
	subnets := map[string][]netip.Prefix{}
	var errs []error
	for _, l := range links {
		a := l.Attrs()
		if l.Type() != "bridge" || !strings.HasPrefix(a.Name, bridgePrefix) {
			continue
		}
		network, orphan := m.orphanedBy(a.Name, a.Alias, nets)
		if !orphan {
			continue
		}
		addrs, err := dump(func() ([]netlink.Addr, error) { return netlink.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			errs = append(errs, fmt.Errorf("prune: bridge %s: %w", a.Name, err))
			continue
		}
		for _, ad := range addrs {
			if p, ok := prefixFromIPNet(ad.IPNet); ok && !p.Addr().IsLinkLocalUnicast() {
				subnets[network] = append(subnets[network], p.Masked())
			}
		}
		for _, v := range links {
			va := v.Attrs()
			if va.MasterIndex != a.Index || v.Type() != "veth" || !strings.HasPrefix(va.Name, vethPrefix) {
				continue
			}
			if err := deleteLink(va.Name); err != nil {
				errs = append(errs, fmt.Errorf("prune: %w", err))
				continue
			}
			rep.Veths = append(rep.Veths, va.Name)
		}
		if err := deleteLink(a.Name); err != nil {
			errs = append(errs, fmt.Errorf("prune: %w", err))
			continue
		}
		m.log.Info("orphaned bridge removed", "bridge", a.Name, "network", network, "alias", a.Alias)
		rep.Bridges = append(rep.Bridges, a.Name)
	}
	return subnets, errors.Join(errs...)
}

// sweepRules deletes, in both families, berth's filter and masquerade
// rules that name a berth bridge that does not exist, and the DNAT rules of
// the swept networks (by comment and destination subnet); then berth's
// chains if they are empty.
func (m *Manager) sweepRules(ctx context.Context, swept map[string][]netip.Prefix, rep *PruneReport) error {
	unlock, err := flock.Lock(ctx, m.opt.FirewallLock)
	if err != nil {
		return fmt.Errorf("prune: firewall lock: %w", err)
	}
	defer unlock()
	var errs []error
	for _, f := range []family{ipv4, ipv6} {
		if f == ipv6 && ipv6Available() != nil {
			continue
		}
		count := func(match func([]string) bool) func([]string) bool {
			return func(r []string) bool {
				if match(r) {
					rep.Rules++
					return true
				}
				return false
			}
		}
		if err := m.deleteChainRulesLocked(ctx, f, count(namesMissingBridge)); err != nil {
			if !errdefs.IsUnavailable(err) {
				errs = append(errs, fmt.Errorf("prune: %w", err))
			}
			continue // no such binary: nothing of berth's in that family
		}
		if err := m.deleteNATRulesLocked(ctx, f, natPost, count(func(r []string) bool { return hasCommentPrefix(r, "berth:") && orphanRule(r) })); err != nil {
			errs = append(errs, fmt.Errorf("prune: %w", err))
		}
		if err := m.deleteNATRulesLocked(ctx, f, natDNAT, count(func(r []string) bool {
			for network, subs := range swept {
				if hasCommentPrefix(r, portComment(network, "")) && slices.ContainsFunc(subs, func(p netip.Prefix) bool { return dnatInto(r, p) }) {
					return true
				}
			}
			return false
		})); err != nil {
			errs = append(errs, fmt.Errorf("prune: %w", err))
		}
		if err := m.dropEmptyNATChainsLocked(ctx, f); err != nil {
			errs = append(errs, fmt.Errorf("prune: %w", err))
		}
	}
	return errors.Join(errs...)
}

// namesMissingBridge reports whether a rule of berth's filter chain carries
// a berth comment and names (-i/-o) a berth bridge that does not exist.
func namesMissingBridge(rule []string) bool {
	return hasCommentPrefix(rule, "berth:") && orphanRule(rule)
}
