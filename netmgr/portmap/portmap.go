// Package portmap is a published port in the form netmgr publishes it.
// The text of a port (a Compose file's ports, a -p flag, an old container
// record) is parsed into a Mapping once, where it enters berth, and every
// layer after that passes the Mapping on untouched.
//
// It imports nothing of berth, so that spec can parse into it without
// depending on the rest of netmgr (internal/archtest allows spec this one
// package of netmgr, and checks that it stays a leaf).
package portmap

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// Protocol is the transport protocol of a published port.
type Protocol string

// The protocols berth publishes. SCTP, which Docker also publishes, is not
// one: berth's NAT rules are for tcp and udp only, so it is refused where
// it is parsed rather than when the container starts.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// ErrProtocol is the error of a protocol other than tcp and udp.
var ErrProtocol = fmt.Errorf("want tcp or udp: %w", errdefs.ErrInvalidArgument)

// ParseProtocol reads "tcp" or "udp", in any case. Anything else, sctp and
// the empty string included, is ErrProtocol (errdefs.ErrInvalidArgument):
// the default, when there is one, is the caller's to apply.
func ParseProtocol(s string) (Protocol, error) {
	switch p := Protocol(strings.ToLower(s)); p {
	case TCP, UDP:
		return p, nil
	}
	return "", fmt.Errorf("protocol %q: %w", s, ErrProtocol)
}

// Mapping publishes a container port on the host. A mapping with no HostIP
// is published on every address of the host (see netmgr.PortMapping for
// what that means with IPv6).
type Mapping struct {
	HostIP netip.Addr `json:"host_ip,omitzero"` // zero: every address of the host
	// HostPort is the host port; 0 asks for one from the ephemeral range.
	HostPort uint16 `json:"host_port"`
	// HostPortEnd, when not 0, asks for a free port in HostPort..HostPortEnd
	// (1 <= HostPort <= HostPortEnd). Once the port is chosen it is 0.
	HostPortEnd   uint16   `json:"host_port_end,omitzero"`
	ContainerPort uint16   `json:"container_port"` // 1-65535
	Protocol      Protocol `json:"protocol"`
}

// String is the mapping as Docker prints it: 0.0.0.0:8080->80/tcp.
func (m Mapping) String() string {
	ip := m.HostIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return fmt.Sprintf("%s->%d/%s", netip.AddrPortFrom(ip, m.HostPort), m.ContainerPort, m.Protocol)
}

// HostPorts is the host side as Compose writes it: "" (ephemeral), "8080",
// or "8000-8010", which Parse reads back.
func (m Mapping) HostPorts() string {
	switch {
	case m.HostPort == 0:
		return ""
	case m.HostPortEnd == 0:
		return strconv.Itoa(int(m.HostPort))
	default:
		return strconv.Itoa(int(m.HostPort)) + "-" + strconv.Itoa(int(m.HostPortEnd))
	}
}

// Parse makes a Mapping of a port's parts written as text, as Compose,
// Docker and version 1 container records have them:
//
//   - hostIP: an IP address, or "" for every address of the host;
//   - hostPorts: "" or "0" (an ephemeral port, as with Docker), "8080", or a
//     range "8000-8010" to choose a free port from ("8080-8080" is kept as a
//     range of one);
//   - containerPort: 1-65535;
//   - protocol: as ParseProtocol reads it. No default applies: the caller's
//     syntax decides it.
//
// A part that is none of these is errdefs.ErrInvalidArgument naming it.
func Parse(hostIP, hostPorts string, containerPort int, protocol string) (Mapping, error) {
	var m Mapping
	var err error
	if containerPort <= 0 || containerPort > 65535 {
		return m, fmt.Errorf("container port %d: want 1-65535: %w", containerPort, errdefs.ErrInvalidArgument)
	}
	m.ContainerPort = uint16(containerPort)
	if m.Protocol, err = ParseProtocol(protocol); err != nil {
		return m, err
	}
	if m.HostPort, m.HostPortEnd, err = parseHostPorts(hostPorts); err != nil {
		return m, err
	}
	if hostIP != "" {
		if m.HostIP, err = netip.ParseAddr(hostIP); err != nil {
			return m, fmt.Errorf("host address %q is not an IP address: %w", hostIP, errdefs.ErrInvalidArgument)
		}
	}
	return m, nil
}

// parseHostPorts reads the host ports of Parse, into Mapping's HostPort and
// HostPortEnd.
func parseHostPorts(s string) (port, end uint16, err error) {
	if s == "" {
		return 0, 0, nil
	}
	bad := fmt.Errorf("host port %q: want 1-65535, or a range such as 8000-8010: %w", s, errdefs.ErrInvalidArgument)
	lo, hi, isRange := strings.Cut(s, "-")
	port, ok := parsePort(lo)
	if !ok {
		return 0, 0, bad
	}
	if !isRange {
		return port, 0, nil
	}
	end, ok = parsePort(hi)
	if !ok || port == 0 || end < port {
		return 0, 0, bad
	}
	return port, end, nil
}

// parsePort reads a port number, 0-65535, in decimal digits only.
func parsePort(s string) (uint16, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}
