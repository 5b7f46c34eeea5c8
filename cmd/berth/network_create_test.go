package main

import (
	"net/netip"
	"strings"
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

// TestNetworkCreateDriverOptsAndAux: -o takes the bridge driver's options
// berth's bridges have, refusing others by name; --aux-address names
// addresses of --subnet never given to a container.
func TestNetworkCreateDriverOptsAndAux(t *testing.T) {
	o := networkCreateOptions{driver: "bridge", subnet: "10.98.0.0/24",
		opts: []string{"com.docker.network.bridge.enable_icc=false", "com.docker.network.driver.mtu=1400", "com.docker.network.bridge.name=berthopts"},
		aux:  []string{"router=10.98.0.2", "nas=10.98.0.3"}}
	cfg, err := o.config("opts")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.NoICC || cfg.NoMasquerade || cfg.MTU != 1400 || cfg.BridgeName != "berthopts" ||
		len(cfg.AuxAddresses) != 2 || cfg.AuxAddresses[0] != netip.MustParseAddr("10.98.0.2") || cfg.AuxAddresses[1] != netip.MustParseAddr("10.98.0.3") {
		t.Errorf("config = %+v", cfg)
	}
	for _, tc := range []struct {
		o    networkCreateOptions
		want string
	}{
		{networkCreateOptions{driver: "bridge", opts: []string{"com.docker.network.bridge.host_binding_ipv4=127.0.0.1"}}, "--opt com.docker.network.bridge.host_binding_ipv4: not supported"},
		{networkCreateOptions{driver: "bridge", opts: []string{"com.docker.network.bridge.enable_icc"}}, `--opt com.docker.network.bridge.enable_icc="": not a boolean`},
		{networkCreateOptions{driver: "bridge", subnet: "10.98.0.0/24", aux: []string{"10.98.0.2"}}, `--aux-address "10.98.0.2": want NAME=ADDRESS`},
		{networkCreateOptions{driver: "bridge", subnet: "10.98.0.0/24", aux: []string{"far=10.97.0.2"}}, `--aux-address "far=10.97.0.2": no matching subnet for aux-address 10.97.0.2`},
		{networkCreateOptions{driver: "bridge", aux: []string{"r=10.98.0.2"}}, "no matching subnet for aux-address 10.98.0.2"},
	} {
		_, err := tc.o.config("n")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
