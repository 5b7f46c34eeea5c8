package netmgr

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// berth's chain in the filter table and the built-in chain that jumps to it.
const (
	fwChain  = "BERTH-FORWARD"
	fwParent = "FORWARD"
)

// ruleComment tags every rule of the network name, so clean-up can find it.
func ruleComment(name string) string { return "berth:" + name }

// networkRules lists the rules of network n in berth's chain, as iptables
// arguments after "-A BERTH-FORWARD", in order. Traffic between containers of
// the network is accepted (bridged traffic crosses FORWARD when br_netfilter
// is on, whatever FORWARD's policy), dropped with NoICC; an Internal network drops everything
// else from or to its bridge; replies to connections out of the bridge are
// accepted. Other networks accept connections to their published ports
// (DNAT) and, when outbound, connections out of the bridge; when not
// outbound, new connections out of the bridge are dropped except those to
// published ports (the bridge forwards, for published ports reached from
// containers, on this network or another).
func networkRules(n *Network, outbound bool) [][]string {
	br := n.Bridge
	c := []string{"-m", "comment", "--comment", ruleComment(n.Name)}
	rule := func(parts ...[]string) []string {
		var r []string
		for _, p := range parts {
			r = append(r, p...)
		}
		return r
	}
	icc := "ACCEPT"
	if n.NoICC {
		icc = "DROP" // enable_icc=false, as Docker's bridge driver
	}
	rules := [][]string{
		rule([]string{"-i", br, "-o", br}, c, []string{"-j", icc}),
	}
	if n.Internal {
		rules = append(rules,
			rule([]string{"-i", br, "!", "-o", br}, c, []string{"-j", "DROP"}),
			rule([]string{"!", "-i", br, "-o", br}, c, []string{"-j", "DROP"}),
		)
	}
	if !n.Internal {
		rules = append(rules,
			rule([]string{"-o", br, "-m", "conntrack", "--ctstate", "DNAT"}, c, []string{"-j", "ACCEPT"}))
	}
	rules = append(rules,
		rule([]string{"-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"}, c, []string{"-j", "ACCEPT"}))
	switch {
	case n.Internal:
	case outbound:
		rules = append(rules, rule([]string{"-i", br, "!", "-o", br}, c, []string{"-j", "ACCEPT"}))
	default:
		// Connections to published ports (DNAT) pass: they may go to
		// another network's bridge, whose rules may come after these.
		rules = append(rules,
			rule([]string{"-i", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"}, c, []string{"-j", "ACCEPT"}),
			rule([]string{"-i", br, "!", "-o", br, "-m", "conntrack", "!", "--ctstate", "DNAT"}, c, []string{"-j", "DROP"}))
	}
	return rules
}

// addRuleArgs is the iptables command that adds rule r of network n to
// berth's chain: appended, except an internal network's DROP rules, which
// go to the top. Another network's ACCEPT rules (a published port's DNAT,
// outbound traffic) come before later ones, and once the host forwards
// (another network's outbound NAT turned ip_forward on, which turns on
// forwarding on every bridge, the internal one's too) only the order keeps
// an internal network's containers from reaching them.
func addRuleArgs(n *Network, r []string) []string {
	if n.Internal && len(r) > 0 && r[len(r)-1] == "DROP" {
		return append([]string{"-I", fwChain, "1"}, r...)
	}
	return append([]string{"-A", fwChain}, r...)
}

// isRuleOf reports whether the rule (as listed by iptables -S, split) belongs
// to network n: it carries n's comment and names n's bridge.
func isRuleOf(rule []string, n *Network) bool {
	var comment, bridge bool
	for i := 0; i+1 < len(rule); i++ {
		switch rule[i] {
		case "--comment":
			comment = comment || rule[i+1] == ruleComment(n.Name)
		case "-i", "-o", "--in-interface", "--out-interface":
			bridge = bridge || rule[i+1] == n.Bridge
		}
	}
	return comment && bridge
}

// splitRule splits a rule as printed by iptables -S into arguments: words
// separated by spaces, double quotes grouping, backslash escaping the next
// character inside quotes.
func splitRule(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord, inQuote := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
			inWord = true
		case c == ' ' && !inQuote:
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unbalanced quotes in rule %q", s)
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// family is an IP version: which of iptables and ip6tables a rule goes to.
type family int

const (
	ipv4 family = iota
	ipv6
)

func (f family) String() string {
	if f == ipv6 {
		return "ip6tables"
	}
	return "iptables"
}

// families are the IP versions of network n: IPv4, and IPv6 if it has an
// IPv6 subnet.
func families(n *Network) []family {
	if n.Subnet6.IsValid() {
		return []family{ipv4, ipv6}
	}
	return []family{ipv4}
}

// subnetOf is network n's subnet of family f (zero if it has none).
func subnetOf(n *Network, f family) netip.Prefix {
	if f == ipv6 {
		return n.Subnet6
	}
	return n.Subnet
}

// addrOf is endpoint ep's address of family f (zero if it has none).
func addrOf(ep Endpoint, f family) netip.Addr {
	if f == ipv6 {
		return ep.Addr6
	}
	return ep.Addr
}

// dnatInto reports whether the DNAT rule sends to an address in subnet.
func dnatInto(rule []string, subnet netip.Prefix) bool {
	i := slices.Index(rule, "--to-destination")
	if i < 0 || i+1 >= len(rule) {
		return false
	}
	to := rule[i+1]
	if ap, err := netip.ParseAddrPort(to); err == nil {
		return subnet.Contains(ap.Addr())
	}
	a, err := netip.ParseAddr(strings.Trim(to, "[]"))
	return err == nil && subnet.Contains(a)
}
