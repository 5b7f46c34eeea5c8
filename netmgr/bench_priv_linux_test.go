package netmgr

// Privileged benchmarks of the network side of a container start and of
// name resolution inside a container:
//
//	go test -run '^$' -bench . -benchtime 3x ./netmgr/
//
// BenchmarkAttach times what the engine asks of netmgr per container:
// CreateSandbox (namespace, lo up) and ConnectWith (address from the IPAM,
// veth pair, address, MAC and default route inside, bridge port, the
// endpoint's names recorded for the resolver, the resolver checked), for
// one container and for twenty at once, on a network whose resolver
// already runs; "first-on-new-network" adds Create and the resolver's start.
// BenchmarkResolve times DNS answers (UDP) seen from inside a sandbox's
// namespace, asked of its network's resolver: a container's name, and a
// name the resolver forwards to its upstream, a fake server on 127.0.0.1.
// Nothing leaves the machine. Both skip without root.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

// benchNet is one benchmark's manager and network, removed with every
// sandbox at the end.
type benchNet struct {
	b      *testing.B
	m      *Manager
	root   string
	prefix string // of every network and sandbox name
	name   string // the network
}

func newBenchNet(b *testing.B, upstream string) *benchNet {
	b.Helper()
	testutil.RequirePrivileged(b)
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		b.Fatal(err)
	}
	bn := &benchNet{b: b, root: b.TempDir(), prefix: "b" + hex.EncodeToString(r[:])}
	bn.name = bn.prefix + "_default"
	m, err := New(Options{Root: bn.root, RunDir: b.TempDir(), Exe: os.Args[0], Upstreams: []string{upstream}})
	if err != nil {
		b.Fatal(err)
	}
	bn.m = m
	b.Cleanup(bn.teardown)
	return bn
}

// attach is one container's share: its sandbox, connected to the network
// with its names.
func (bn *benchNet) attach(ctx context.Context, id string, names ...string) (*Endpoint, error) {
	if _, err := bn.m.CreateSandbox(ctx, id); err != nil {
		return nil, err
	}
	return bn.m.ConnectWith(ctx, bn.name, id, ConnectOptions{IfName: "eth0", Names: names})
}

// detachAll removes the sandboxes ids, at once.
func (bn *benchNet) detachAll(ids []string) {
	bn.b.Helper()
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(8)
	for _, id := range ids {
		g.Go(func() error { return bn.m.RemoveSandbox(ctx, id) })
	}
	if err := g.Wait(); err != nil {
		bn.b.Fatal(err)
	}
}

// teardown removes every sandbox and network of the root, then fails the
// benchmark for any link or process of it that is left (and removes it).
func (bn *benchNet) teardown() {
	ctx := context.Background() // b.Context is cancelled before clean-up runs
	nets, err := bn.m.List(ctx, nil)
	if err != nil {
		bn.b.Errorf("teardown: %v", err)
	}
	for _, n := range nets {
		for id := range n.Endpoints {
			if err := bn.m.RemoveSandbox(ctx, id); err != nil {
				bn.b.Errorf("teardown: %v", err)
			}
		}
		if err := bn.m.Remove(ctx, n.Name); err != nil {
			bn.b.Errorf("teardown: %v", err)
		}
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Alias, "berth:"+bn.prefix+"_") {
			bn.b.Errorf("link %s (%s) left behind", l.Attrs().Name, l.Attrs().Alias)
			_ = netlink.LinkDel(l)
		}
	}
	for _, pid := range testutil.ProcessesMentioning(bn.root) {
		bn.b.Errorf("process %d left behind", pid)
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// BenchmarkAttach: the network share of a container start, in ms/attach.
func BenchmarkAttach(b *testing.B) {
	b.Run("first-on-new-network", func(b *testing.B) {
		bn := newBenchNet(b, benchUpstream(b))
		ctx := context.Background()
		var total time.Duration
		for i := range b.N {
			id := fmt.Sprintf("%s-first-%d", bn.prefix, i)
			t0 := time.Now()
			_, err := bn.m.Create(ctx, NetworkConfig{Name: bn.name})
			if err == nil {
				_, err = bn.attach(ctx, id, "first")
			}
			total += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			bn.detachAll([]string{id})
			if err := bn.m.Remove(ctx, bn.name); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(benchMs(total)/float64(b.N), "ms/attach")
	})
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("%d-at-once", n), func(b *testing.B) {
			bn := newBenchNet(b, benchUpstream(b))
			ctx := context.Background()
			if _, err := bn.m.Create(ctx, NetworkConfig{Name: bn.name}); err != nil {
				b.Fatal(err)
			}
			// A container already on the network: its resolver runs.
			if _, err := bn.attach(ctx, bn.prefix+"-warm", "warm"); err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			for i := range b.N {
				ids := make([]string, n)
				for j := range ids {
					ids[j] = fmt.Sprintf("%s-%d-%d", bn.prefix, i, j)
				}
				t0 := time.Now()
				g, gctx := errgroup.WithContext(ctx)
				for j, id := range ids {
					g.Go(func() error {
						_, err := bn.attach(gctx, id, fmt.Sprintf("c-%d", j), "svc")
						return err
					})
				}
				err := g.Wait()
				total += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				bn.detachAll(ids)
				b.StartTimer()
			}
			b.ReportMetric(benchMs(total)/float64(b.N*n), "ms/attach")
			b.ReportMetric(benchMs(total)/float64(b.N), fmt.Sprintf("ms/%d", n))
		})
	}
}

// resolveRounds is the number of queries one iteration of
// BenchmarkResolve asks.
const resolveRounds = 200

// BenchmarkResolve: DNS answer latency inside a sandbox, in µs/answer.
func BenchmarkResolve(b *testing.B) {
	bn := newBenchNet(b, benchUpstream(b))
	ctx := context.Background()
	n, err := bn.m.Create(ctx, NetworkConfig{Name: bn.name})
	if err != nil {
		b.Fatal(err)
	}
	web, err := bn.attach(ctx, bn.prefix+"-web", "p-web-1", "web")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bn.attach(ctx, bn.prefix+"-client", "p-client-1", "client"); err != nil {
		b.Fatal(err)
	}
	server := netip.AddrPortFrom(n.Gateway, 53).String()
	for _, tc := range []struct {
		name, query string
		want        string
	}{
		{"service-name", "web", web.Addr.String()},
		{"forwarded-upstream", "elsewhere.test", "192.0.2.7"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := &dns.Client{Timeout: 3 * time.Second}
			req := new(dns.Msg)
			req.SetQuestion(dns.Fqdn(tc.query), dns.TypeA)
			var total time.Duration
			for range b.N {
				err := inNetns(bn.m.sandboxPath(bn.prefix+"-client"), func() error {
					t0 := time.Now()
					for range resolveRounds {
						resp, _, err := c.Exchange(req, server)
						if err != nil {
							return err
						}
						if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != tc.want {
							return fmt.Errorf("%s: answer %v, want %s", tc.query, resp.Answer, tc.want)
						}
					}
					total += time.Since(t0)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*resolveRounds), "µs/answer")
		})
	}
}

// benchUpstream is a DNS server on 127.0.0.1 that knows one name:
// elsewhere.test is 192.0.2.7 (an address it only names).
func benchUpstream(b *testing.B) string {
	b.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
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
	b.Cleanup(func() {
		if err := srv.Shutdown(); err != nil && !errors.Is(err, net.ErrClosed) {
			b.Logf("fake upstream: %v", err)
		}
	})
	return pc.LocalAddr().String()
}

func benchMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
