package netmgr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/flock"
)

// repairFirewall finishes the firewall of network n whose bridge is whole
// but whose addFirewall was cut short (berth killed in between): it
// appends the network's missing rules to berth's chain (what is there is a
// prefix of them, so the order holds) and, for a network that is not
// internal, makes its masquerade rules and its bridge's settings again
// when any is missing. The rules of its published ports are left alone.
// Only a network no sandbox is connected to is checked: a Create cut short
// leaves one, and the check (one listing of the tables) costs more than the
// rest of a connection. Takes the firewall lock; the network lock must be held.
func (m *Manager) repairFirewall(ctx context.Context, n *Network) error {
	if len(n.Endpoints) > 0 {
		return nil
	}
	unlock, err := flock.Lock(ctx, m.opt.FirewallLock)
	if err != nil {
		return fmt.Errorf("network %q: firewall lock: %w", n.Name, err)
	}
	defer unlock()
	for _, f := range families(n) {
		t, err := m.listTables(ctx, f)
		if err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
		have, exists, err := parseChainRules(f, t.filter)
		if err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
		for _, r := range networkRules(n, m.opt.Outbound) {
			if exists && slices.ContainsFunc(have, func(h []string) bool { return slices.Equal(h, r) }) {
				continue
			}
			if !exists {
				if err := m.ensureChainLocked(ctx, f); err != nil {
					return fmt.Errorf("network %q: %w", n.Name, err)
				}
				exists = true
			}
			m.log.Warn("network firewall half made: repairing", "network", n.Name, "rule", strings.Join(r, " "))
			if _, err := m.xtables(ctx, f, addRuleArgs(n, r)...); err != nil {
				return fmt.Errorf("network %q: %w", n.Name, err)
			}
		}
		if n.Internal {
			continue
		}
		post, _, err := parseNATRules(f, t.nat, natPost)
		if err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
		whole := f == ipv6 || sysctlIs(filepath.Join("/proc/sys/net/ipv4/conf", n.Bridge, "route_localnet"), "1")
		for _, r := range natPostRules(n, f) {
			whole = whole && slices.ContainsFunc(post, func(h []string) bool { return slices.Equal(h, r) })
		}
		if whole {
			continue
		}
		m.log.Warn("network masquerade half made: repairing", "network", n.Name)
		if err := m.deleteNATRulesLocked(ctx, f, natPost, func(r []string) bool { return isRuleOf(r, n) }); err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
		if err := m.addNATLocked(ctx, f, n); err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
	}
	return nil
}

func sysctlIs(path, value string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(b)) == value
}
