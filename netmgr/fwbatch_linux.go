package netmgr

import (
	"fmt"
	"slices"
	"strings"
)

// A network's firewall is read and changed a family at a time in two runs:
// one iptables-save listing the family's filter and nat tables, and one
// iptables-restore --noflush carrying every change to both, each table's
// applied all or none. Every run costs about as much as the next (the
// nf_tables backend loads the ruleset), and a run that deletes anything
// waits, when it exits, for the kernel to free what it deleted (an RCU
// grace period): the fewer runs, the fewer waits.

// tables is one family's listing of the filter and nat tables, each as
// iptables -S prints it ("-N CHAIN", "-P CHAIN POLICY", "-A CHAIN ARGS…").
type tables struct {
	filter, nat string
}

// parseSave reads the output of iptables-save into tables. A table that
// is not listed (no rule of the family ever used it) is empty.
func parseSave(out string) tables {
	var t tables
	var cur *strings.Builder
	var filter, nat strings.Builder
	for l := range strings.SplitSeq(out, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			switch l[1:] {
			case "filter":
				cur = &filter
			case "nat":
				cur = &nat
			default:
				cur = nil
			}
		case cur == nil, l == "COMMIT", strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, ":"):
			// ":CHAIN POLICY [packets:bytes]"; a user chain's policy is "-".
			f := strings.Fields(l[1:])
			if len(f) < 2 {
				continue
			}
			if f[1] == "-" {
				fmt.Fprintf(cur, "-N %s\n", f[0])
			} else {
				fmt.Fprintf(cur, "-P %s %s\n", f[0], f[1])
			}
		case strings.HasPrefix(l, "-A "):
			cur.WriteString(l + "\n")
		}
	}
	t.filter, t.nat = filter.String(), nat.String()
	return t
}

// tableCmds are iptables command lines ("-D CHAIN ARGS…", "-N CHAIN", …)
// for one table, in the order they are applied.
type tableCmds struct {
	table string
	cmds  []string
}

// errNeedsQuoting says a rule to change has an argument that cannot go
// into an iptables-restore line as it is: the caller changes it with
// iptables itself.
var errNeedsQuoting = fmt.Errorf("rule needs quoting")

// cmdLine is the restore line of op (such as "-D BERTH-FORWARD") and rule.
func cmdLine(op string, rule []string) (string, error) {
	if slices.ContainsFunc(rule, needsQuoting) {
		return "", errNeedsQuoting
	}
	return op + " " + strings.Join(rule, " "), nil
}

// removalCmds are the changes that remove network n's rules of family f
// from the tables t: in nat, its masquerade rules, the masquerade rules
// of bridges that are gone (orphan reports those) and its DNAT rules (its
// ports' comment, to its subnet: a network of the same name in another
// root has other addresses); in filter, its rules in berth's chain (its
// comment and bridge). Each of berth's chains left empty goes, with every
// copy of its jump rules. errNeedsQuoting if a rule to delete needs
// quoting.
func removalCmds(f family, t tables, n *Network, orphan func([]string) bool) ([]tableCmds, error) {
	prefix := portComment(n.Name, "")
	nat, err := natRemovalCmds(f, t, func(chain string, r []string) bool {
		if chain == natPost {
			return isRuleOf(r, n) || orphan(r)
		}
		return hasCommentPrefix(r, prefix) && dnatInto(r, subnetOf(n, f))
	})
	if err != nil {
		return nil, err
	}
	var filter []string
	rules, exists, err := parseChainRules(f, t.filter)
	if err != nil {
		return nil, err
	}
	if exists {
		left := len(rules)
		for _, r := range rules {
			if !isRuleOf(r, n) {
				continue
			}
			l, err := cmdLine("-D "+fwChain, r)
			if err != nil {
				return nil, err
			}
			filter = append(filter, l)
			left--
		}
		if left == 0 {
			for _, l := range lines(t.filter) {
				if l == "-A "+fwParent+" -j "+fwChain {
					filter = append(filter, "-D "+fwParent+" -j "+fwChain)
				}
			}
			filter = append(filter, "-X "+fwChain)
		}
	}
	return nonEmpty(tableCmds{"nat", nat}, tableCmds{"filter", filter}), nil
}

