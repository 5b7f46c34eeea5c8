package netmgr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/flock"
	"github.com/containerd/errdefs"
)

// undoTimeout bounds the clean-up after a failed step, which runs on a
// context that is not cancelled with the caller's.
const undoTimeout = 30 * time.Second

// addFirewall adds the network's rules to berth's chain (in ip6tables too
// for a network with IPv6), creating the chain and its jump rule first if
// needed, and for a network that is not internal its masquerade rules and
// its bridge's settings (as addNATLocked). Each family takes one listing
// and one run of iptables-restore (additionCmds). On error nothing of the
// network's is left behind (and the chain is removed if it is empty).
func (m *Manager) addFirewall(ctx context.Context, n *Network) (retErr error) {
	unlock, err := flock.Lock(ctx, m.opt.FirewallLock)
	if err != nil {
		return fmt.Errorf("network %q: firewall lock: %w", n.Name, err)
	}
	defer unlock()
	defer func() {
		if retErr != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
			defer cancel()
			retErr = errors.Join(retErr, m.removeFirewallLocked(cctx, n))
		}
	}()
	err = m.eachFamily(ctx, n, func(ctx context.Context, f family) error {
		err := m.applyListed(ctx, f, func(t tables) ([]tableCmds, error) {
			return additionCmds(f, t, n, m.opt.Outbound)
		})
		if err != nil || n.Internal {
			return err
		}
		return m.bridgeSysctls(f, n)
	})
	if err != nil {
		return err
	}
	return fail("firewall")
}

// removeFirewall removes the network's rules, and the chain and its jump rule
// when no rule is left. Missing rules or chain count as removed.
func (m *Manager) removeFirewall(ctx context.Context, n *Network) error {
	unlock, err := flock.Lock(ctx, m.opt.FirewallLock)
	if err != nil {
		return fmt.Errorf("network %q: firewall lock: %w", n.Name, err)
	}
	defer unlock()
	return m.removeFirewallLocked(ctx, n)
}

// removeFirewallLocked is removeFirewall; the firewall lock must be held.
// Rules are found by their comment and bridge, so the rules of a network of
// the same name in another berth root are left alone. Each family takes
// one listing and one run of iptables-restore (removalCmds); a rule that
// needs quoting there (made by hand) sends its family through iptables, a
// command at a time.
func (m *Manager) removeFirewallLocked(ctx context.Context, n *Network) error {
	return m.eachFamily(ctx, n, func(ctx context.Context, f family) error {
		err := m.applyListed(ctx, f, func(t tables) ([]tableCmds, error) {
			return removalCmds(f, t, n, orphanRule)
		})
		if !errors.Is(err, errNeedsQuoting) {
			return err
		}
		if err := m.removeNATLocked(ctx, f, n); err != nil {
			return err
		}
		return m.deleteChainRulesLocked(ctx, f, func(r []string) bool { return isRuleOf(r, n) })
	})
}

// eachFamily runs do for each family of network n, one after the other
// (on the caller's thread: a caller inside a network namespace keeps its
// commands there); an error is the network's.
func (m *Manager) eachFamily(ctx context.Context, n *Network, do func(context.Context, family) error) error {
	for _, f := range families(n) {
		if err := do(ctx, f); err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
	}
	return nil
}

// applyListed lists family f's tables and applies the changes cmds makes
// of the listing, in one run of iptables-restore. A run that fails (the
// tables changed since the listing, by a tool that does not take berth's
// lock) is tried once more from a new listing. The firewall lock must be
// held.
func (m *Manager) applyListed(ctx context.Context, f family, cmds func(tables) ([]tableCmds, error)) error {
	for try := 0; ; try++ {
		t, err := m.listTables(ctx, f)
		if err != nil {
			return err
		}
		tcs, err := cmds(t)
		if err != nil || len(tcs) == 0 {
			return err
		}
		if err := fail("firewall-listed"); err != nil {
			return err
		}
		err = m.restoreAll(ctx, f, tcs)
		if err == nil || try == 1 || ctx.Err() != nil {
			return err
		}
		m.log.Debug("firewall changed since listed: listing again", "family", f.String(), "err", err)
	}
}

