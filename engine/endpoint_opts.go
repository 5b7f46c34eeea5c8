package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
)

// EndpointSysctlsOption is Docker's endpoint driver option that sets the
// container interface's sysctls: "net.ipv4.conf.IFNAME.log_martians=1,…".
const EndpointSysctlsOption = "com.docker.network.endpoint.sysctls"

// ParseEndpointSysctls reads the value of EndpointSysctlsOption: comma
// separated KEY=VALUE, each key net.ipv4.conf.IFNAME.… or
// net.ipv6.conf.IFNAME.…, IFNAME standing for the interface, as Docker
// takes it. Anything else is errdefs.ErrInvalidArgument.
func ParseEndpointSysctls(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %q is not KEY=VALUE: %w", EndpointSysctlsOption, kv, errdefs.ErrInvalidArgument)
		}
		if !strings.HasPrefix(k, "net.ipv4.conf.IFNAME.") && !strings.HasPrefix(k, "net.ipv6.conf.IFNAME.") {
			return nil, fmt.Errorf("%s: %q: only net.ipv4.conf.IFNAME.* and net.ipv6.conf.IFNAME.* are per interface: %w", EndpointSysctlsOption, k, errdefs.ErrInvalidArgument)
		}
		out[k] = val
	}
	return out, nil
}

// endpointSysctls are the interface settings of a container's endpoints,
// IFNAME replaced by the name each interface got.
func endpointSysctls(ncs []EndpointConfig, eps []endpointRecord) map[string]string {
	var out map[string]string
	for _, nc := range ncs {
		if len(nc.Sysctls) == 0 {
			continue
		}
		for _, ep := range eps {
			if ep.Network != nc.Network {
				continue
			}
			if out == nil {
				out = map[string]string{}
			}
			for k, v := range nc.Sysctls {
				out[strings.Replace(k, ".IFNAME.", "."+ep.IfName+".", 1)] = v
			}
		}
	}
	return out
}

// checkEndpointSysctls checks the keys of every endpoint's Sysctls.
func checkEndpointSysctls(ncs []EndpointConfig) error {
	for _, nc := range ncs {
		for _, k := range slices.Sorted(maps.Keys(nc.Sysctls)) {
			if !strings.HasPrefix(k, "net.ipv4.conf.IFNAME.") && !strings.HasPrefix(k, "net.ipv6.conf.IFNAME.") {
				return fmt.Errorf("networks: %s: sysctl %q: want net.ipv4.conf.IFNAME.* or net.ipv6.conf.IFNAME.*: %w", nc.Network, k, errdefs.ErrInvalidArgument)
			}
		}
	}
	return nil
}

// LogDriverNone is the log driver that keeps nothing (LogConfig.Driver).
const LogDriverNone = "none"
