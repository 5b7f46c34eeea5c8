package main

import (
	"fmt"

	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/spec"
)

// parsePublishes reads every -p/--publish value, in order, each as
// spec.ParsePublish does (docker's [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]).
// A bad value is errdefs.ErrInvalidArgument naming it
// (`-p "80:80:80": invalid IP address: 80`).
func parsePublishes(values []string) ([]netmgr.PortMapping, error) {
	var out []netmgr.PortMapping
	for _, v := range values {
		ms, err := spec.ParsePublish(v)
		if err != nil {
			return nil, fmt.Errorf("-p %q: %w", v, err)
		}
		out = append(out, ms...)
	}
	return out, nil
}
