package netmgr

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
)

// ping6 sends one ICMPv6 echo request to dst from the sandbox at nsPath and
// waits for the reply.
func ping6(nsPath string, dst netip.Addr) error {
	return inNetns(nsPath, func() error {
		c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		defer c.Close()
		id := uint16(os.Getpid())
		req := []byte{128, 0, 0, 0, 0, 0, 0, 1, 'b', 'e', 'r', 't', 'h'} // checksum filled in by the kernel
		binary.BigEndian.PutUint16(req[4:], id)
		if _, err := c.WriteTo(req, &net.IPAddr{IP: net.IP(dst.AsSlice())}); err != nil {
			return fmt.Errorf("echo request to %s: %w", dst, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return fmt.Errorf("echo reply from %s: %w", dst, err)
			}
			src, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP)
			if n >= 8 && buf[0] == 129 && binary.BigEndian.Uint16(buf[4:]) == id && src == dst {
				return nil
			}
		}
	})
}

// tcpExchange6 is tcpExchange over IPv6.
func tcpExchange6(fromNs, toNs string, addr netip.Addr) error {
	var ln net.Listener
	if err := inNetns(toNs, func() (err error) {
		ln, err = net.Listen("tcp6", netip.AddrPortFrom(addr, 0).String())
		return err
	}); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "hello\n")
	}()
	var c net.Conn
	if err := inNetns(fromNs, func() (err error) {
		c, err = net.DialTimeout("tcp6", ln.Addr().String(), 3*time.Second)
		return err
	}); err != nil {
		return fmt.Errorf("dial %s: %w", ln.Addr(), err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "hello\n" {
		return fmt.Errorf("read from %s: %q, %v", ln.Addr(), got, err)
	}
	return nil
}

// exchangeAAAA asks server for the AAAA records of name.
func exchangeAAAA(proto, server, name string) ([]string, error) {
	c := &dns.Client{Net: proto, Timeout: 3 * time.Second}
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), dns.TypeAAAA)
	resp, _, err := c.Exchange(req, server)
	if err != nil {
		return nil, fmt.Errorf("query AAAA %s over %s to %s: %w", name, proto, server, err)
	}
	var out []string
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.AAAA); ok {
			out = append(out, a.AAAA.String())
		}
	}
	slices.Sort(out)
	return out, nil
}

// ip6Rules lists the host's ip6tables rules of berth's filter chain that
// belong to network n.
func (e *env) ip6Rules(n *Network) []string {
	rules, _ := e.berthRulesOf(ipv6)
	var out []string
	for _, r := range rules {
		if isRuleOf(r, n) {
			out = append(out, strings.Join(r, " "))
		}
	}
	return out
}

