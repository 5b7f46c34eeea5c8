package reconciler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// hooksOf are the lifecycle hooks of s, as the engine runs them.
func hooksOf(s *spec.Service) Hooks {
	h := Hooks{Service: s.Name}
	for _, x := range s.PostStart {
		h.PostStart = append(h.PostStart, execConfig(x))
	}
	for _, x := range s.PreStop {
		h.PreStop = append(h.PreStop, execConfig(x))
	}
	return h
}

func execConfig(x spec.Hook) engine.ExecConfig {
	return engine.ExecConfig{
		Cmd: slices.Clone(x.Command), Env: slices.Clone(x.Environment), User: x.User,
		WorkingDir: x.WorkingDir, Privileged: x.Privileged,
	}
}

// hooksOfName are the hooks of the service called name in the file; none
// for a container whose service the file no longer has (or without a file).
func (b *builder) hooksOfName(name string) Hooks {
	if b.desired != nil {
		if i := slices.IndexFunc(b.desired.Services, func(s spec.Service) bool { return s.Name == name }); i >= 0 {
			return hooksOf(&b.desired.Services[i])
		}
	}
	return Hooks{Service: name}
}

// imageMountRefs are the images s mounts (volumes of type image), in file
// order.
func imageMountRefs(s *spec.Service) []string {
	var out []string
	for _, m := range s.Mounts {
		if m.Type == "image" && m.Source != "" {
			out = append(out, m.Source)
		}
	}
	return out
}

// endpointExtras sets the attachment's interface_name, link_local_ips and
// driver_opts: of the bridge driver's endpoint options, berth runs the
// interface's sysctls (com.docker.network.endpoint.sysctls).
func endpointExtras(s *spec.Service, sn spec.ServiceNetwork, ep *engine.EndpointConfig) error {
	at := fmt.Sprintf("service %q: networks.%s", s.Name, sn.Name)
	ep.InterfaceName = sn.InterfaceName
	for _, ip := range sn.LinkLocalIPs {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.IsLinkLocalUnicast() {
			return fmt.Errorf("%s.link_local_ips: %q is not a link-local address (169.254.0.0/16, fe80::/10): %w", at, ip, errdefs.ErrInvalidArgument)
		}
		ep.LinkLocalIPs = append(ep.LinkLocalIPs, a)
	}
	for _, k := range slices.Sorted(maps.Keys(sn.DriverOpts)) {
		if k != engine.EndpointSysctlsOption {
			return fmt.Errorf("%s.driver_opts: %q is not supported (supported: %s): %w", at, k, engine.EndpointSysctlsOption, errdefs.ErrNotImplemented)
		}
		sysctls, err := engine.ParseEndpointSysctls(sn.DriverOpts[k])
		if err != nil {
			return fmt.Errorf("%s.driver_opts: %w", at, err)
		}
		ep.Sysctls = sysctls
	}
	return nil
}
