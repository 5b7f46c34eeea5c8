package dockerapi

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestLogDetails(t *testing.T) {
	got := LogDetails(map[string]string{"tag": "web 1", "APP_ENV": "a&b", "team": "core"})
	if want := "APP_ENV=a%26b,tag=web+1,team=core"; got != want {
		t.Errorf("LogDetails = %q, want %q", got, want)
	}
	if got := LogDetails(nil); got != "" {
		t.Errorf("LogDetails(nil) = %q", got)
	}
}

func TestNetworkConfigAuxAddresses(t *testing.T) {
	cfg, err := NetworkConfig(network.CreateRequest{Name: "n", IPAM: &network.IPAM{Config: []network.IPAMConfig{{
		Subnet:     netip.MustParsePrefix("10.218.0.0/24"),
		AuxAddress: map[string]netip.Addr{"router": netip.MustParseAddr("10.218.0.5"), "nas": netip.MustParseAddr("10.218.0.4")},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("10.218.0.4"), netip.MustParseAddr("10.218.0.5")}; !slices.Equal(cfg.AuxAddresses, want) {
		t.Errorf("aux addresses = %v, want %v", cfg.AuxAddresses, want)
	}
}