// TestIPv6Network: a network with enable_ipv6 gets a /64 of the IPv6 pool
// with its gateway on the bridge and its rules in ip6tables; two sandboxes
// get IPv6 addresses and a default IPv6 route, ping each other and talk
// TCP over IPv6; the resolver answers AAAA for their names, on the IPv4
// gateway and on the IPv6 one. The environment's clean-up asserts that no
// link, rule (ip6tables included) or process is left and that forwarding
// stayed off.
func TestIPv6Network(t *testing.T) {
	e := newEnvWith(t, Options{Exe: os.Args[0], Upstreams: []string{}})
	ctx := t.Context()
	if err := ipv6Available(); err != nil {
		t.Fatal(err)
	}
	n := e.create(NetworkConfig{Name: e.name("v6"), EnableIPv6: true})
	if !DefaultPool6.Contains(n.Subnet6.Addr()) || n.Subnet6.Bits() != 64 || n.Gateway6 != n.Subnet6.Addr().Next() {
		t.Fatalf("IPv6 subnet %s gateway %s, want a /64 of %s and its first address", n.Subnet6, n.Gateway6, DefaultPool6)
	}
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := netlink.AddrList(br, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IPNet.String() == netip.PrefixFrom(n.Gateway6, 64).String() }) {
		t.Errorf("bridge IPv6 addresses %v, want %s/64", addrs, n.Gateway6)
	}
	var want []string
	for _, r := range networkRules(n, false) {
		want = append(want, strings.Join(r, " "))
	}
	if got := e.ip6Rules(n); !slices.Equal(got, want) {
		t.Errorf("ip6tables rules %q, want %q", got, want)
	}
	// A second network gets the next /64.
	n2 := e.create(NetworkConfig{Name: e.name("v6b"), EnableIPv6: true})
	if n2.Subnet6.Overlaps(n.Subnet6) {
		t.Errorf("second network got %s, overlapping %s", n2.Subnet6, n.Subnet6)
	}

	pa, pb := e.sandbox(e.prefix+"a"), e.sandbox(e.prefix+"b")
	static := n.Subnet6.Addr().Next().Next().Next().Next() // ::4
	epa, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"a", ConnectOptions{IfName: "eth0", Names: []string{"alpha", "a-alias"}})
	if err != nil {
		t.Fatal(err)
	}
	epb, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"b", ConnectOptions{IfName: "eth0", Names: []string{"beta"}, Addr6: static})
	if err != nil {
		t.Fatal(err)
	}
	if epa.Addr6 != n.Gateway6.Next() || epb.Addr6 != static {
		t.Errorf("IPv6 addresses %s, %s; want %s and the static %s", epa.Addr6, epb.Addr6, n.Gateway6.Next(), static)
	}
	if rec, _ := e.m.Get(ctx, n.Name); rec.Endpoints[e.prefix+"b"].Addr6 != static {
		t.Errorf("recorded endpoint %+v, want its IPv6 address", rec.Endpoints[e.prefix+"b"])
	}
	if err := inNetns(pa, func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.Equal(epa.Addr6.AsSlice()) }) {
			return fmt.Errorf("eth0 IPv6 addresses %v, want %s", addrs, epa.Addr6)
		}
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if (r.Dst == nil || r.Dst.String() == "::/0") && r.Gw.Equal(n.Gateway6.AsSlice()) {
				return nil
			}
		}
		return fmt.Errorf("no default IPv6 route via %s: %v", n.Gateway6, routes)
	}); err != nil {
		t.Error(err)
	}

	if err := ping6(pa, epb.Addr6); err != nil {
		t.Errorf("ping a → b: %v", err)
	}
	if err := ping6(pb, epa.Addr6); err != nil {
		t.Errorf("ping b → a: %v", err)
	}
	if err := ping6(pa, n.Gateway6); err != nil {
		t.Errorf("ping a → gateway: %v", err)
	}
	if err := tcpExchange6(pa, pb, epb.Addr6); err != nil {
		t.Errorf("tcp a → b: %v", err)
	}

	// AAAA from inside a sandbox: on the IPv4 gateway (resolv.conf's
	// nameserver) and on the IPv6 one, UDP and TCP.
	for _, server := range []string{netip.AddrPortFrom(n.Gateway, 53).String(), netip.AddrPortFrom(n.Gateway6, 53).String()} {
		for _, proto := range []string{"udp", "tcp"} {
			for name, want := range map[string][]string{"beta": {epb.Addr6.String()}, "a-alias": {epa.Addr6.String()}} {
				var got []string
				if err := inNetns(pa, func() (err error) {
					got, err = exchangeAAAA(proto, server, name)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("AAAA %s over %s to %s: %q, want %q", name, proto, server, got, want)
				}
			}
		}
	}
	var a4 []string
	if err := inNetns(pb, func() (err error) {
		a4, _, err = exchangeA("udp", netip.AddrPortFrom(n.Gateway6, 53).String(), "alpha")
		return err
	}); err != nil || !slices.Equal(a4, []string{epa.Addr.String()}) {
		t.Errorf("A alpha over IPv6: %q, %v; want %s", a4, err, epa.Addr)
	}

	// Static addresses: taken, outside the subnet, on a network without IPv6.
	e.sandbox(e.prefix + "c")
	if _, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"c", ConnectOptions{IfName: "eth0", Addr6: static}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("taken IPv6 address: %v", err)
	}
	if _, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"c", ConnectOptions{IfName: "eth0", Addr6: netip.MustParseAddr("fd99::2")}); err == nil || !strings.Contains(err.Error(), n.Name) {
		t.Errorf("IPv6 address outside the subnet: %v", err)
	}
	v4 := e.create(NetworkConfig{Name: e.name("v4")})
	if _, err := e.m.ConnectWith(ctx, v4.Name, e.prefix+"c", ConnectOptions{IfName: "eth0", Addr6: static}); err == nil || !strings.Contains(err.Error(), "enable_ipv6") {
		t.Errorf("IPv6 address on an IPv4 network: %v", err)
	}
	linkGone(t, vethName(e.prefix+"c", n.ID))

	for _, id := range []string{"a", "b", "c"} {
		if err := e.m.RemoveSandbox(ctx, e.prefix+id); err != nil {
			t.Fatal(err)
		}
	}
	for _, nw := range []*Network{n, n2, v4} {
		if err := e.m.Remove(ctx, nw.Name); err != nil {
			t.Fatal(err)
		}
		if r := e.ip6Rules(nw); len(r) > 0 {
			t.Errorf("ip6tables rules left: %q", r)
		}
		linkGone(t, nw.Bridge)
	}
}

