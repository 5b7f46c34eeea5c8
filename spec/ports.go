package spec

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/netmgr/portmap"
)

// modeIngress is a port's mode when the file gives none, as in Compose.
const modeIngress = "ingress"

// ports converts a service's ports, which compose-go has already read from
// either syntax (short-syntax ranges of container ports expanded), in
// order. A malformed port is a FieldError naming it, without File, which
// the loader fills in. A port of a protocol berth does not publish yet
// (sctp) is not malformed: it is left out, and Project.CheckSupported
// reports it (supportedFields), as it does every value berth does not run,
// so that `berth config` still prints the project.
func ports(service string, in []types.ServicePortConfig) ([]Port, []FieldError) {
	var out []Port
	var errs []FieldError
	for i, p := range in {
		m, err := portMapping(p)
		if errors.Is(err, portmap.ErrProtocol) {
			continue
		}
		if err != nil {
			errs = append(errs, FieldError{
				Path:  fmt.Sprintf("services.%s.ports[%d]", service, i),
				Issue: strings.TrimSuffix(err.Error(), ": "+errdefs.ErrInvalidArgument.Error()),
				Err:   errdefs.ErrInvalidArgument,
			})
			continue
		}
		out = append(out, Port{Mapping: m, Mode: cmp.Or(p.Mode, modeIngress)})
	}
	return out, errs
}

// portMapping converts one port of compose-go's into the mapping netmgr
// publishes. This is where a port's protocol defaults to tcp, and the only
// place. errdefs.ErrInvalidArgument names the part at fault.
func portMapping(p types.ServicePortConfig) (portmap.Mapping, error) {
	return portmap.Parse(p.HostIP, p.Published, int(p.Target), cmp.Or(p.Protocol, string(portmap.TCP)))
}

// publishSyntax is the syntax of ParsePublish, for its errors.
const publishSyntax = "[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]"

// ParsePublish reads the value of a -p/--publish flag, Docker's
// [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO], the short syntax of a
// Compose file's ports:
//
//	8080                 container port 8080 on an ephemeral host port, every address
//	127.0.0.1::80        port 80 on an ephemeral port of 127.0.0.1
//	8080:80/udp          host port 8080 to container port 80, udp
//	8000-8001:80-81      two mappings, port for port
//	8000-8010:80         one mapping, to a free host port of the range
//	[::1]:8080:80        an IPv6 host address, in brackets
//
// A host port of 0 is an ephemeral one, as with Docker; the protocol is tcp
// (the default) or udp. The mappings come sorted by container port. A value
// that is none of these is errdefs.ErrInvalidArgument saying why ("invalid
// IP address: 80"), without the value, which the caller names.
func ParsePublish(s string) ([]portmap.Mapping, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty: want %s: %w", publishSyntax, errdefs.ErrInvalidArgument)
	}
	in, err := types.ParsePortConfig(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("no port: want %s: %w", publishSyntax, errdefs.ErrInvalidArgument)
	}
	out := make([]portmap.Mapping, 0, len(in))
	for _, p := range in {
		m, err := portMapping(p)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b portmap.Mapping) int {
		return cmp.Or(cmp.Compare(a.ContainerPort, b.ContainerPort), strings.Compare(string(a.Protocol), string(b.Protocol)))
	})
	return out, nil
}