// natRemovalCmds are the changes to the nat table listed in t that
// delete the rules of berth's nat chains for which match holds, and each
// of those chains left empty, with every copy of its jump rules.
// errNeedsQuoting if a rule to delete needs quoting.
func natRemovalCmds(f family, t tables, match func(chain string, rule []string) bool) ([]string, error) {
	var cmds []string
	for _, c := range natChains {
		rules, exists, err := parseNATRules(f, t.nat, c.name)
		if err != nil {
			return nil, err
		}
		if !exists {
			continue
		}
		left := len(rules)
		for _, r := range rules {
			if !match(c.name, r) {
				continue
			}
			l, err := cmdLine("-D "+c.name, r)
			if err != nil {
				return nil, err
			}
			cmds = append(cmds, l)
			left--
		}
		if left > 0 {
			continue
		}
		for _, j := range c.jumps {
			parent, _, err := parseNATRules(f, t.nat, j[0])
			if err != nil {
				return nil, err
			}
			for _, r := range parent {
				if slices.Equal(r, j[1:]) {
					cmds = append(cmds, "-D "+j[0]+" "+strings.Join(j[1:], " "))
				}
			}
		}
		cmds = append(cmds, "-X "+c.name)
	}
	return cmds, nil
}

// natEnsureCmds are the changes to the nat table listed in t that make
// berth's nat chains and their jump rules, each unless it exists.
func natEnsureCmds(f family, t tables) ([]string, error) {
	var cmds []string
	for _, c := range natChains {
		if _, exists, err := parseNATRules(f, t.nat, c.name); err != nil {
			return nil, err
		} else if !exists {
			cmds = append(cmds, "-N "+c.name)
		}
		for _, j := range c.jumps {
			parent, _, err := parseNATRules(f, t.nat, j[0])
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(parent, func(r []string) bool { return slices.Equal(r, j[1:]) }) {
				cmds = append(cmds, "-I "+j[0]+" 1 "+strings.Join(j[1:], " "))
			}
		}
	}
	return cmds, nil
}

// additionCmds are the changes that add network n's rules of family f to
// the tables t: berth's filter chain and its jump rule at the top of
// FORWARD unless they exist, then the network's rules (networkRules, placed
// by addRuleArgs); for a network that is not internal, berth's nat chains
// and their jump rules unless they exist, then its masquerade rules
// (postRules).
func additionCmds(f family, t tables, n *Network, outbound bool) ([]tableCmds, error) {
	var nat []string
	if !n.Internal {
		var err error
		if nat, err = natEnsureCmds(f, t); err != nil {
			return nil, err
		}
		for _, r := range postRules(n, f, outbound) {
			l, err := cmdLine("-A "+natPost, r)
			if err != nil {
				return nil, err
			}
			nat = append(nat, l)
		}
	}
	var filter []string
	ls := lines(t.filter)
	if !slices.Contains(ls, "-N "+fwChain) {
		filter = append(filter, "-N "+fwChain)
	}
	if !slices.Contains(ls, "-A "+fwParent+" -j "+fwChain) {
		filter = append(filter, "-I "+fwParent+" 1 -j "+fwChain)
	}
	for _, r := range networkRules(n, outbound) {
		args := addRuleArgs(n, r)
		l, err := cmdLine(args[0], args[1:])
		if err != nil {
			return nil, err
		}
		filter = append(filter, l)
	}
	return nonEmpty(tableCmds{"nat", nat}, tableCmds{"filter", filter}), nil
}

// nonEmpty is the tables of tcs that have commands, in order.
func nonEmpty(tcs ...tableCmds) []tableCmds {
	return slices.DeleteFunc(tcs, func(tc tableCmds) bool { return len(tc.cmds) == 0 })
}

// restoreInput is the input of iptables-restore --noflush applying tcs.
func restoreInput(tcs []tableCmds) string {
	var b strings.Builder
	for _, tc := range tcs {
		b.WriteString("*" + tc.table + "\n")
		for _, c := range tc.cmds {
			b.WriteString(c + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}
