package netmgr

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestMain(m *testing.M) {
	// The privileged tests start this test binary as the resolver.
	if len(os.Args) > 1 && os.Args[1] == "resolver" {
		os.Exit(ResolverMain(os.Args[2:]))
	}
	// TestSubnetRaceBetweenProcesses starts this test binary as a berth
	// process of another root.
	if os.Getenv(raceChildEnv) != "" {
		os.Exit(raceChildMain())
	}
	os.Exit(testutil.MainLocked(m.Run, false))
}

func testZone() *zone {
	a := netip.MustParseAddr
	return &zone{nets: map[string]*Network{
		"p_front": {Name: "p_front", Endpoints: map[string]Endpoint{
			"w1": {Sandbox: "w1", Addr: a("10.1.0.2"), Names: []string{"p-web-1", "web", "www"}},
			"w2": {Sandbox: "w2", Addr: a("10.1.0.3"), Names: []string{"p-web-2", "web", "www"}},
			"c1": {Sandbox: "c1", Addr: a("10.1.0.4"), Names: []string{"p-client-1", "client"}, Upstreams: []string{"192.0.2.1:53"}, Search: []string{"example.test"}},
		}},
		"p_back": {Name: "p_back", Endpoints: map[string]Endpoint{
			"w1": {Sandbox: "w1", Addr: a("10.2.0.2"), Names: []string{"p-web-1", "web"}},
			"d1": {Sandbox: "d1", Addr: a("10.2.0.3"), Names: []string{"p-db-1", "db", "database"}},
		}},
	}}
}

func TestResolverAnswer(t *testing.T) {
	z := testZone()
	a := netip.MustParseAddr
	tests := []struct {
		name     string
		network  string
		src      netip.Addr
		q        string
		qtype    uint16
		want     []string // A records, or PTR targets
		forward  bool
		upstream []string
	}{
		{name: "replicas give every address", network: "p_front", src: a("10.1.0.4"), q: "web.", qtype: dns.TypeA, want: []string{"10.1.0.2", "10.1.0.3"}},
		{name: "alias", network: "p_front", src: a("10.1.0.4"), q: "WWW.", qtype: dns.TypeA, want: []string{"10.1.0.2", "10.1.0.3"}},
		{name: "container name", network: "p_front", src: a("10.1.0.4"), q: "p-web-2.", qtype: dns.TypeA, want: []string{"10.1.0.3"}},
		{name: "other network of the querier", network: "p_front", src: a("10.1.0.2"), q: "db.", qtype: dns.TypeA, want: []string{"10.2.0.3"}},
		{name: "network the querier is not on", network: "p_front", src: a("10.1.0.4"), q: "db.", qtype: dns.TypeA, forward: true, upstream: []string{"192.0.2.1:53"}},
		{name: "both networks of a name", network: "p_back", src: a("10.2.0.2"), q: "p-web-1.", qtype: dns.TypeA, want: []string{"10.1.0.2", "10.2.0.2"}},
		{name: "unknown querier sees the network only", network: "p_back", src: a("10.2.0.1"), q: "web.", qtype: dns.TypeA, want: []string{"10.2.0.2"}},
		{name: "name with the querier's search domain", network: "p_front", src: a("10.1.0.4"), q: "web.Example.test.", qtype: dns.TypeA, want: []string{"10.1.0.2", "10.1.0.3"}},
		{name: "search domain of another querier", network: "p_front", src: a("10.1.0.2"), q: "web.example.test.", qtype: dns.TypeA, forward: true},
		{name: "AAAA of a container name is empty", network: "p_front", src: a("10.1.0.4"), q: "web.", qtype: dns.TypeAAAA},
		{name: "outside name goes upstream", network: "p_back", src: a("10.2.0.3"), q: "example.org.", qtype: dns.TypeA, forward: true},
		{name: "reverse", network: "p_back", src: a("10.2.0.2"), q: "3.0.2.10.in-addr.arpa.", qtype: dns.TypePTR, want: []string{"p-db-1."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := new(dns.Msg)
			req.SetQuestion(tc.q, tc.qtype)
			resp, fwd, ups := z.answer(tc.network, tc.src, req)
			if fwd != tc.forward || !slices.Equal(ups, tc.upstream) {
				t.Fatalf("forward = %v %q, want %v %q", fwd, ups, tc.forward, tc.upstream)
			}
			if fwd {
				return
			}
			var got []string
			for _, rr := range resp.Answer {
				switch rr := rr.(type) {
				case *dns.A:
					got = append(got, rr.A.String())
				case *dns.PTR:
					got = append(got, rr.Ptr)
				}
			}
			if !slices.Equal(got, tc.want) || resp.Rcode != dns.RcodeSuccess {
				t.Errorf("answer %q rcode %d, want %q", got, resp.Rcode, tc.want)
			}
		})
	}
}

func TestHostUpstreams(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	conf := "search example.com\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nnameserver bogus\nnameserver 2001:db8::1\n"
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := hostUpstreams(p)
	want := []string{"127.0.0.53:53", "192.0.2.1:53", "[2001:db8::1]:53"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("hostUpstreams = %q, %v; want %q", got, err, want)
	}
}
