package main

import (
	"net/netip"
	"testing"

	"github.com/containerd/errdefs"
)

func TestNetworkCreateOptions(t *testing.T) {
	o := networkCreateOptions{driver: "bridge", subnet: "10.99.0.0/24", gateway: "10.99.0.254", internal: true, labels: []string{"k=v"}}
	cfg, err := o.config("front")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "front" || cfg.Subnet != netip.MustParsePrefix("10.99.0.0/24") || cfg.Gateway != netip.MustParseAddr("10.99.0.254") ||
		!cfg.Internal || cfg.Labels["k"] != "v" {
		t.Errorf("config = %+v", cfg)
	}
	for _, name := range []string{"bridge", "host", "none"} {
		if _, err := (&networkCreateOptions{driver: "bridge"}).config(name); !errdefs.IsConflict(err) {
			t.Errorf("network create %s: %v, want Conflict (pre-defined)", name, err)
		}
	}
	for _, bad := range []networkCreateOptions{
		{driver: "overlay"}, {driver: "bridge", subnet: "10.0.0.0"}, {driver: "bridge", gateway: "x"},
		{driver: "bridge", ipRange: "10.0.0.1"}, {driver: "bridge", labels: []string{"=v"}},
	} {
		if _, err := bad.config("n"); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%+v: %v, want InvalidArgument", bad, err)
		}
	}
}
