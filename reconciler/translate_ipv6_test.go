package reconciler

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

func TestNetworkConfigIPv6(t *testing.T) {
	cfg, err := NetworkConfig(spec.Network{
		Key: "front", Name: "p_front", EnableIPv6: true,
		Subnets: []spec.IPAMConfig{
			{Subnet: "10.231.0.0/24", Gateway: "10.231.0.254"},
			{Subnet: "fd12:3456::/64", Gateway: "fd12:3456::fe", IPRange: "fd12:3456::100/120"},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.EnableIPv6 || cfg.Subnet != netip.MustParsePrefix("10.231.0.0/24") || cfg.Gateway != netip.MustParseAddr("10.231.0.254") ||
		cfg.Subnet6 != netip.MustParsePrefix("fd12:3456::/64") || cfg.Gateway6 != netip.MustParseAddr("fd12:3456::fe") ||
		cfg.IPRange6 != netip.MustParsePrefix("fd12:3456::100/120") {
		t.Errorf("NetworkConfig = %+v", cfg)
	}
	// enable_ipv6 without a subnet: the network manager allocates one.
	cfg, err = NetworkConfig(spec.Network{Key: "d", Name: "p_d", EnableIPv6: true}, nil)
	if err != nil || !cfg.EnableIPv6 || cfg.Subnet6.IsValid() {
		t.Errorf("NetworkConfig(enable_ipv6 only) = %+v, %v", cfg, err)
	}

	bad := []struct {
		name  string
		n     spec.Network
		class func(error) bool
		field string
	}{
		{name: "IPv6 subnet without enable_ipv6", n: spec.Network{Key: "x", Subnets: []spec.IPAMConfig{{Subnet: "fd00::/64"}}}, class: errdefs.IsInvalidArgument, field: "networks.x.ipam.config[0].subnet"},
		{name: "two IPv6 subnets", n: spec.Network{Key: "x", EnableIPv6: true, Subnets: []spec.IPAMConfig{{Subnet: "fd00::/64"}, {Subnet: "fd01::/64"}}}, class: errdefs.IsNotImplemented, field: "networks.x.ipam.config[1].subnet"},
		{name: "two IPv4 subnets", n: spec.Network{Key: "x", Subnets: []spec.IPAMConfig{{Subnet: "10.1.0.0/24"}, {Subnet: "10.2.0.0/24"}}}, class: errdefs.IsNotImplemented, field: "networks.x.ipam.config[1].subnet"},
		{name: "IPv4 gateway of an IPv6 subnet", n: spec.Network{Key: "x", EnableIPv6: true, Subnets: []spec.IPAMConfig{{Subnet: "fd00::/64", Gateway: "10.0.0.1"}}}, class: errdefs.IsInvalidArgument, field: "networks.x.ipam.config[0].gateway"},
		{name: "IPv4 range of an IPv6 subnet", n: spec.Network{Key: "x", EnableIPv6: true, Subnets: []spec.IPAMConfig{{Subnet: "fd00::/64", IPRange: "10.0.0.0/24"}}}, class: errdefs.IsInvalidArgument, field: "networks.x.ipam.config[0].ip_range"},
		{name: "not a CIDR", n: spec.Network{Key: "x", Subnets: []spec.IPAMConfig{{Subnet: "fd00::"}}}, class: errdefs.IsInvalidArgument, field: "networks.x.ipam.config[0].subnet"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NetworkConfig(tc.n, nil)
			if err == nil || !tc.class(err) || !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Errorf("NetworkConfig = %v, want an error of the class starting %q", err, tc.field)
			}
		})
	}
}

func TestTranslateIPv6Address(t *testing.T) {
	p := &spec.Project{Name: "p", Networks: []spec.Network{
		{Key: "v6", Name: "p_v6", EnableIPv6: true},
		{Key: "v4", Name: "p_v4"},
	}}
	svc := func(net, addr string) *spec.Service {
		return &spec.Service{Name: "web", Networks: []spec.ServiceNetwork{{Name: net, IPv6Address: addr}}}
	}
	var c engine.ContainerConfig
	if err := translateNetwork(p, svc("v6", "fd00:bee7::9"), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Networks) != 1 || c.Networks[0].Address6 != netip.MustParseAddr("fd00:bee7::9") {
		t.Errorf("networks %+v", c.Networks)
	}
	for _, tc := range []struct{ name, net, addr string }{
		{"not an address", "v6", "fd00::zz"},
		{"an IPv4 address", "v6", "10.0.0.2"},
		{"network without IPv6", "v4", "fd00:bee7::9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c engine.ContainerConfig
			err := translateNetwork(p, svc(tc.net, tc.addr), &c)
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `service "web": networks.`+tc.net+".ipv6_address") {
				t.Errorf("translateNetwork = %v, want InvalidArgument naming the field", err)
			}
		})
	}
}
