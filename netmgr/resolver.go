package netmgr

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// The resolver is berth's DNS server for a network: the berth binary
// re-executed as `berth resolver --root R --network N [--upstream A:P]…`
// (hidden), detached into its own session, listening on the network's
// gateway, port 53, UDP and TCP (and on its IPv6 gateway, for a network
// with IPv6). It answers A and AAAA queries (AAAA empty for an endpoint
// without an IPv6 address) and PTR queries for the names of the endpoints
// (Endpoint.Names) of every network the querying sandbox is attached to,
// and forwards other names to the querying
// endpoint's own upstreams (Endpoint.Upstreams) or else to its --upstream
// servers. It holds no lock: it reads the records, which are replaced
// atomically, again whenever the records directory changes (its mtime), so
// its answers follow containers as they come and go. It exits when its
// network's record is gone or holds another network ID, or on SIGTERM.

// resolverTTL is the TTL of the answers for container names: short, since
// containers come and go.
const resolverTTL = 5

// forwardTimeout bounds one exchange with an upstream server.
const forwardTimeout = 2 * time.Second

// settleTime is how long after a change of the records directory its
// mtime is trusted to tell a later change (timestamps are coarse).
const settleTime = 100 * time.Millisecond

// resolverPoll is how often the resolver checks that its network still
// exists.
const resolverPoll = time.Second

// zone is what the resolver knows, built from every network record of the
// root.
type zone struct {
	nets map[string]*Network // by name
}

// sandboxAt returns the endpoint of network name at address a.
func (z *zone) sandboxAt(network string, a netip.Addr) (Endpoint, bool) {
	n, ok := z.nets[network]
	if !ok {
		return Endpoint{}, false
	}
	for _, ep := range n.Endpoints {
		if ep.Addr == a || ep.Addr6.IsValid() && ep.Addr6 == a {
			return ep, true
		}
	}
	return Endpoint{}, false
}

// scope lists the networks whose names the querier at address src on
// network sees: every network its sandbox is attached to, else only
// network itself (the host, for instance).
func (z *zone) scope(network string, src netip.Addr) (nets []*Network, querier Endpoint, known bool) {
	ep, ok := z.sandboxAt(network, src)
	if !ok {
		if n := z.nets[network]; n != nil {
			return []*Network{n}, Endpoint{}, false
		}
		return nil, Endpoint{}, false
	}
	for _, n := range z.sortedNets() {
		if _, ok := n.Endpoints[ep.Sandbox]; ok {
			nets = append(nets, n)
		}
	}
	return nets, ep, true
}

