package engine

import (
	"maps"
	"net/netip"
	"strings"
	"testing"
)

func TestEndpointSysctls(t *testing.T) {
	ncs := []EndpointConfig{
		{Network: "p_front", Sysctls: map[string]string{"net.ipv4.conf.IFNAME.log_martians": "1"}},
		{Network: "p_back"},
	}
	eps := []endpointRecord{{Network: "p_back", IfName: "eth0"}, {Network: "p_front", IfName: "front0"}}
	want := map[string]string{"net.ipv4.conf.front0.log_martians": "1"}
	if got := endpointSysctls(ncs, eps); !maps.Equal(got, want) {
		t.Errorf("endpointSysctls = %v, want %v", got, want)
	}
	if err := checkEndpointSysctls([]EndpointConfig{{Network: "n", Sysctls: map[string]string{"kernel.x": "1"}}}); err == nil {
		t.Error("a sysctl that is not the interface's was accepted")
	}
	if _, err := ParseEndpointSysctls("net.ipv6.conf.IFNAME.disable_ipv6=0,net.ipv4.conf.IFNAME.rp_filter"); err == nil {
		t.Error("an entry without = was accepted")
	}
}

func TestRenderHostsLinks(t *testing.T) {
	web := hostsMember{id: "aaa", name: "p-web-1", hostname: "aaa",
		links: []string{"legacy-db:db", "cache", "gone:x", "far:f"},
		eps:   []endpointRecord{{Network: "shared", Address: netip.MustParseAddr("10.1.0.2")}}}
	peers := []hostsMember{
		web,
		{id: "bbb", name: "legacy-db", eps: []endpointRecord{{Network: "shared", Address: netip.MustParseAddr("10.1.0.3"), DNS: netip.MustParseAddr("10.1.0.1")}}},
		{id: "ccc", name: "cache", eps: []endpointRecord{{Network: "shared", Address: netip.MustParseAddr("10.1.0.4"), DNS: netip.MustParseAddr("10.1.0.1")}}},
		{id: "ddd", name: "far", eps: []endpointRecord{{Network: "elsewhere", Address: netip.MustParseAddr("10.2.0.4")}}},
	}
	got := string(renderHosts(web, peers))
	for _, want := range []string{"10.1.0.3\tdb legacy-db\n", "10.1.0.4\tcache\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts lacks %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"\tx", "\tf "} {
		if strings.Contains(got, not) {
			t.Errorf("hosts has %q (a link to a container not running, or on no shared network):\n%s", not, got)
		}
	}
}
