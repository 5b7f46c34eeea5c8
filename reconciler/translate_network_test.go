package reconciler

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr/portmap"
	"github.com/berth-dev/berth/spec"
)

func TestTranslateNetwork(t *testing.T) {
	p := &spec.Project{
		Name:     "p",
		Networks: []spec.Network{{Key: "front", Name: "p_front"}, {Key: "back", Name: "p_back"}},
		Services: []spec.Service{{Name: "db"}},
	}
	s := &spec.Service{
		Name: "web",
		Networks: []spec.ServiceNetwork{
			{Name: "back", Aliases: []string{"api"}, GwPriority: 2},
			{Name: "front", Priority: 5, IPv4Address: "10.1.0.9"},
		},
		MacAddress: "02:00:00:00:00:01",
		Ports: []spec.Port{
			{Mapping: portmap.Mapping{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Protocol: portmap.TCP}, Mode: "host"},
			{Mapping: portmap.Mapping{HostPort: 5300, HostPortEnd: 5310, ContainerPort: 53, Protocol: portmap.UDP}},
		},
		DNS: []string{"192.0.2.1"}, DNSSearch: []string{"example.test"}, DNSOpt: []string{"ndots:2"},
	}
	var c engine.ContainerConfig
	if err := translateNetwork(p, s, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Networks) != 2 || c.Networks[1].Network != "p_front" || c.Networks[1].Priority != 5 ||
		c.Networks[1].MacAddress != "02:00:00:00:00:01" || c.Networks[1].Address != netip.MustParseAddr("10.1.0.9") ||
		c.Networks[0].GwPriority != 2 || c.Networks[0].Aliases[1] != "api" {
		t.Errorf("networks %+v", c.Networks)
	}
	// spec's mappings, as they are.
	if len(c.Ports) != 2 || c.Ports[0] != s.Ports[0].Mapping || c.Ports[1] != s.Ports[1].Mapping {
		t.Errorf("ports %+v", c.Ports)
	}
	if c.DNS[0] != "192.0.2.1" || c.DNSSearch[0] != "example.test" || c.DNSOptions[0] != "ndots:2" {
		t.Errorf("dns %q %q %q", c.DNS, c.DNSSearch, c.DNSOptions)
	}

	for _, tc := range []struct{ mode, want string }{
		{"host", "host"}, {"none", "none"}, {"service:db", "container:p-db-1"}, {"container:x", "container:x"},
	} {
		var c engine.ContainerConfig
		if err := translateNetwork(p, &spec.Service{Name: "w", NetworkMode: tc.mode}, &c); err != nil || c.NetworkMode != tc.want {
			t.Errorf("network_mode %q: %q, %v; want %q", tc.mode, c.NetworkMode, err, tc.want)
		}
	}
	bridged := &engine.ContainerConfig{}
	if err := translateNetwork(p, &spec.Service{Name: "w", NetworkMode: "bridge", Ports: []spec.Port{{Mapping: portmap.Mapping{HostPort: 8080, ContainerPort: 80, Protocol: portmap.TCP}}}}, bridged); err != nil ||
		bridged.NetworkMode != "" || len(bridged.Networks) != 1 || bridged.Networks[0].Network != engine.DefaultNetwork || len(bridged.Ports) != 1 {
		t.Errorf("network_mode bridge: %v: %+v", err, bridged)
	}
	if err := translateNetwork(p, &spec.Service{Name: "w", NetworkMode: "none", Ports: []spec.Port{{Mapping: portmap.Mapping{ContainerPort: 80, Protocol: portmap.TCP}}}}, &engine.ContainerConfig{}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("network_mode none with ports: %v", err)
	}
}

func TestNetworkConfig(t *testing.T) {
	cfg, err := NetworkConfig(spec.Network{
		Key: "front", Name: "p_front",
		Subnets:    []spec.IPAMConfig{{Subnet: "10.9.0.0/16", Gateway: "10.9.0.254", IPRange: "10.9.1.0/24"}},
		DriverOpts: map[string]string{"com.docker.network.driver.mtu": "1400", "com.docker.network.bridge.name": "berthfront"},
	}, nil)
	if err != nil || cfg.Subnet.String() != "10.9.0.0/16" || cfg.Gateway.String() != "10.9.0.254" || cfg.IPRange.String() != "10.9.1.0/24" ||
		cfg.MTU != 1400 || cfg.BridgeName != "berthfront" {
		t.Errorf("NetworkConfig = %+v, %v", cfg, err)
	}
	cfg, err = NetworkConfig(spec.Network{Key: "x", DriverOpts: map[string]string{"com.docker.network.bridge.enable_icc": "false", "com.docker.network.bridge.enable_ip_masquerade": "false"}}, nil)
	if err != nil || !cfg.NoICC || !cfg.NoMasquerade {
		t.Errorf("enable_icc and enable_ip_masquerade false: %+v, %v", cfg, err)
	}
	_, err = NetworkConfig(spec.Network{Key: "x", DriverOpts: map[string]string{"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"}}, nil)
	if want := "networks.x.driver_opts.com.docker.network.bridge.host_binding_ipv4: not supported ("; !errdefs.IsNotImplemented(err) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("unknown driver_opts: %v, want %q…", err, want)
	}
	_, err = NetworkConfig(spec.Network{Key: "x", DriverOpts: map[string]string{"com.docker.network.bridge.enable_icc": "maybe"}}, nil)
	if want := `networks.x.driver_opts.com.docker.network.bridge.enable_icc="maybe": not a boolean`; !errdefs.IsInvalidArgument(err) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("bad enable_icc: %v, want %q", err, want)
	}
}
