package engine

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// FuzzHostsResolvConf renders /etc/hosts and /etc/resolv.conf from
// arbitrary names, aliases, addresses, search domains and options (lists
// are comma-separated) and a host resolv.conf. Properties: no panic; every
// line of the hosts file is an address and names, each one field that was
// given whole (a name holding a newline or a space cannot add a line or a
// name); every line of resolv.conf is a line of the host's file or a
// nameserver, search or options line whose fields were given whole.
func FuzzHostsResolvConf(f *testing.F) {
	hostConf := "# generated\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch example.com\noptions edns0\n"
	f.Add("aaa0123456789", "p-web-1", "web,p-web-1", "10.213.0.2", "10.9.9.9", "db.example,db", []byte(hostConf), "192.0.2.1", "svc.local", "ndots:2,timeout:1")
	f.Add("", "solo", "", "fe80::1%eth0", "::1", "me", []byte("nameserver ::1\n"), "", ".", "")
	f.Add("a b", "x\ny", "z\n10.0.0.1 evil,#c", "10.0.0.2", "10.0.0.3\n10.6.6.6", "evil\tname", []byte(""), "1.1.1.1\nnameserver 6.6.6.6", "a\nnameserver 6.6.6.6", "ndots:1 rotate")
	f.Add("h", "n", "", "fe80::1%x\n6.6.6.6 evil", "fe80::2%y z", "n2", []byte("search lan\n"), "fe80::3%q\nsearch evil", "", "")
	f.Fuzz(func(t *testing.T, hostname, name, aliases, addr, extraIP, extraNames string, host []byte, dns, search, options string) {
		ep := endpointRecord{Network: "n", Aliases: split(aliases)}
		if a, err := netip.ParseAddr(addr); err == nil {
			ep.Address, ep.Address6 = a, a
		}
		m := hostsMember{
			id: "self", name: name, hostname: hostname,
			extra: []HostEntry{{IP: extraIP, Names: split(extraNames)}},
			eps:   []endpointRecord{ep},
		}
		peer := m
		peer.id = "peer"
		hosts := string(renderHosts(m, []hostsMember{m, peer}))
		givenNames := append([]string{hostname, name}, append(split(aliases), split(extraNames)...)...)
		givenAddrs := []string{ep.Address.String(), extraIP}
		checkHosts(t, hosts, givenNames, givenAddrs)

		// The resolver is a network's gateway, never an address with a zone.
		resolver := ep.Address.WithZone("")
		c := ContainerConfig{DNS: split(dns), DNSSearch: split(search), DNSOptions: split(options)}
		for _, eps := range [][]endpointRecord{nil, {{DNS: resolver}}} {
			conf := string(resolvConfFor(host, c, eps))
			checkResolvConf(t, conf, host, c, resolver.String())
		}
	})
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// checkHosts fails unless each line of hosts past the fixed header is an
// address of addrs, a tab, and names of names separated by spaces.
func checkHosts(t *testing.T, hosts string, names, addrs []string) {
	t.Helper()
	body, ok := strings.CutPrefix(hosts, hostsHeader)
	if !ok || (body != "" && !strings.HasSuffix(body, "\n")) {
		t.Fatalf("hosts file without its header or final newline:\n%q", hosts)
	}
	for line := range strings.Lines(body) {
		line = strings.TrimSuffix(line, "\n")
		// validateConfig refuses extra_hosts that are not addresses; this
		// checks only that what is given as an address stays one field.
		addr, rest, ok := strings.Cut(line, "\t")
		if !ok || !slices.Contains(addrs, addr) || !oneField(addr) {
			t.Fatalf("hosts line %q: %q is not a given address", line, addr)
		}
		for n := range strings.SplitSeq(rest, " ") {
			if !slices.Contains(names, n) || !oneField(n) {
				t.Fatalf("hosts line %q: %q is not a given name", line, n)
			}
		}
	}
}

// checkResolvConf fails unless each line of conf is a line of host, or a
// nameserver line with an address given, or a search or options line of
// fields given whole.
func checkResolvConf(t *testing.T, conf string, host []byte, c ContainerConfig, resolver string) {
	t.Helper()
	hostLines := strings.Split(string(host), "\n")
	given := []string{"ndots:0"}
	for _, l := range hostLines {
		given = append(given, strings.Fields(l)...)
	}
	for _, s := range append(slices.Clone(c.DNSSearch), c.DNSOptions...) {
		if oneField(s) {
			given = append(given, s)
		}
	}
	servers := []string{resolver, "8.8.8.8", "8.8.4.4"}
	for _, s := range c.DNS {
		if oneField(s) {
			servers = append(servers, s)
		}
	}
	if conf != "" && !strings.HasSuffix(conf, "\n") {
		t.Fatalf("resolv.conf without a final newline: %q", conf)
	}
	for line := range strings.Lines(conf) {
		line = strings.TrimSuffix(line, "\n")
		if slices.Contains(hostLines, line) {
			continue
		}
		key, rest, _ := strings.Cut(line, " ")
		fields := strings.Split(rest, " ")
		switch {
		case key == "nameserver" && len(fields) == 1 && slices.Contains(servers, fields[0]):
		case (key == "search" || key == "options") && !slices.ContainsFunc(fields, func(f string) bool { return !slices.Contains(given, f) }):
		default:
			t.Fatalf("resolv.conf line %q: not the host's, nor made of given fields\n%s", line, conf)
		}
	}
}
