package netmgr

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/miekg/dns"
)

func TestPickSubnet6(t *testing.T) {
	tests := []struct {
		name  string
		pool  string
		taken []string
		want  string
	}{
		{name: "first /64 of the default pool", pool: "fd00:bee7::/48", want: "fd00:bee7::/64"},
		{name: "skips a berth network", pool: "fd00:bee7::/48", taken: []string{"fd00:bee7::/64"}, want: "fd00:bee7:0:1::/64"},
		{name: "skips a wider host route", pool: "fd00:bee7::/48", taken: []string{"fd00:bee7::/63"}, want: "fd00:bee7:0:2::/64"},
		{name: "skips a host address", pool: "fd00:bee7::/48", taken: []string{"fd00:bee7::2/128"}, want: "fd00:bee7:0:1::/64"},
		{name: "ignores IPv4 and other prefixes", pool: "fd00:bee7::/48", taken: []string{"10.213.0.0/16", "fd00::/64", "fe80::/64"}, want: "fd00:bee7::/64"},
		{name: "fills a hole", pool: "fd00:bee7::/48", taken: []string{"fd00:bee7::/64", "fd00:bee7:0:2::/64"}, want: "fd00:bee7:0:1::/64"},
		{name: "carries into the upper half", pool: "fd00:bee7:0:ff00::/56", taken: []string{"fd00:bee7:0:ff00::/57"}, want: "fd00:bee7:0:ff80::/64"},
		{name: "pool of one /64", pool: "fd00:bee7:1:2::/64", want: "fd00:bee7:1:2::/64"},
		{name: "wide pool", pool: "fd00::/16", taken: []string{"fd00::/64"}, want: "fd00:0:0:1::/64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var taken []netip.Prefix
			for _, s := range tc.taken {
				taken = append(taken, pfx(s))
			}
			got, err := pickSubnetOf(pfx(tc.pool), subnetBits6, taken)
			if err != nil {
				t.Fatal(err)
			}
			if got != pfx(tc.want) {
				t.Errorf("pickSubnetOf = %s, want %s", got, tc.want)
			}
		})
	}
	_, err := pickSubnetOf(pfx("fd00:bee7::/63"), subnetBits6, []netip.Prefix{pfx("fd00:bee7::/64"), pfx("fd00:bee7:0:1::/64")})
	if !errors.Is(err, ErrSubnetExhausted) {
		t.Errorf("exhausted IPv6 pool: %v, want ErrSubnetExhausted", err)
	}
}

func TestAddrAdd(t *testing.T) {
	tests := []struct {
		a     string
		shift int
		i     uint64
		want  string
	}{
		{"10.213.0.0", 8, 3, "10.213.3.0"},
		{"fd00:bee7::", 64, 1, "fd00:bee7:0:1::"},
		{"fd00:bee7::", 64, 0xffff, "fd00:bee7:0:ffff::"},
		{"::ffff:ffff:ffff:ffff", 0, 1, "0:0:0:1::"},
		{"fd00::", 80, 1, "fd00:0:1::"},
		{"fd00::", 60, 0x13, "fd00:0:0:1:3000::"},
	}
	for _, tc := range tests {
		if got := addrAdd(ip(tc.a), tc.shift, tc.i); got != ip(tc.want) {
			t.Errorf("addrAdd(%s, %d, %d) = %s, want %s", tc.a, tc.shift, tc.i, got, tc.want)
		}
	}
}

