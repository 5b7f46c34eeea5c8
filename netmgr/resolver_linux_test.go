package netmgr

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeUpstream is a DNS server on 127.0.0.1 that knows one name:
// elsewhere.test is 192.0.2.7.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		if q.Name != "elsewhere.test." {
			m.Rcode = dns.RcodeNameError
		} else if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 7)})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func queryA(t *testing.T, proto, server, name string) ([]string, int) {
	t.Helper()
	out, rcode, err := exchangeA(proto, server, name)
	if err != nil {
		t.Fatal(err)
	}
	return out, rcode
}

// exchangeA asks server for the A records of name. Unlike queryA it may be
// called on any goroutine (t.Fatal may not: inNetns would wait forever).
func exchangeA(proto, server, name string) ([]string, int, error) {
	c := &dns.Client{Net: proto, Timeout: 3 * time.Second}
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), dns.TypeA)
	resp, _, err := c.Exchange(req, server)
	if err != nil {
		return nil, 0, fmt.Errorf("query %s over %s to %s: %w", name, proto, server, err)
	}
	var out []string
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out, resp.Rcode, nil
}

func TestResolverOnTheBridge(t *testing.T) {
	up := fakeUpstream(t)
	e := newEnvWith(t, Options{Exe: os.Args[0], Upstreams: []string{up}})
	ctx := t.Context()
	nw := e.name("default")
	n := e.create(NetworkConfig{Name: nw})
	connect := func(id string, names ...string) *Endpoint {
		t.Helper()
		e.sandbox(id)
		began := time.Now()
		ep, err := e.m.ConnectWith(ctx, nw, id, ConnectOptions{IfName: "eth0", Names: names})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("connect %s: %s", id, time.Since(began))
		if ep.DNS != n.Gateway {
			t.Fatalf("endpoint DNS %s, want the gateway %s", ep.DNS, n.Gateway)
		}
		return ep
	}
	w1 := connect(e.prefix+"w1", "p-web-1", "web")
	w2 := connect(e.prefix+"w2", "p-web-2", "web")
	db := connect(e.prefix+"d1", "p-db-1", "db", "database")
	server := netip.AddrPortFrom(n.Gateway, 53).String()
	webs := []string{w1.Addr.String(), w2.Addr.String()}
	slices.Sort(webs)

	// From the host side, on the gateway.
	if got, _ := queryA(t, "udp", server, "web"); !slices.Equal(got, webs) {
		t.Errorf("web from the host: %q, want %q", got, webs)
	}
	// From inside a sandbox, UDP and TCP, names and aliases.
	for _, proto := range []string{"udp", "tcp"} {
		for name, want := range map[string][]string{"web": webs, "database": {db.Addr.String()}, "p-web-2": {w2.Addr.String()}} {
			var got []string
			if err := inNetns(e.m.sandboxPath(db.Sandbox), func() (err error) {
				got, _, err = exchangeA(proto, server, name)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s over %s from the db sandbox: %q, want %q", name, proto, got, want)
			}
		}
	}
	// Other names go to the upstream.
	if got, rc := queryA(t, "udp", server, "elsewhere.test"); !slices.Equal(got, []string{"192.0.2.7"}) {
		t.Errorf("forwarded: %q (rcode %d), want the upstream's answer", got, rc)
	}
	// Latency of an answer from the zone.
	const rounds = 200
	c := &dns.Client{Timeout: 3 * time.Second}
	req := new(dns.Msg)
	req.SetQuestion("web.", dns.TypeA)
	began := time.Now()
	for range rounds {
		if _, _, err := c.Exchange(req, server); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("DNS answer latency (host side, UDP): %s", time.Since(began)/rounds)
	if err := inNetns(e.m.sandboxPath(db.Sandbox), func() error {
		began := time.Now()
		for range rounds {
			if _, _, err := c.Exchange(req, server); err != nil {
				return err
			}
		}
		t.Logf("DNS answer latency (inside a sandbox, UDP): %s", time.Since(began)/rounds)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Answers follow containers going.
	if err := e.m.RemoveSandbox(ctx, w2.Sandbox); err != nil {
		t.Fatal(err)
	}
	if got, _ := queryA(t, "udp", server, "web"); !slices.Equal(got, []string{w1.Addr.String()}) {
		t.Errorf("web after a replica left: %q, want only %s", got, w1.Addr)
	}
	if _, rc := queryA(t, "udp", server, "p-web-2"); rc != dns.RcodeSuccess {
		t.Logf("p-web-2 gone: rcode %d", rc)
	}

	// The resolver goes with its network.
	rec, err := e.m.Get(ctx, nw)
	if err != nil || rec.Resolver == nil {
		t.Fatalf("record %+v, %v: no resolver recorded", rec, err)
	}
	for _, id := range []string{w1.Sandbox, db.Sandbox} {
		if err := e.m.RemoveSandbox(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.m.Remove(ctx, nw); err != nil {
		t.Fatal(err)
	}
	if processAlive(*rec.Resolver) {
		t.Errorf("resolver %d still runs after the network's removal", rec.Resolver.Pid)
	}
}

// TestResolverRestartsWhenDead: a resolver killed behind berth's back is
// started again by the next connection.
func TestResolverRestartsWhenDead(t *testing.T) {
	e := newEnvWith(t, Options{Exe: os.Args[0], Upstreams: []string{}})
	ctx := t.Context()
	nw := e.name("default")
	n := e.create(NetworkConfig{Name: nw})
	e.sandbox(e.prefix + "a")
	if _, err := e.m.ConnectWith(ctx, nw, e.prefix+"a", ConnectOptions{IfName: "eth0", Names: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.m.Get(ctx, nw)
	if err := stopProcess(rec.Resolver); err != nil {
		t.Fatal(err)
	}
	e.sandbox(e.prefix + "b")
	if _, err := e.m.ConnectWith(ctx, nw, e.prefix+"b", ConnectOptions{IfName: "eth0", Names: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	server := netip.AddrPortFrom(n.Gateway, 53).String()
	if got, _ := queryA(t, "udp", server, "a"); len(got) != 1 {
		t.Errorf("a: %q, want one address", got)
	}
	// No upstream: other names fail rather than leave the machine.
	if _, rc := queryA(t, "udp", server, "elsewhere.test"); rc != dns.RcodeServerFailure {
		t.Errorf("rcode %d without upstreams, want SERVFAIL", rc)
	}
}
