package engine

import (
	"maps"
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