func TestPlanSubnet6(t *testing.T) {
	nets := []*Network{{Name: "other_default", Subnet: pfx("10.213.0.0/24"), Subnet6: pfx("fd00:bee7::/64")}}
	host := []netip.Prefix{pfx("fd00::/64"), pfx("fd00:bee7:0:1::/64")}
	tests := []struct {
		name       string
		cfg        NetworkConfig
		wantSubnet string // empty: no IPv6
		wantGW     string
		wantClass  func(error) bool
		wantInErr  []string
	}{
		{name: "no IPv6", cfg: NetworkConfig{Name: "a"}},
		{name: "from the pool", cfg: NetworkConfig{Name: "a", EnableIPv6: true}, wantSubnet: "fd00:bee7:0:2::/64", wantGW: "fd00:bee7:0:2::1"},
		{name: "static subnet", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd12:3456::/64")}, wantSubnet: "fd12:3456::/64", wantGW: "fd12:3456::1"},
		{name: "static gateway", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd12:3456::/64"), Gateway6: ip("fd12:3456::fe")}, wantSubnet: "fd12:3456::/64", wantGW: "fd12:3456::fe"},
		{name: "small subnet", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd12:3456::/126")}, wantSubnet: "fd12:3456::/126", wantGW: "fd12:3456::1"},
		{
			name: "overlaps a berth network", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd00:bee7::/56")},
			wantClass: errdefs.IsConflict, wantInErr: []string{`network "a"`, `network "other_default"`, "fd00:bee7::/64"},
		},
		{
			name: "overlaps a host route", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd00::/80")},
			wantClass: errdefs.IsConflict, wantInErr: []string{`network "a"`, "host route or address fd00::/64"},
		},
		{name: "IPv4 subnet as IPv6", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("10.1.0.0/24")}, wantClass: errdefs.IsInvalidArgument},
		{name: "subnet too small", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd12::/127")}, wantClass: errdefs.IsInvalidArgument},
		{name: "gateway outside subnet", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd12::/64"), Gateway6: ip("fd13::1")}, wantClass: errdefs.IsInvalidArgument},
		{name: "gateway is the subnet-router address", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd12::/64"), Gateway6: ip("fd12::")}, wantClass: errdefs.IsInvalidArgument},
		{name: "gateway without subnet", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Gateway6: ip("fd12::1")}, wantClass: errdefs.IsInvalidArgument},
		{name: "subnet without enable_ipv6", cfg: NetworkConfig{Name: "a", Subnet6: pfx("fd12::/64")}, wantClass: errdefs.IsInvalidArgument, wantInErr: []string{"enable_ipv6"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			subnet, gw, err := planSubnet6(tc.cfg, DefaultPool6, nets, host)
			if tc.wantClass != nil {
				if err == nil || !tc.wantClass(err) {
					t.Fatalf("err = %v, want class", err)
				}
				for _, s := range tc.wantInErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSubnet == "" {
				if subnet.IsValid() || gw.IsValid() {
					t.Errorf("got %s gw %s, want none", subnet, gw)
				}
				return
			}
			if subnet != pfx(tc.wantSubnet) || gw != ip(tc.wantGW) {
				t.Errorf("got %s gw %s, want %s gw %s", subnet, gw, tc.wantSubnet, tc.wantGW)
			}
		})
	}
}

func TestPickAddr6(t *testing.T) {
	subnet, gw := pfx("fd00:bee7::/64"), ip("fd00:bee7::1")
	tests := []struct {
		name      string
		subnet    netip.Prefix
		ipRange   netip.Prefix
		used      []string
		want      string
		wantAddr  string
		wantClass func(error) bool
	}{
		{name: "first after the gateway", subnet: subnet, wantAddr: "fd00:bee7::2"},
		{name: "skips used", subnet: subnet, used: []string{"fd00:bee7::2", "fd00:bee7::3"}, wantAddr: "fd00:bee7::4"},
		{name: "IPv4 addresses in used do not matter", subnet: subnet, used: []string{"10.213.0.2"}, wantAddr: "fd00:bee7::2"},
		{name: "from the range", subnet: subnet, ipRange: pfx("fd00:bee7::100/120"), wantAddr: "fd00:bee7::100"},
		{name: "static", subnet: subnet, want: "fd00:bee7::beef", wantAddr: "fd00:bee7::beef"},
		{name: "static outside the subnet", subnet: subnet, want: "fd00:bee8::2", wantClass: errdefs.IsInvalidArgument},
		{name: "static IPv4", subnet: subnet, want: "10.213.0.2", wantClass: errdefs.IsInvalidArgument},
		{name: "static subnet-router address", subnet: subnet, want: "fd00:bee7::", wantClass: errdefs.IsInvalidArgument},
		{name: "static gateway", subnet: subnet, want: "fd00:bee7::1", wantClass: errdefs.IsConflict},
		{name: "static taken", subnet: subnet, used: []string{"fd00:bee7::9"}, want: "fd00:bee7::9", wantClass: errdefs.IsConflict},
		{name: "small subnet exhausted", subnet: pfx("fd00:bee7::/126"), used: []string{"fd00:bee7::2", "fd00:bee7::3"}, wantClass: errdefs.IsResourceExhausted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			used := map[netip.Addr]bool{}
			for _, u := range tc.used {
				used[ip(u)] = true
			}
			var want netip.Addr
			if tc.want != "" {
				want = ip(tc.want)
			}
			got, err := pickAddrIn(tc.subnet, tc.ipRange, gw, used, want)
			if tc.wantClass != nil {
				if err == nil || !tc.wantClass(err) {
					t.Fatalf("pickAddrIn = %s, %v; want an error of the class", got, err)
				}
				return
			}
			if err != nil || got != ip(tc.wantAddr) {
				t.Errorf("pickAddrIn = %s, %v; want %s", got, err, tc.wantAddr)
			}
		})
	}
}

func TestNewPool6(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/8", "fd00::/72", "::ffff:10.0.0.0/104"} {
		if _, err := New(Options{Root: "/x", RunDir: "/y", Pool6: pfx(bad)}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Pool6 %s: %v, want InvalidArgument", bad, err)
		}
	}
	m, err := New(Options{Root: "/x", RunDir: "/y"})
	if err != nil || m.opt.Pool6 != DefaultPool6 || m.opt.SubnetLock != DefaultSubnetLock {
		t.Errorf("defaults not applied: %+v, %v", m, err)
	}
}

func testZone6() *zone {
	z := testZone()
	front := z.nets["p_front"]
	for id, addr6 := range map[string]string{"w1": "fd00:bee7::2", "w2": "fd00:bee7::3", "c1": "fd00:bee7::4"} {
		ep := front.Endpoints[id]
		ep.Addr6 = ip(addr6)
		front.Endpoints[id] = ep
	}
	return z
}

func TestResolverAnswerAAAA(t *testing.T) {
	z := testZone6()
	tests := []struct {
		name    string
		network string
		src     netip.Addr
		q       string
		qtype   uint16
		want    []string
		forward bool
	}{
		{name: "AAAA of replicas", network: "p_front", src: ip("10.1.0.4"), q: "web.", qtype: dns.TypeAAAA, want: []string{"fd00:bee7::2", "fd00:bee7::3"}},
		{name: "AAAA of a container name", network: "p_front", src: ip("10.1.0.4"), q: "p-web-2.", qtype: dns.TypeAAAA, want: []string{"fd00:bee7::3"}},
		{name: "A stays IPv4 only", network: "p_front", src: ip("10.1.0.4"), q: "web.", qtype: dns.TypeA, want: []string{"10.1.0.2", "10.1.0.3"}},
		{name: "ANY gives both", network: "p_front", src: ip("10.1.0.4"), q: "p-web-1.", qtype: dns.TypeANY, want: []string{"10.1.0.2", "fd00:bee7::2"}},
		{name: "querier known by its IPv6 address", network: "p_front", src: ip("fd00:bee7::2"), q: "db.", qtype: dns.TypeA, want: []string{"10.2.0.3"}},
		{name: "querier's search domain over IPv6", network: "p_front", src: ip("fd00:bee7::4"), q: "web.example.test.", qtype: dns.TypeAAAA, want: []string{"fd00:bee7::2", "fd00:bee7::3"}},
		{name: "AAAA of a name without IPv6 is empty", network: "p_back", src: ip("10.2.0.3"), q: "db.", qtype: dns.TypeAAAA},
		{name: "reverse IPv6", network: "p_front", src: ip("10.1.0.4"), q: "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.e.e.b.0.0.d.f.ip6.arpa.", qtype: dns.TypePTR, want: []string{"p-web-2."}},
		{name: "outside name goes upstream", network: "p_front", src: ip("fd00:bee7::4"), q: "example.org.", qtype: dns.TypeAAAA, forward: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := new(dns.Msg)
			req.SetQuestion(tc.q, tc.qtype)
			resp, fwd, _ := z.answer(tc.network, tc.src, req)
			if fwd != tc.forward {
				t.Fatalf("forward = %v, want %v", fwd, tc.forward)
			}
			if fwd {
				return
			}
			var got []string
			for _, rr := range resp.Answer {
				switch rr := rr.(type) {
				case *dns.A:
					got = append(got, rr.A.String())
				case *dns.AAAA:
					got = append(got, rr.AAAA.String())
				case *dns.PTR:
					got = append(got, rr.Ptr)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || resp.Rcode != dns.RcodeSuccess {
				t.Errorf("answer %q rcode %d, want %q", got, resp.Rcode, tc.want)
			}
		})
	}
}

func TestPtrAddr6(t *testing.T) {
	a := ip("fd00:bee7::1:2")
	rev, err := dns.ReverseAddr(a.String())
	if err != nil {
		t.Fatal(err)
	}
	got, ok := ptrAddr(strings.TrimSuffix(rev, "."))
	if !ok || got != a {
		t.Errorf("ptrAddr(%s) = %s, %v; want %s", rev, got, ok, a)
	}
	for _, bad := range []string{"1.2.ip6.arpa", strings.Repeat("g.", 32) + "ip6.arpa", strings.Repeat("10.", 32) + "ip6.arpa"} {
		if _, ok := ptrAddr(bad); ok {
			t.Errorf("ptrAddr(%s) accepted", bad)
		}
	}
}

func TestPortFamilies(t *testing.T) {
	p := func(host string, port uint16) PortMapping {
		m := PortMapping{HostPort: port, ContainerPort: 80, Protocol: "tcp"}
		if host != "" {
			m.HostIP = ip(host)
		}
		return m
	}
	tests := []struct {
		name       string
		m          PortMapping
		has6       bool
		want4      bool
		want6      bool
		wantErr    func(error) bool
		wantInRule string
	}{
		{name: "unset on an IPv4 network", m: p("", 8080), want4: true},
		{name: "unset on an IPv6 network", m: p("", 8080), has6: true, want4: true, want6: true},
		{name: "IPv4 address", m: p("127.0.0.1", 8080), has6: true, want4: true},
		{name: "IPv6 address", m: p("fd00::2", 8080), has6: true, want6: true, wantInRule: "-d fd00::2/128"},
		{name: "IPv6 any", m: p("::", 8080), has6: true, want6: true},
		{name: "IPv6 loopback", m: p("::1", 8080), has6: true, wantErr: errdefs.IsNotImplemented},
		{name: "IPv6 address on an IPv4 network", m: p("fd00::2", 8080), wantErr: errdefs.IsInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validatePorts([]PortMapping{tc.m}, tc.has6)
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr(err) || !strings.HasPrefix(err.Error(), "ports[0]: ") {
					t.Fatalf("validatePorts = %v, want a classed error naming ports[0]", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := onFamily(tc.m, ipv4, tc.has6); got != tc.want4 {
				t.Errorf("on IPv4: %v, want %v", got, tc.want4)
			}
			if got := onFamily(tc.m, ipv6, tc.has6); got != tc.want6 {
				t.Errorf("on IPv6: %v, want %v", got, tc.want6)
			}
			r6 := dnatRules(ipv6, "p_default", "s1", ip("fd00:bee7::2"), []PortMapping{tc.m}, tc.has6)
			if (len(r6) == 1) != tc.want6 {
				t.Fatalf("IPv6 rules %q, want %v", r6, tc.want6)
			}
			if len(r6) == 1 {
				joined := strings.Join(r6[0], " ")
				if !strings.Contains(joined, "--to-destination [fd00:bee7::2]:80") || !strings.Contains(joined, tc.wantInRule) {
					t.Errorf("IPv6 rule %q", joined)
				}
				back, ok := ruleMapping(r6[0], ipv6)
				if !ok || !overlaps(back, tc.m) || back.HostIP.Is4() {
					t.Errorf("ruleMapping(%q) = %+v, %v", joined, back, ok)
				}
				if !dnatInto(r6[0], pfx("fd00:bee7::/64")) || dnatInto(r6[0], pfx("fd00:bee8::/64")) {
					t.Errorf("dnatInto(%q) wrong", joined)
				}
			}
		})
	}
	if overlaps(p("0.0.0.0", 8080), p("::", 8080)) {
		t.Error("0.0.0.0 and :: bindings overlap, want one per family")
	}
	if !overlaps(p("", 8080), p("fd00::2", 8080)) {
		t.Error("an unset binding does not overlap an IPv6 one")
	}
}
