package main

import (
	"net/netip"
	"testing"

	"github.com/containerd/errdefs"
)

func TestNetworkCreateIPv6(t *testing.T) {
	cfg, err := (&networkCreateOptions{driver: "bridge", ipv6: true, subnet: "fd00:1::/64"}).config("six")
	if err != nil || !cfg.EnableIPv6 || cfg.Subnet6 != netip.MustParsePrefix("fd00:1::/64") || cfg.Subnet.IsValid() {
		t.Errorf("--ipv6 --subnet fd00:1::/64: %+v, %v", cfg, err)
	}
	if cfg, err := (&networkCreateOptions{driver: "bridge", ipv6: true}).config("six"); err != nil || !cfg.EnableIPv6 {
		t.Errorf("--ipv6: %+v, %v", cfg, err)
	}
	if _, err := (&networkCreateOptions{driver: "bridge", subnet: "fd00:1::/64"}).config("six"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("an IPv6 --subnet without --ipv6: %v, want InvalidArgument", err)
	}
}
