package netmgr

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFirewallConverges runs in a scratch network namespace, whose tables
// hold nothing but what berth puts there, so the whole of them can be
// checked: two networks' rules and berth's chains are made (and made whole
// again after a rule was deleted by hand), each network's
// removal takes its own rules only, and the last one's takes berth's chains
// and jump rules too, also when a rule was deleted by hand before the
// removal or while it ran (between its listing and its change), and when a
// rule made by hand needs quoting.
func TestFirewallConverges(t *testing.T) {
	e := newEnv(t)
	m, err := New(Options{Root: t.TempDir(), RunDir: e.run, FirewallLock: filepath.Join(t.TempDir(), "fw.lock")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { failpoint = nil }()
	if err := inScratchNetns(func() error { return firewallScenario(t, m, e.name) }); err != nil {
		t.Fatal(err)
	}
}

func firewallScenario(t *testing.T, m *Manager, name func(string) string) error {
	ctx := t.Context()
	save := func() (tables, string, error) {
		out, err := exec.Command("iptables-save").Output()
		return parseSave(string(out)), string(out), err
	}
	run := func(args ...string) error {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	// has reports whether chain of the listing holds every rule of want.
	has := func(list, chain string, want [][]string) (bool, error) {
		rules, _, err := parseNATRules(ipv4, list, chain)
		for _, w := range want {
			if !slices.ContainsFunc(rules, func(r []string) bool { return slices.Equal(r, w) }) {
				return false, err
			}
		}
		return true, err
	}
	web, err := m.Create(ctx, NetworkConfig{Name: name("web")})
	if err != nil {
		return err
	}
	db, err := m.Create(ctx, NetworkConfig{Name: name("db"), Internal: true})
	if err != nil {
		return err
	}
	tb, _, err := save()
	if err != nil {
		return err
	}
	for _, c := range []struct {
		list, chain string
		want        [][]string
	}{
		{tb.filter, fwChain, append(networkRules(web, false), networkRules(db, false)...)},
		{tb.filter, fwParent, [][]string{{"-j", fwChain}}},
		{tb.nat, natPost, postRules(web, ipv4, false)},
		{tb.nat, "POSTROUTING", [][]string{{"-j", natPost}}},
	} {
		if ok, err := has(c.list, c.chain, c.want); err != nil || !ok {
			return fmt.Errorf("after Create, %s lacks %q (%v):\n%s", c.chain, c.want, err, c.list)
		}
	}

	// Rules of web deleted by hand (a Create cut short): repaired, as when
	// its first sandbox connects.
	wr, wp := networkRules(web, false), postRules(web, ipv4, false)
	if err := run(append([]string{"iptables", "-w", "-D", fwChain}, wr[len(wr)-1]...)...); err != nil {
		return err
	}
	if err := run(append([]string{"iptables", "-w", "-t", "nat", "-D", natPost}, wp[0]...)...); err != nil {
		return err
	}
	if err := m.repairFirewall(ctx, web); err != nil {
		return fmt.Errorf("repair web: %w", err)
	}
	if tb, _, err = save(); err != nil {
		return err
	}
	if ok, err := has(tb.filter, fwChain, wr); err != nil || !ok {
		return fmt.Errorf("after repair, web's filter rules are not whole (%v):\n%s", err, tb.filter)
	}
	if ok, err := has(tb.nat, natPost, wp); err != nil || !ok {
		return fmt.Errorf("after repair, web's nat rules are not whole (%v):\n%s", err, tb.nat)
	}

	// A rule of web deleted by hand: its removal takes the rest.
	if err := run(append([]string{"iptables", "-w", "-D", fwChain}, networkRules(web, false)[0]...)...); err != nil {
		return err
	}
	if err := m.Remove(ctx, web.Name); err != nil {
		return fmt.Errorf("remove web: %w", err)
	}
	tb, out, err := save()
	if err != nil {
		return err
	}
	if strings.Contains(out, web.Bridge) || strings.Contains(out, natPost) {
		return fmt.Errorf("after web's removal, web's rules or %s left:\n%s", natPost, out)
	}
	if ok, err := has(tb.filter, fwChain, networkRules(db, false)); err != nil || !ok {
		return fmt.Errorf("after web's removal, db's rules are not whole (%v):\n%s", err, out)
	}

	// A rule of db deleted by hand between the removal's listing and its
	// change: the change fails and is made again from a new listing.
	listed := 0
	failpoint = func(s string) error {
		if s != "firewall-listed" {
			return nil
		}
		listed++
		if listed > 1 {
			return nil
		}
		return run(append([]string{"iptables", "-w", "-D", fwChain}, networkRules(db, false)[0]...)...)
	}
	err = m.Remove(ctx, db.Name)
	failpoint = nil
	if err != nil {
		return fmt.Errorf("remove db: %w", err)
	}
	if listed != 2 {
		return fmt.Errorf("db's removal listed the tables %d times, want 2 (one failed change, one made again)", listed)
	}
	if _, out, err = save(); err != nil || strings.Contains(out, "BERTH") {
		return fmt.Errorf("after the last removal, berth's chains are left (%v):\n%s", err, out)
	}

	// A rule of the network made by hand that iptables-restore cannot take
	// as it is: removed by iptables, a rule at a time.
	q, err := m.Create(ctx, NetworkConfig{Name: name("q"), Internal: true})
	if err != nil {
		return err
	}
	if err := run("iptables", "-w", "-A", fwChain, "-i", q.Bridge, "-m", "comment", "--comment", ruleComment(q.Name),
		"-m", "comment", "--comment", "made by hand", "-j", "ACCEPT"); err != nil {
		return err
	}
	if err := m.Remove(ctx, q.Name); err != nil {
		return fmt.Errorf("remove q: %w", err)
	}
	if _, out, err = save(); err != nil || strings.Contains(out, "BERTH") {
		return errors.Join(err, fmt.Errorf("after q's removal, berth's chains are left:\n%s", out))
	}
	return nil
}