// listTables lists family f's filter and nat tables in one run of
// iptables-save.
func (m *Manager) listTables(ctx context.Context, f family) (tables, error) {
	bin := f.String() + "-save"
	m.log.Debug(bin)
	cmd := exec.CommandContext(ctx, bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return tables{}, fmt.Errorf("%s: %w: %w", bin, err, errdefs.ErrUnavailable)
		}
		return tables{}, fmt.Errorf("%s: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	return parseSave(stdout.String()), nil
}

// deleteChainRulesLocked deletes the rules of berth's filter chain of
// family f for which match holds, and the chain with its jump rule once it
// is empty. The firewall lock must be held.
//
// When the chain is left empty (the last network goes), its rules, every
// copy of the jump rule and the chain go in one run of iptables-restore,
// from the one listing of the table: two runs of iptables instead of six.
func (m *Manager) deleteChainRulesLocked(ctx context.Context, f family, match func([]string) bool) error {
	out, err := m.xtables(ctx, f, "-S")
	if err != nil {
		return err
	}
	rules, exists, err := parseChainRules(f, out)
	if err != nil {
		return err
	}
	if !exists {
		return nil // the jump rule cannot exist without the chain
	}
	var del [][]string
	for _, r := range rules {
		if match(r) {
			del = append(del, r)
		}
	}
	if len(del) < len(rules) {
		return m.deleteRules(ctx, f, "filter", fwChain, del)
	}
	if slices.ContainsFunc(del, func(r []string) bool { return slices.ContainsFunc(r, needsQuoting) }) {
		if err := m.deleteRules(ctx, f, "filter", fwChain, del); err != nil {
			return err
		}
		return m.dropChainLocked(ctx, f)
	}
	var batch []string
	for _, r := range del {
		batch = append(batch, "-D "+fwChain+" "+strings.Join(r, " "))
	}
	for _, l := range lines(out) {
		if l == "-A "+fwParent+" -j "+fwChain {
			batch = append(batch, "-D "+fwParent+" -j "+fwChain)
		}
	}
	return m.restore(ctx, f, "filter", append(batch, "-X "+fwChain))
}

// deleteRules deletes rules (each the arguments after "-A chain") from
// chain of table, which lists them: a network's four rules in one run of
// iptables-restore --noflush, which applies them all or none, rather than
// in one run of iptables each. A rule that would need quoting there is
// deleted on its own. The firewall lock must be held.
func (m *Manager) deleteRules(ctx context.Context, f family, table, chain string, rules [][]string) error {
	one := func(r []string) error {
		_, err := m.xtables(ctx, f, append([]string{"-t", table, "-D", chain}, r...)...)
		return err
	}
	var batch []string
	for _, r := range rules {
		if len(rules) == 1 || slices.ContainsFunc(r, needsQuoting) {
			if err := one(r); err != nil {
				return err
			}
			continue
		}
		batch = append(batch, "-D "+chain+" "+strings.Join(r, " "))
	}
	if len(batch) == 0 {
		return nil
	}
	return m.restore(ctx, f, table, batch)
}

// restore applies cmds (iptables command lines, such as "-D CHAIN ARGS…",
// none needing quoting) to table in one run of iptables-restore
// --noflush, which applies them all or none. The firewall lock must be
// held.
func (m *Manager) restore(ctx context.Context, f family, table string, cmds []string) error {
	return m.restoreAll(ctx, f, []tableCmds{{table, cmds}})
}

// restoreAll applies the commands of each table of tcs in one run of
// iptables-restore --noflush, each table's all or none, in order. The
// firewall lock must be held.
func (m *Manager) restoreAll(ctx context.Context, f family, tcs []tableCmds) error {
	input := restoreInput(tcs)
	bin := f.String() + "-restore"
	args := []string{"-w", "--noflush"}
	m.log.Debug(bin, "args", args, "input", input)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s: %w: %w", bin, err, errdefs.ErrUnavailable)
		}
		return fmt.Errorf("%s --noflush: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// needsQuoting reports whether arg cannot go into an iptables-restore line
// as it is.
func needsQuoting(arg string) bool {
	return arg == "" || strings.ContainsAny(arg, " \t\n\"'\\#")
}

// ensureChainLocked creates berth's chain and the jump rule to it at the top
// of FORWARD, each unless it exists. The firewall lock must be held.
func (m *Manager) ensureChainLocked(ctx context.Context, f family) error {
	out, err := m.xtables(ctx, f, "-S")
	if err != nil {
		return err
	}
	if !slices.Contains(lines(out), "-N "+fwChain) {
		if _, err := m.xtables(ctx, f, "-N", fwChain); err != nil {
			return err
		}
	}
	has, err := m.hasJump(ctx, f)
	if err != nil || has {
		return err
	}
	_, err = m.xtables(ctx, f, "-I", fwParent, "1", "-j", fwChain)
	return err
}

// dropChainLocked removes the jump rule (every copy) and the chain. The
// firewall lock must be held.
func (m *Manager) dropChainLocked(ctx context.Context, f family) error {
	for {
		has, err := m.hasJump(ctx, f)
		if err != nil {
			return err
		}
		if !has {
			break
		}
		if _, err := m.xtables(ctx, f, "-D", fwParent, "-j", fwChain); err != nil {
			return err
		}
	}
	_, err := m.xtables(ctx, f, "-X", fwChain)
	return err
}

func (m *Manager) hasJump(ctx context.Context, f family) (bool, error) {
	out, err := m.xtables(ctx, f, "-S", fwParent)
	if err != nil {
		return false, err
	}
	return slices.Contains(lines(out), "-A "+fwParent+" -j "+fwChain), nil
}

// parseChainRules lists the rules of berth's chain in out, the filter
// table's listing, each as the arguments after "-A BERTH-FORWARD", and
// whether the chain exists.
func parseChainRules(f family, out string) (rules [][]string, exists bool, err error) {
	for _, l := range lines(out) {
		if l == "-N "+fwChain {
			exists = true
			continue
		}
		rest, ok := strings.CutPrefix(l, "-A "+fwChain+" ")
		if !ok {
			continue
		}
		args, err := splitRule(rest)
		if err != nil {
			return nil, false, fmt.Errorf("%s -S: %w", f, err)
		}
		rules = append(rules, args)
	}
	return rules, exists, nil
}

// iptables runs the iptables binary on the filter table, waiting for the
// xtables lock, and returns its standard output.
func (m *Manager) iptables(ctx context.Context, args ...string) (string, error) {
	return m.xtables(ctx, ipv4, args...)
}

// xtables runs iptables or ip6tables (by family) as iptables does.
func (m *Manager) xtables(ctx context.Context, f family, args ...string) (string, error) {
	bin := f.String()
	args = append([]string{"-w"}, args...)
	m.log.Debug(bin, "args", args)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("%s: %w: %w", bin, err, errdefs.ErrUnavailable)
		}
		return "", fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func lines(s string) []string {
	return strings.Split(strings.TrimSpace(s), "\n")
}
