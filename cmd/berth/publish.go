package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/netmgr/portmap"
)

// parsePublish reads one -p/--publish value, docker's
// [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]:
//
//	8080                 container port 8080 on an ephemeral host port, every address
//	127.0.0.1::80        port 80 on an ephemeral port of 127.0.0.1
//	8080:80/udp          host port 8080 to container port 80, udp
//	8000-8001:80-81      two bindings, port for port
//	8000-8010:80         one binding, to a free host port of the range
//	[::1]:8080:80        an IPv6 host address, in brackets
//
// A host port of 0 is an ephemeral one, as with docker; the protocol is tcp
// (default) or udp. The bindings come sorted by container port. A value
// that is none of these is errdefs.ErrInvalidArgument naming it
// (`-p "80:80:80": invalid IP address: 80`).
func parsePublish(spec string) ([]netmgr.PortMapping, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("-p %q: %s: %w", spec, fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
	}
	if strings.TrimSpace(spec) == "" {
		return nil, bad("empty: want [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")
	}
	ports, err := types.ParsePortConfig(spec)
	if err != nil {
		return nil, bad("%s", err)
	}
	out := make([]netmgr.PortMapping, 0, len(ports))
	for _, p := range ports {
		m, err := portmap.Parse(p.HostIP, p.Published, int(p.Target), p.Protocol)
		if err != nil {
			return nil, fmt.Errorf("-p %q: %w", spec, err)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, bad("no port: want [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")
	}
	slices.SortStableFunc(out, func(a, b netmgr.PortMapping) int {
		return cmp.Or(cmp.Compare(a.ContainerPort, b.ContainerPort), strings.Compare(string(a.Protocol), string(b.Protocol)))
	})
	return out, nil
}

// parsePublishes reads every -p value, in order.
func parsePublishes(specs []string) ([]netmgr.PortMapping, error) {
	var out []netmgr.PortMapping
	for _, s := range specs {
		ps, err := parsePublish(s)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}
