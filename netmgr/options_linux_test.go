package netmgr

import (
	"net/netip"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
)

// TestNetworkAndEndpointOptions: ipam subnet, gateway and ip_range, MTU and
// bridge name (driver_opts), a static MAC, and a sandbox on two networks
// whose default route goes through the one chosen.
func TestNetworkAndEndpointOptions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	br := "berth" + e.prefix[1:8]
	n := e.create(NetworkConfig{
		Name: e.name("opts"), Subnet: netip.MustParsePrefix("10.231.7.0/24"), Gateway: netip.MustParseAddr("10.231.7.254"),
		IPRange: netip.MustParsePrefix("10.231.7.128/25"), MTU: 1400, BridgeName: br,
	})
	link, err := netlink.LinkByName(br)
	if err != nil || link.Attrs().MTU != 1400 {
		t.Fatalf("bridge %s: %v, mtu %d", br, err, link.Attrs().MTU)
	}
	other := e.create(NetworkConfig{Name: e.name("other")})
	ns := e.sandbox(e.prefix + "a")
	ep, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"a", ConnectOptions{IfName: "eth0", MAC: "02:aa:bb:cc:dd:ee", NoDefaultRoute: true})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Addr != netip.MustParseAddr("10.231.7.128") || ep.MAC != "02:aa:bb:cc:dd:ee" {
		t.Errorf("endpoint %s %s, want the first address of the range and the MAC asked for", ep.Addr, ep.MAC)
	}
	if _, err := e.m.ConnectWith(ctx, other.Name, e.prefix+"a", ConnectOptions{IfName: "eth1"}); err != nil {
		t.Fatal(err)
	}
	if err := inNetns(ns, func() error {
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if eth0.Attrs().MTU != 1400 || eth0.Attrs().HardwareAddr.String() != "02:aa:bb:cc:dd:ee" {
			t.Errorf("eth0: mtu %d mac %s", eth0.Attrs().MTU, eth0.Attrs().HardwareAddr)
		}
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Dst == nil && !r.Gw.Equal(other.Gateway.AsSlice()) {
				t.Errorf("default route via %s, want %s", r.Gw, other.Gateway)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.sandbox(e.prefix + "b")
	if _, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"b", ConnectOptions{IfName: "eth0", MAC: "02:aa:bb:cc:dd:ee"}); !errdefs.IsConflict(err) {
		t.Errorf("same MAC twice: %v, want a conflict", err)
	}
	if _, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"b", ConnectOptions{IfName: "eth0", Addr: netip.MustParseAddr("10.231.7.5")}); err != nil {
		t.Errorf("static address outside the range but in the subnet: %v", err)
	}
	if _, err := e.m.Create(ctx, NetworkConfig{Name: e.name("bad"), BridgeName: "docker0"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bridge name docker0: %v, want invalid", err)
	}
	if _, err := e.m.Create(ctx, NetworkConfig{Name: e.name("bad"), Subnet: netip.MustParsePrefix("10.231.9.0/24"), IPRange: netip.MustParsePrefix("10.231.10.0/25")}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ip_range outside the subnet: %v, want invalid", err)
	}
}