func (z *zone) sortedNets() []*Network {
	out := make([]*Network, 0, len(z.nets))
	for _, n := range z.nets {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *Network) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// lookup returns the addresses (IPv4 and IPv6) of name (lower case, no
// trailing dot) on nets, sorted and without duplicates.
func lookup(nets []*Network, name string) []netip.Addr {
	var out []netip.Addr
	for _, n := range nets {
		for _, ep := range n.Endpoints {
			for _, nm := range ep.Names {
				if strings.EqualFold(nm, name) {
					out = append(out, ep.Addr)
					if ep.Addr6.IsValid() {
						out = append(out, ep.Addr6)
					}
					break
				}
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// reverse returns the names of address a on nets, for PTR queries.
func reverse(nets []*Network, a netip.Addr) []string {
	var out []string
	for _, n := range nets {
		for _, ep := range n.Endpoints {
			if (ep.Addr == a || ep.Addr6.IsValid() && ep.Addr6 == a) && len(ep.Names) > 0 {
				out = append(out, ep.Names[0])
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// answer builds the reply to req from the zone, for a querier at src on
// network. forward is false when the reply is final; true when the name is
// not berth's and the query should go upstream (to upstreams, the querier's
// own when it has some).
func (z *zone) answer(network string, src netip.Addr, req *dns.Msg) (resp *dns.Msg, forward bool, upstreams []string) {
	resp = new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp, false, nil
	}
	q := req.Question[0]
	nets, querier, _ := z.scope(network, src)
	upstreams = querier.Upstreams
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	if q.Qclass != dns.ClassINET {
		return resp, true, upstreams
	}
	if q.Qtype == dns.TypePTR {
		if a, ok := ptrAddr(name); ok {
			if names := reverse(nets, a); len(names) > 0 {
				resp.Authoritative = true
				for _, nm := range names {
					resp.Answer = append(resp.Answer, &dns.PTR{
						Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: resolverTTL},
						Ptr: dns.Fqdn(nm),
					})
				}
				return resp, false, nil
			}
		}
		return resp, true, upstreams
	}
	addrs := lookup(nets, name)
	for _, d := range querier.Search {
		if len(addrs) > 0 {
			break
		}
		if short, ok := strings.CutSuffix(name, "."+strings.ToLower(strings.Trim(d, "."))); ok && short != "" {
			addrs = lookup(nets, short)
		}
	}
	if len(addrs) == 0 {
		return resp, true, upstreams
	}
	resp.Authoritative = true
	for _, a := range addrs {
		switch {
		case a.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			resp.Answer = append(resp.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: resolverTTL},
				A:   net.IP(a.AsSlice()),
			})
		case a.Is6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
			resp.Answer = append(resp.Answer, &dns.AAAA{
				Hdr:  dns.RR_Header{Name: q.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: resolverTTL},
				AAAA: net.IP(a.AsSlice()),
			})
		}
	}
	// Other types of a container name: no data (NOERROR, empty), as Docker.
	return resp, false, nil
}

// ptrAddr parses d.c.b.a.in-addr.arpa and the 32 nibbles of an
// ip6.arpa name.
func ptrAddr(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		nib := strings.Split(rest, ".")
		if len(nib) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, s := range nib {
			if len(s) != 1 {
				return netip.Addr{}, false
			}
			v, err := strconv.ParseUint(s, 16, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			pos := 31 - i // nibbles come least significant first
			b[pos/2] |= byte(v) << (4 * (1 - pos%2))
		}
		return netip.AddrFrom16(b), true
	}
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	p := strings.Split(rest, ".")
	if len(p) != 4 {
		return netip.Addr{}, false
	}
	slices.Reverse(p)
	a, err := netip.ParseAddr(strings.Join(p, "."))
	return a, err == nil && a.Is4()
}

// resolverLog is where network's resolver writes its errors.
func (m *Manager) resolverLog(network string) string {
	return filepath.Join(m.opt.RunDir, "resolvers", network+".log")
}

// resolver serves one network.
type resolver struct {
	root      string
	network   string
	upstreams []string // host:port

	mu      sync.Mutex // guards the fields below
	dirMod  time.Time  // the records directory's mtime when current was read
	readAt  time.Time  // when current was read
	current *zone
}

// zone returns the zone, re-read when the records directory changed.
func (r *resolver) zone() (*zone, error) {
	dir := recordsDir(r.root)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A read less than settleTime after the last change may have missed a
	// second change within the same timestamp tick: read again.
	if r.current != nil && st.ModTime().Equal(r.dirMod) && r.readAt.Sub(r.dirMod) > settleTime {
		return r.current, nil
	}
	readAt := time.Now()
	nets, err := readAllIn(dir)
	if err != nil {
		return nil, err
	}
	z := &zone{nets: map[string]*Network{}}
	for _, n := range nets {
		z.nets[n.Name] = n
	}
	r.current, r.dirMod, r.readAt = z, st.ModTime(), readAt
	return z, nil
}

// ServeDNS answers one query.
func (r *resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	var src netip.Addr
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		src = ap.Addr().Unmap()
	}
	z, err := r.zone()
	if err != nil {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		_ = w.WriteMsg(m)
		return
	}
	resp, forward, ups := z.answer(r.network, src, req)
	if forward {
		if len(ups) == 0 {
			ups = r.upstreams
		}
		resp = r.forward(req, ups, isTCP(w))
	}
	_ = w.WriteMsg(resp)
}

func isTCP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.TCPAddr)
	return ok
}

// forward asks the upstreams in turn; SERVFAIL when none answers.
func (r *resolver) forward(req *dns.Msg, upstreams []string, tcp bool) *dns.Msg {
	c := &dns.Client{Timeout: forwardTimeout}
	if tcp {
		c.Net = "tcp"
	}
	for _, u := range upstreams {
		resp, _, err := c.Exchange(req, u)
		if err == nil && resp != nil && resp.Truncated && !tcp {
			tc := &dns.Client{Net: "tcp", Timeout: forwardTimeout}
			if r2, _, err2 := tc.Exchange(req, u); err2 == nil {
				resp = r2
			}
		}
		if err == nil && resp != nil {
			return resp
		}
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

// ResolverMain runs the resolver (`berth resolver …`, hidden) and returns
// the process's exit code. File descriptor 3, when open, is the readiness
// pipe: given "ready" once the resolver listens, or the error that stopped
// it first.
func ResolverMain(args []string) int {
	fs := flag.NewFlagSet("resolver", flag.ContinueOnError)
	root := fs.String("root", "", "state root")
	network := fs.String("network", "", "network name")
	var ups stringList
	fs.Var(&ups, "upstream", "upstream server host:port (repeatable)")
	ready := os.NewFile(3, "ready")
	report := func(err error) int {
		fmt.Fprintln(os.Stderr, "berth resolver:", err)
		if ready != nil {
			_, _ = io.WriteString(ready, err.Error())
			_ = ready.Close()
		}
		return 1
	}
	if err := fs.Parse(args); err != nil {
		return report(err)
	}
	if *root == "" || *network == "" {
		return report(errors.New("--root and --network are required"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done, err := serveResolver(ctx, *root, *network, ups)
	if err != nil {
		return report(err)
	}
	if ready != nil {
		_, _ = io.WriteString(ready, "ready")
		_ = ready.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "berth resolver:", err)
		return 1
	}
	return 0
}

// serveResolver starts serving network's gateway and returns a channel that
// yields once the resolver stopped: ctx ended or the network is gone (nil).
func serveResolver(ctx context.Context, root, network string, upstreams []string) (<-chan error, error) {
	n, err := readRecordIn(recordsDir(root), network)
	if err != nil {
		return nil, err
	}
	r := &resolver{root: root, network: network, upstreams: upstreams}
	gws := []netip.Addr{n.Gateway}
	if n.Gateway6.IsValid() {
		gws = append(gws, n.Gateway6)
	}
	var servers []*dns.Server
	closeAll := func() {
		for _, s := range servers {
			if s.PacketConn != nil {
				_ = s.PacketConn.Close()
			}
			if s.Listener != nil {
				_ = s.Listener.Close()
			}
		}
	}
	for _, gw := range gws {
		udpNet, tcpNet := "udp4", "tcp4"
		if gw.Is6() {
			udpNet, tcpNet = "udp6", "tcp6"
		}
		addr := netip.AddrPortFrom(gw, 53).String()
		pc, err := net.ListenPacket(udpNet, addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("network %q: resolver: %w", network, err)
		}
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: r})
		ln, err := net.Listen(tcpNet, addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("network %q: resolver: %w", network, err)
		}
		servers = append(servers, &dns.Server{Listener: ln, Handler: r})
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.ActivateAndServe() }()
	}
	done := make(chan error, 1)
	go func() {
		t := time.NewTicker(resolverPoll)
		defer t.Stop()
		var res error
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case err := <-errc:
				res = err
				break loop
			case <-t.C:
				cur, err := readRecordIn(recordsDir(root), network)
				if err != nil || cur.ID != n.ID {
					break loop // the network is gone
				}
			}
		}
		for _, s := range servers {
			_ = s.Shutdown()
		}
		done <- res
	}()
	return done, nil
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// hostUpstreams reads the nameservers of a resolv.conf as host:port. The
// resolver runs in the host's namespace, so loopback servers (a local
// caching resolver) are reachable from it and kept.
func hostUpstreams(resolvConf string) ([]string, error) {
	b, err := os.ReadFile(resolvConf)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		out = append(out, netip.AddrPortFrom(a, 53).String())
	}
	return out, nil
}

// dedupeNames drops empty and repeated names, keeping the order.
func dedupeNames(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
