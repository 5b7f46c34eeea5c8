package netmgr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// checkOneLine fails unless err is one line naming every string of want.
func checkOneLine(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
}

// TestExhaustionLeavesNothing: an exhausted pool (IPv4 or IPv6) and an
// exhausted subnet are named errors that leave no bridge, record, rule or
// veth behind (the environment's clean-up checks links and rules).
func TestExhaustionLeavesNothing(t *testing.T) {
	e := newEnvWith(t, Options{Pool: netip.MustParsePrefix("10.251.77.0/29"), Pool6: netip.MustParsePrefix("fd00:bee7:fffe:1::/64")})
	ctx := t.Context()
	a := e.create(NetworkConfig{Name: e.name("a"), EnableIPv6: true})
	if a.Subnet != netip.MustParsePrefix("10.251.77.0/29") || a.Subnet6 != netip.MustParsePrefix("fd00:bee7:fffe:1::/64") {
		t.Fatalf("subnets %s %s, want the pools", a.Subnet, a.Subnet6)
	}
	for _, cfg := range []NetworkConfig{
		{Name: e.name("b")},
		{Name: e.name("c"), EnableIPv6: true, Subnet: netip.MustParsePrefix("10.251.78.0/29")},
	} {
		_, err := e.m.Create(ctx, cfg)
		if !errors.Is(err, ErrSubnetExhausted) || !errdefs.IsResourceExhausted(err) {
			t.Errorf("Create %s = %v, want ErrSubnetExhausted", cfg.Name, err)
		}
		checkOneLine(t, err, fmt.Sprintf("network %q", cfg.Name), "pool")
		if _, err := e.m.Get(ctx, cfg.Name); !errdefs.IsNotFound(err) {
			t.Errorf("Get %s after exhaustion = %v, want NotFound", cfg.Name, err)
		}
	}
	// A /29 has five addresses besides the gateway.
	for i := range 6 {
		id := fmt.Sprintf("%ss%d", e.prefix, i)
		e.sandbox(id)
		_, err := e.m.Connect(ctx, a.Name, id, "eth0", netip.Addr{})
		if i < 5 {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !errors.Is(err, ErrAddressExhausted) {
			t.Errorf("sixth Connect = %v, want ErrAddressExhausted", err)
		}
		checkOneLine(t, err, fmt.Sprintf("network %q", a.Name), id)
		linkGone(t, vethName(id, a.ID))
	}
	// Static addresses outside the subnets.
	id := e.prefix + "s5"
	_, err := e.m.ConnectWith(ctx, a.Name, id, ConnectOptions{IfName: "eth0", Addr: netip.MustParseAddr("10.251.77.77")})
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("static IPv4 outside = %v, want InvalidArgument", err)
	}
	checkOneLine(t, err, fmt.Sprintf("network %q", a.Name), "10.251.77.77")
	if err := e.m.RemoveSandbox(ctx, e.prefix+"s4"); err != nil { // frees 10.251.77.6
		t.Fatal(err)
	}
	_, err = e.m.ConnectWith(ctx, a.Name, id, ConnectOptions{IfName: "eth0", Addr: netip.MustParseAddr("10.251.77.6"), Addr6: netip.MustParseAddr("fd00:bee7:fffe:2::5")})
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("static IPv6 outside = %v, want InvalidArgument", err)
	}
	checkOneLine(t, err, fmt.Sprintf("network %q", a.Name), "fd00:bee7:fffe:2::5")
	linkGone(t, vethName(id, a.ID))
}

// TestGivenSubnetOverlaps: a subnet asked for that overlaps a host route or
// another berth network, IPv4 or IPv6, is a conflict naming both, leaving
// nothing behind.
func TestGivenSubnetOverlaps(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a := e.create(NetworkConfig{Name: e.name("a"), EnableIPv6: true})
	host, err := hostPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	var host6 netip.Prefix
	for _, p := range host {
		if p.Addr().Is6() && !p.Addr().IsLinkLocalUnicast() && !p.Addr().IsMulticast() && p.Bits() < 128 && !p.Addr().IsLoopback() {
			host6 = p
			break
		}
	}
	cases := []struct {
		cfg  NetworkConfig
		want []string
	}{
		{NetworkConfig{Name: e.name("b"), Subnet: a.Subnet}, []string{a.Subnet.String(), a.Name}},
		{NetworkConfig{Name: e.name("c"), Subnet: netip.MustParsePrefix("127.0.0.0/24")}, []string{"127.0.0.0/8"}},
		{NetworkConfig{Name: e.name("d"), EnableIPv6: true, Subnet6: a.Subnet6}, []string{a.Subnet6.String(), a.Name}},
	}
	if host6.IsValid() {
		cases = append(cases, struct {
			cfg  NetworkConfig
			want []string
		}{NetworkConfig{Name: e.name("e"), EnableIPv6: true, Subnet6: host6}, []string{"host route or address", host6.String()}})
	} else {
		t.Log("no IPv6 host route to collide with")
	}
	for _, tc := range cases {
		_, err := e.m.Create(ctx, tc.cfg)
		if !errdefs.IsConflict(err) {
			t.Errorf("Create %s = %v, want Conflict", tc.cfg.Name, err)
		}
		checkOneLine(t, err, append([]string{fmt.Sprintf("network %q", tc.cfg.Name)}, tc.want...)...)
		if _, err := e.m.Get(ctx, tc.cfg.Name); !errdefs.IsNotFound(err) {
			t.Errorf("Get %s = %v, want NotFound", tc.cfg.Name, err)
		}
	}
}
