package engine

import (
	"bytes"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/berth-dev/berth/netmgr"
)

// maxNameservers is the number of nameservers a libc resolver reads.
const maxNameservers = 3

// connectOptions is how the container attaches to a network: its
// interface, static address, the names the network's resolver answers with
// its address (container name, hostname, aliases), and the servers the
// resolver forwards its other names to (its dns:, as Docker's embedded DNS
// does).
func connectOptions(rec *record, nc EndpointConfig, ifname string, hostConf []byte) netmgr.ConnectOptions {
	names := append([]string{rec.Config.Name, containerHostname(rec.Config, rec.ID)}, nc.Aliases...)
	var ups []string
	for _, s := range rec.Config.DNS {
		if a, err := netip.ParseAddr(s); err == nil {
			ups = append(ups, netip.AddrPortFrom(a, 53).String())
		}
	}
	return netmgr.ConnectOptions{
		IfName: ifname, Addr: nc.Address, Addr6: nc.Address6, Names: names, Upstreams: ups, Search: searchDomains(hostConf, rec.Config),
		MAC: nc.MacAddress, NoDefaultRoute: nc.Network != gatewayNetwork(rec.Config.Networks),
		LinkLocal: slices.Clone(nc.LinkLocalIPs),
	}
}

// searchDomains are the container's search domains: dns_search, else the
// host's.
func searchDomains(host []byte, c ContainerConfig) []string {
	if len(c.DNSSearch) > 0 {
		return slices.DeleteFunc(slices.Clone(c.DNSSearch), func(d string) bool { return d == "." })
	}
	var out []string
	for _, line := range strings.Split(string(host), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[0] == "search" || f[0] == "domain") {
			out = append(out, f[1:]...)
		}
	}
	return out
}

// connectOptions is connectOptions with the host's resolver configuration
// read, and the container's published ports when publish (its first
// network: ports are published to its address there).
func (e *Engine) connectOptions(rec *record, nc EndpointConfig, ifname string, publish bool) netmgr.ConnectOptions {
	host, _ := os.ReadFile(e.hostResolvConf) // none: no search domains
	opt := connectOptions(rec, nc, ifname, host)
	if publish {
		opt.Ports = rec.Config.Ports
	}
	return opt
}

// resolvConfFor is the container's /etc/resolv.conf. On networks with a
// resolver it names the resolvers (the gateways) only, with ndots:0 as
// Docker's embedded DNS has, so that a bare service name is asked as is;
// the container's dns: servers are the resolvers' upstreams for it.
// Otherwise its servers are dns:, else the host's without loopback ones
// (else 8.8.8.8 and 8.8.4.4). dns_search and dns_opt replace the host's
// search and options lines.
func resolvConfFor(host []byte, c ContainerConfig, eps []endpointRecord) []byte {
	var resolvers []string
	for _, ep := range eps {
		if ep.DNS.IsValid() && !slices.Contains(resolvers, ep.DNS.String()) && len(resolvers) < maxNameservers {
			resolvers = append(resolvers, ep.DNS.String())
		}
	}
	if len(resolvers) == 0 && len(c.DNS) == 0 && len(c.DNSSearch) == 0 && len(c.DNSOptions) == 0 {
		return containerResolvConf(host)
	}
	var search, options, other []string
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
		case "search", "domain":
			search = append(search, f[1:]...)
		case "options":
			options = append(options, f[1:]...)
		default:
			if !strings.HasPrefix(f[0], "#") && !strings.HasPrefix(f[0], ";") {
				other = append(other, line)
			}
		}
	}
	if len(c.DNSSearch) > 0 {
		search = onlyFields(c.DNSSearch)
	}
	if len(c.DNSOptions) > 0 {
		options = onlyFields(c.DNSOptions)
	}
	var b bytes.Buffer
	switch {
	case len(resolvers) > 0:
		for _, r := range resolvers {
			b.WriteString("nameserver " + r + "\n")
		}
		if !slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
			options = append(slices.Clip(options), "ndots:0")
		}
	case len(c.DNS) > 0:
		for _, s := range onlyFields(c.DNS) {
			b.WriteString("nameserver " + s + "\n")
		}
	default:
		for _, line := range strings.Split(string(containerResolvConf(host)), "\n") {
			if strings.HasPrefix(line, "nameserver ") {
				b.WriteString(line + "\n")
			}
		}
	}
	if len(search) > 0 && !(len(search) == 1 && search[0] == ".") {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	for _, l := range other {
		b.WriteString(l + "\n")
	}
	return b.Bytes()
}

// onlyFields is list without the entries that are not one field (see
// oneField).
func onlyFields(list []string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return !oneField(s) })
}