// TestIPv6InternalNetwork: an internal network's IPv6 side is isolated
// like its IPv4 side, and its sandboxes get no IPv6 default route.
func TestIPv6InternalNetwork(t *testing.T) {
	e := newEnv(t)
	n := e.create(NetworkConfig{Name: e.name("int6"), Internal: true, EnableIPv6: true, Subnet6: netip.MustParsePrefix("fd00:bee7:ffff:1::/64")})
	got := e.ip6Rules(n)
	// The DROPs first (inserted at the top of berth's chain), then the rest.
	if len(got) != 4 || !strings.Contains(got[0], "! -i "+n.Bridge) || !strings.Contains(got[1], "! -o "+n.Bridge) ||
		!strings.HasSuffix(got[0], "DROP") || !strings.HasSuffix(got[1], "DROP") {
		t.Errorf("internal ip6tables rules: %q", got)
	}
	p := e.sandbox("c1")
	ep := e.connect(n.Name, "c1")
	if !n.Subnet6.Contains(ep.Addr6) {
		t.Errorf("endpoint IPv6 address %s not in %s", ep.Addr6, n.Subnet6)
	}
	if err := inNetns(p, func() error {
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Dst == nil || r.Dst.String() == "::/0" {
				return fmt.Errorf("internal network got a default IPv6 route: %v", r)
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestIPv6PublishedPort: a port published without a host address on a
// network with IPv6 is reachable on the host's IPv6 addresses too (here the
// gateway's, which is the host's), through an ip6tables DNAT rule.
func TestIPv6PublishedPort(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := e.create(NetworkConfig{Name: e.name("pub6"), EnableIPv6: true})
	ns := e.sandbox(e.prefix + "srv")
	ep, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"srv", ConnectOptions{IfName: "eth0", Ports: []PortMapping{{ContainerPort: 8080, Protocol: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if err := inNetns(ns, func() (err error) {
		ln, err = net.Listen("tcp", ":8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello\n")
			c.Close()
		}
	}()
	rules, _, err := e.m.natRules(ctx, ipv6, natDNAT)
	if err != nil {
		t.Fatal(err)
	}
	if countComment(rules, portComment(n.Name, e.prefix+"srv")) != 1 {
		t.Errorf("ip6tables DNAT rules %q, want one for the port", rules)
	}
	hp := ep.Ports[0].HostPort
	for _, host := range []netip.Addr{n.Gateway6, n.Gateway} {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(host, hp).String(), 3*time.Second)
		if err != nil {
			t.Errorf("dial %s:%d: %v", host, hp, err)
			continue
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		got, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if got != "hello\n" {
			t.Errorf("from %s:%d: %q, %v", host, hp, got, err)
		}
	}
	e.sandbox(e.prefix + "x")
	if _, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"x", ConnectOptions{IfName: "eth0", Ports: []PortMapping{{HostIP: netip.IPv6Loopback(), ContainerPort: 80, Protocol: "tcp"}}}); err == nil || !strings.Contains(err.Error(), "ports[0]: host address ::1") {
		t.Errorf("publishing on ::1: %v, want a refusal naming ports[0]", err)
	}
	if err := e.m.RemoveSandbox(ctx, e.prefix+"srv"); err != nil {
		t.Fatal(err)
	}
	rules, _, _ = e.m.natRules(ctx, ipv6, natDNAT)
	if countComment(rules, portComment(n.Name, "")) != 0 {
		t.Errorf("ip6tables DNAT rules left: %q", rules)
	}
}
