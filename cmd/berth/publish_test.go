package main

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
)

func TestParsePublish(t *testing.T) {
	type pb = netmgr.PortMapping
	lo, v6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	for _, tc := range []struct {
		spec string
		want []pb
	}{
		{"8080", []pb{{ContainerPort: 8080, Protocol: "tcp"}}},
		{"80:8080", []pb{{HostPort: 80, ContainerPort: 8080, Protocol: "tcp"}}},
		{"0:80", []pb{{ContainerPort: 80, Protocol: "tcp"}}},
		{"127.0.0.1::80", []pb{{HostIP: lo, ContainerPort: 80, Protocol: "tcp"}}},
		{"127.0.0.1:8080:80/udp", []pb{{HostIP: lo, HostPort: 8080, ContainerPort: 80, Protocol: "udp"}}},
		{"53/UDP", []pb{{ContainerPort: 53, Protocol: "udp"}}},
		{"[::1]:8080:80", []pb{{HostIP: v6, HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{"8000-8010:80", []pb{{HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: "tcp"}}},
		{"8000-8001:80-81", []pb{{HostPort: 8000, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 8001, ContainerPort: 81, Protocol: "tcp"}}},
		// Sorted by number, not as text.
		{"98-100", []pb{{ContainerPort: 98, Protocol: "tcp"}, {ContainerPort: 99, Protocol: "tcp"}, {ContainerPort: 100, Protocol: "tcp"}}},
	} {
		got, err := parsePublishes([]string{tc.spec})
		if err != nil {
			t.Errorf("-p %q: %v", tc.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("-p %q\n got %+v\nwant %+v", tc.spec, got, tc.want)
		}
	}
	for _, tc := range []struct{ spec, msg string }{
		{"", `-p "": empty`},
		{"80:80:80", `-p "80:80:80": invalid IP address: 80`},
		{"abc", `-p "abc": invalid containerPort: abc`},
		{"70000:80", `-p "70000:80": invalid hostPort: 70000`},
		{"80/sctp", `-p "80/sctp": protocol "sctp": want tcp or udp`},
		{"80/foo", `-p "80/foo"`},
		{"8000-8002:80-81", `-p "8000-8002:80-81"`},
		{"127.0.0.1:80", `-p "127.0.0.1:80"`},
		{"80:", `-p "80:"`},
	} {
		_, err := parsePublishes([]string{tc.spec})
		if !errdefs.IsInvalidArgument(err) || !strings.HasPrefix(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("-p %q: %v, want one line InvalidArgument starting %q", tc.spec, err, tc.msg)
		}
	}
}

// TestContainerNetworkOptions: without --network the container joins the
// default network; none, host and container: are network modes; -p goes
// with a network, is dropped with host and refused with none.
func TestContainerNetworkOptions(t *testing.T) {
	for _, tc := range []struct {
		network  string
		publish  []string
		networks []engine.EndpointConfig
		mode     string
		ports    []netmgr.PortMapping
		err      string
	}{
		{network: "", publish: []string{"127.0.0.1::80"}, networks: []engine.EndpointConfig{{Network: engine.DefaultNetwork}},
			ports: []netmgr.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), ContainerPort: 80, Protocol: "tcp"}}},
		{network: "bridge", networks: []engine.EndpointConfig{{Network: engine.DefaultNetwork}}},
		{network: "front", publish: []string{"8080:80", "53/udp"}, networks: []engine.EndpointConfig{{Network: "front"}},
			ports: []netmgr.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 53, Protocol: "udp"}}},
		{network: "none", mode: "none"},
		{network: "host", publish: []string{"80"}, mode: "host"},
		{network: "container:web", mode: "container:web"},
		{network: "none", publish: []string{"80"}, err: `-p "80": --network none: the container has no network to publish from`},
		{network: "front", publish: []string{"80", "x"}, err: `-p "x": invalid containerPort: x`},
	} {
		o := containerCreateOptions{network: tc.network, publish: tc.publish}
		c, err := o.config([]string{"busybox"})
		if tc.err != "" {
			if !errdefs.IsInvalidArgument(err) || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("--network %q -p %q: %v, want %q", tc.network, tc.publish, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("--network %q -p %q: %v", tc.network, tc.publish, err)
			continue
		}
		if !reflect.DeepEqual(c.Networks, tc.networks) || c.NetworkMode != tc.mode || !reflect.DeepEqual(c.Ports, tc.ports) {
			t.Errorf("--network %q -p %q: networks %+v mode %q ports %+v; want %+v %q %+v",
				tc.network, tc.publish, c.Networks, c.NetworkMode, c.Ports, tc.networks, tc.mode, tc.ports)
		}
	}
}

func TestContainerRmOptions(t *testing.T) {
	o := containerCreateOptions{rm: true}
	c, err := o.config([]string{"busybox"})
	if err != nil || !c.AutoRemove {
		t.Errorf("--rm: AutoRemove %v, err %v", c.AutoRemove, err)
	}
	o.restart = "always"
	if _, err := o.config([]string{"busybox"}); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "conflicting") {
		t.Errorf("--rm --restart always: %v, want conflicting options", err)
	}
	o.restart = "no"
	if _, err := o.config([]string{"busybox"}); err != nil {
		t.Errorf("--rm --restart no: %v", err)
	}
}
