package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Publisher is a published port of a container, with the keys of docker
// compose's `ps --format json`.
type Publisher struct {
	URL           string `json:"URL"` // host address: 0.0.0.0 for all
	TargetPort    int    `json:"TargetPort"`
	PublishedPort int    `json:"PublishedPort"`
	Protocol      string `json:"Protocol"`
}

// Publishers lists the container's published ports while it runs, sorted
// by target port, protocol and host address.
func (c *Container) Publishers() []Publisher {
	var out []Publisher
	for _, ns := range c.Networks {
		for _, p := range ns.Ports {
			ip := "0.0.0.0"
			if p.HostIP.IsValid() {
				ip = p.HostIP.String()
			}
			out = append(out, Publisher{URL: ip, TargetPort: int(p.ContainerPort), PublishedPort: int(p.HostPort), Protocol: string(p.Protocol)})
		}
	}
	slices.SortFunc(out, func(a, b Publisher) int {
		if a.TargetPort != b.TargetPort {
			return a.TargetPort - b.TargetPort
		}
		if a.Protocol != b.Protocol {
			return strings.Compare(a.Protocol, b.Protocol)
		}
		return strings.Compare(a.URL, b.URL)
	})
	return out
}

// attachOrder is the order networks are attached in (eth0, eth1, …):
// higher Priority first, else as configured.
func attachOrder(nets []EndpointConfig) []EndpointConfig {
	out := slices.Clone(nets)
	slices.SortStableFunc(out, func(a, b EndpointConfig) int { return b.Priority - a.Priority })
	return out
}

// gatewayNetwork is the network that gives the container its default
// route: the highest GwPriority, else the first attached.
func gatewayNetwork(nets []EndpointConfig) string {
	var best *EndpointConfig
	for _, nc := range attachOrder(nets) {
		if best == nil || nc.GwPriority > best.GwPriority {
			best = &nc
		}
	}
	if best == nil {
		return ""
	}
	return best.Network
}

// setNetworkMode applies the network mode to the spec: "host" leaves the
// network namespace out (the container uses the host's); "container:<ref>"
// joins the other container's (SpecInputs.NetNS, found by Start); "",
// "bridge" and "none" get a namespace of their own (with the networks'
// interfaces, or loopback only). A mode with networks is refused.
func setNetworkMode(l *specs.Linux, c ContainerConfig) error {
	switch {
	case c.NetworkMode == "" || c.NetworkMode == "bridge":
		return nil
	case c.NetworkMode == "none", c.NetworkMode == "host", strings.HasPrefix(c.NetworkMode, "container:") && len(c.NetworkMode) > len("container:"):
	default:
		return fmt.Errorf("network_mode %q: want host, none, bridge or container:<name>: %w", c.NetworkMode, errdefs.ErrInvalidArgument)
	}
	if len(c.Networks) > 0 || len(c.Ports) > 0 {
		return fmt.Errorf("network_mode %q: the container cannot also join networks or publish ports: %w", c.NetworkMode, errdefs.ErrInvalidArgument)
	}
	if c.NetworkMode == "host" {
		l.Namespaces = slices.DeleteFunc(l.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.NetworkNamespace })
	}
	return nil
}

// sharedNetns is the network namespace a "container:<ref>" container
// joins (the one of the other container's init, which must run), and the
// other container's endpoints, whose resolvers it uses too.
func (e *Engine) sharedNetns(ctx context.Context, c ContainerConfig) (string, []endpointRecord, bool, error) {
	ref, ok := strings.CutPrefix(c.NetworkMode, "container:")
	if !ok {
		return "", nil, false, nil
	}
	pid, err := e.runningPid(ctx, ref)
	if err != nil {
		return "", nil, true, fmt.Errorf("network_mode %q: %w", c.NetworkMode, err)
	}
	var eps []endpointRecord
	if dir, _, err := e.lookup(ref); err == nil {
		if eps, err = readEndpoints(dir); err != nil {
			return "", nil, true, fmt.Errorf("network_mode %q: %w", c.NetworkMode, err)
		}
	}
	// Only for resolv.conf: the ports and names stay the other container's.
	for i := range eps {
		eps[i].Ports, eps[i].Aliases = nil, nil
	}
	return fmt.Sprintf("/proc/%d/ns/net", pid), eps, true, nil
}
