package netmgr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestCreateAndRemoveNetwork(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := e.create(NetworkConfig{Name: e.name("a"), Labels: map[string]string{"project": e.prefix}})

	if !strings.HasPrefix(n.Bridge, "berth") || len(n.Bridge) > 15 || n.Gateway != n.Subnet.Addr().Next() || n.Subnet.Bits() != 24 {
		t.Errorf("network %+v", n)
	}
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	if link.Type() != "bridge" || link.Attrs().Flags&net.FlagUp == 0 || link.Attrs().Alias != bridgeAlias(n.Name, e.root) {
		t.Errorf("bridge %s: type %s flags %v alias %q", n.Bridge, link.Type(), link.Attrs().Flags, link.Attrs().Alias)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != netip.PrefixFrom(n.Gateway, 24).String() {
		t.Errorf("bridge addresses %v, want %s/24", addrs, n.Gateway)
	}
	var want []string
	for _, r := range networkRules(n, false) {
		want = append(want, strings.Join(r, " "))
	}
	if got := e.networkRulesOnHost(n); !slices.Equal(got, want) {
		t.Errorf("rules %q, want %q", got, want)
	}
	out, err := exec.Command("iptables", "-w", "-S", fwParent).Output()
	if err != nil {
		t.Fatal(err)
	}
	fl := lines(string(out))
	if i := slices.Index(fl, "-A FORWARD -j "+fwChain); i < 0 || slices.Index(fl[i+1:], "-A FORWARD -j "+fwChain) >= 0 {
		t.Errorf("want one jump rule in FORWARD:\n%s", out)
	}

	if _, err := e.m.Create(ctx, NetworkConfig{Name: n.Name}); !errdefs.IsAlreadyExists(err) {
		t.Errorf("second Create = %v, want AlreadyExists", err)
	}
	got, err := e.m.Get(ctx, n.Name)
	if err != nil || got.ID != n.ID {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if l, err := e.m.List(ctx, map[string]string{"project": e.prefix}); err != nil || len(l) != 1 {
		t.Errorf("List = %v, %v", l, err)
	}

	if err := e.m.Remove(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	linkGone(t, n.Bridge)
	if r := e.networkRulesOnHost(n); len(r) > 0 {
		t.Errorf("rules left: %q", r)
	}
	if _, err := e.m.Get(ctx, n.Name); !errdefs.IsNotFound(err) {
		t.Errorf("Get after Remove = %v, want NotFound", err)
	}
	if err := e.m.Remove(ctx, n.Name); !errdefs.IsNotFound(err) {
		t.Errorf("second Remove = %v, want NotFound", err)
	}
}

func TestInternalNetworkRules(t *testing.T) {
	e := newEnv(t)
	n := e.create(NetworkConfig{Name: e.name("int"), Internal: true})
	got := e.networkRulesOnHost(n)
	// The DROPs first (inserted at the top of berth's chain), then the rest.
	if len(got) != 4 || !strings.Contains(got[0], "! -i "+n.Bridge) || !strings.Contains(got[1], "! -o "+n.Bridge) ||
		!strings.HasSuffix(got[0], "DROP") || !strings.HasSuffix(got[1], "DROP") {
		t.Errorf("internal rules: %q", got)
	}
	p := e.sandbox("c1")
	e.connect(n.Name, "c1")
	if err := inNetns(p, func() error {
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
				return fmt.Errorf("internal network got a default route: %v", r)
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

func TestSandboxesTalkOverTheBridge(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := e.create(NetworkConfig{Name: e.name("net")})
	pa, pb := e.sandbox("a"), e.sandbox("b")
	epa, epb := e.connect(n.Name, "a"), e.connect(n.Name, "b")
	if epa.Addr != n.Gateway.Next() || epb.Addr != epa.Addr.Next() {
		t.Errorf("addresses %s, %s; want the two after gateway %s", epa.Addr, epb.Addr, n.Gateway)
	}
	if epa.NetworkID != n.ID || epb.NetworkID != n.ID {
		t.Errorf("endpoints' network IDs %q, %q; want %q", epa.NetworkID, epb.NetworkID, n.ID)
	}

	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []*Endpoint{epa, epb} {
		host, err := netlink.LinkByName(ep.HostVeth)
		if err != nil {
			t.Fatal(err)
		}
		a := host.Attrs()
		pi, err := netlink.LinkGetProtinfo(host)
		if err != nil {
			t.Fatal(err)
		}
		if a.MasterIndex != br.Attrs().Index || a.Flags&net.FlagUp == 0 || !pi.Hairpin || a.Alias != "berth:"+n.Name+":"+ep.Sandbox {
			t.Errorf("host veth %s: master %d (bridge %d), flags %v, hairpin %v, alias %q", ep.HostVeth, a.MasterIndex, br.Attrs().Index, a.Flags, pi.Hairpin, a.Alias)
		}
	}
	if err := inNetns(pa, func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if l.Attrs().HardwareAddr.String() != epa.MAC || l.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("eth0 mac %s flags %v, want %s up", l.Attrs().HardwareAddr, l.Attrs().Flags, epa.MAC)
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil || len(addrs) != 1 || addrs[0].IP.String() != epa.Addr.String() {
			return fmt.Errorf("eth0 addresses %v, %v", addrs, err)
		}
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.String() == n.Gateway.String() {
				return nil
			}
		}
		return fmt.Errorf("no default route via %s: %v", n.Gateway, routes)
	}); err != nil {
		t.Error(err)
	}

	if err := tcpExchange(pa, pb, epb.Addr, 5*time.Second); err != nil {
		t.Fatalf("a → b: %v", err)
	}
	if err := tcpExchange(pb, pa, epa.Addr, 5*time.Second); err != nil {
		t.Fatalf("b → a: %v", err)
	}

	if err := e.m.Remove(ctx, n.Name); !errdefs.IsConflict(err) {
		t.Errorf("Remove with sandboxes = %v, want Conflict", err)
	}
	if _, err := e.m.Connect(ctx, n.Name, "a", "eth1", netip.Addr{}); !errdefs.IsAlreadyExists(err) {
		t.Errorf("second Connect = %v, want AlreadyExists", err)
	}

	if err := e.m.RemoveSandbox(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	linkGone(t, epa.HostVeth)
	if _, err := os.Stat(pa); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sandbox file %s: %v, want gone", pa, err)
	}
	if got, _ := e.m.Get(ctx, n.Name); len(got.Endpoints) != 1 {
		t.Errorf("endpoints after RemoveSandbox: %v", got.Endpoints)
	}
	if err := e.m.RemoveSandbox(ctx, "a"); err != nil {
		t.Errorf("second RemoveSandbox = %v", err)
	}
	// The released address is handed out again.
	e.sandbox("c")
	if epc := e.connect(n.Name, "c"); epc.Addr != epa.Addr {
		t.Errorf("address %s, want released %s", epc.Addr, epa.Addr)
	}
}

func TestConnectFailureLeavesNothing(t *testing.T) {
	for _, step := range []string{"veth", "plumbed"} {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			n := e.create(NetworkConfig{Name: e.name("net")})
			p := e.sandbox("a")
			injected := errors.New("injected")
			failpoint = func(s string) error {
				if s == step {
					return injected
				}
				return nil
			}
			_, err := e.m.Connect(ctx, n.Name, "a", "eth0", netip.Addr{})
			failpoint = nil
			if !errors.Is(err, injected) {
				t.Fatalf("Connect = %v, want injected failure", err)
			}
			linkGone(t, vethName("a", n.ID))
			if got, _ := e.m.Get(ctx, n.Name); len(got.Endpoints) != 0 {
				t.Errorf("endpoints after failed Connect: %v", got.Endpoints)
			}
			if err := inNetns(p, func() error {
				links, err := netlink.LinkList()
				if err != nil {
					return err
				}
				if len(links) != 1 || links[0].Attrs().Name != "lo" {
					return fmt.Errorf("sandbox links after failed Connect: %d", len(links))
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
			if ep := e.connect(n.Name, "a"); ep.Addr != n.Gateway.Next() {
				t.Errorf("retry got %s", ep.Addr)
			}
		})
	}
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	for _, step := range []string{"bridge", "firewall"} {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t)
			injected := errors.New("injected")
			failpoint = func(s string) error {
				if s == step {
					return injected
				}
				return nil
			}
			_, err := e.m.Create(t.Context(), NetworkConfig{Name: e.name("net")})
			failpoint = nil
			if !errors.Is(err, injected) {
				t.Fatalf("Create = %v, want injected failure", err)
			}
			if _, err := e.m.Get(t.Context(), e.name("net")); !errdefs.IsNotFound(err) {
				t.Errorf("Get after failed Create = %v, want NotFound", err)
			}
			if l := e.links(); len(l) > 0 {
				t.Errorf("links after failed Create: %v", l)
			}
			// assertClean checks rules and chain.
		})
	}
}

func TestSandboxLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	t.Run("idempotent create", func(t *testing.T) {
		p := e.sandbox("s1")
		if p2 := e.sandbox("s1"); p2 != p || p != filepath.Join(e.run, "netns", "s1") {
			t.Errorf("paths %s, %s", p, p2)
		}
		if got := mountsUnder(t, p); len(got) != 1 {
			t.Errorf("mounts on %s: %v, want one", p, got)
		}
		if err := inNetns(p, func() error {
			lo, err := netlink.LinkByName("lo")
			if err != nil {
				return err
			}
			if lo.Attrs().Flags&net.FlagUp == 0 {
				return errors.New("lo is down")
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
		if err := e.m.RemoveSandbox(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("failure leaves nothing", func(t *testing.T) {
		failpoint = func(s string) error {
			if s == "netns" {
				return errors.New("injected")
			}
			return nil
		}
		_, err := e.m.CreateSandbox(ctx, "s2")
		failpoint = nil
		if err == nil {
			t.Fatal("CreateSandbox succeeded despite injected failure")
		}
		if _, err := os.Stat(filepath.Join(e.run, "netns", "s2")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("sandbox file: %v, want gone", err)
		}
	})
	t.Run("remove after reboot", func(t *testing.T) {
		n := e.create(NetworkConfig{Name: e.name("net")})
		p := e.sandbox("s3")
		ep := e.connect(n.Name, "s3")
		// A reboot: the namespace (and with it the veth pair) is gone and
		// the run dir wiped.
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(e.run); err != nil {
			t.Fatal(err)
		}
		if err := e.m.RemoveSandbox(ctx, "s3"); err != nil {
			t.Fatal(err)
		}
		linkGone(t, ep.HostVeth)
		if got, _ := e.m.Get(ctx, n.Name); len(got.Endpoints) != 0 {
			t.Errorf("endpoints: %v", got.Endpoints)
		}
	})
	t.Run("connect to missing sandbox", func(t *testing.T) {
		n := e.create(NetworkConfig{Name: e.name("net2")})
		if _, err := e.m.Connect(ctx, n.Name, "nope", "eth0", netip.Addr{}); !errdefs.IsNotFound(err) {
			t.Errorf("Connect = %v, want NotFound", err)
		}
		if _, err := e.m.Connect(ctx, e.name("nonet"), "nope", "eth0", netip.Addr{}); !errdefs.IsNotFound(err) {
			t.Errorf("Connect = %v, want NotFound", err)
		}
	})
}

func TestStaticAddress(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := e.create(NetworkConfig{Name: e.name("net")})
	e.sandbox("a")
	e.sandbox("b")
	outside := n.Subnet.Addr().Prev()
	if _, err := e.m.Connect(ctx, n.Name, "a", "eth0", outside); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Connect(%s) = %v, want InvalidArgument", outside, err)
	}
	want := netip.MustParseAddr(strings.TrimSuffix(n.Subnet.Addr().String(), ".0") + ".77")
	ep, err := e.m.Connect(ctx, n.Name, "a", "eth0", want)
	if err != nil || ep.Addr != want {
		t.Fatalf("Connect(%s) = %+v, %v", want, ep, err)
	}
	if _, err := e.m.Connect(ctx, n.Name, "b", "eth0", want); !errdefs.IsConflict(err) {
		t.Errorf("Connect(taken %s) = %v, want Conflict", want, err)
	}
	if _, err := e.m.Connect(ctx, n.Name, "b", "eth0", n.Gateway); !errdefs.IsConflict(err) {
		t.Errorf("Connect(gateway) = %v, want Conflict", err)
	}
	linkGone(t, vethName("b", n.ID))
}

func TestSubnetConflicts(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a := e.create(NetworkConfig{Name: e.name("a")})
	b := e.create(NetworkConfig{Name: e.name("b")})
	if a.Subnet.Overlaps(b.Subnet) {
		t.Errorf("subnets overlap: %s, %s", a.Subnet, b.Subnet)
	}
	_, err := e.m.Create(ctx, NetworkConfig{Name: e.name("c"), Subnet: a.Subnet})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), e.name("c")) || !strings.Contains(err.Error(), a.Name) {
		t.Errorf("Create over %s = %v, want Conflict naming both", a.Subnet, err)
	}
	_, err = e.m.Create(ctx, NetworkConfig{Name: e.name("d"), Subnet: netip.MustParsePrefix("127.0.0.0/24")})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "127.0.0.0/8") {
		t.Errorf("Create over the host's loopback = %v, want Conflict naming 127.0.0.0/8", err)
	}
	// A subnet taken on the host by another berth root's bridge is skipped
	// by the pool.
	other, err := New(Options{Root: t.TempDir(), RunDir: e.run})
	if err != nil {
		t.Fatal(err)
	}
	c, err := other.Create(ctx, NetworkConfig{Name: e.name("other")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := other.Remove(ctx, c.Name); err != nil {
			t.Error(err)
		}
	}()
	if c.Subnet.Overlaps(a.Subnet) || c.Subnet.Overlaps(b.Subnet) {
		t.Errorf("other root got %s, overlapping %s or %s", c.Subnet, a.Subnet, b.Subnet)
	}
}

func TestRemoveHalfMadeNetwork(t *testing.T) {
	e := newEnv(t)
	n := e.create(NetworkConfig{Name: e.name("net")})
	if err := deleteLink(n.Bridge); err != nil {
		t.Fatal(err)
	}
	rules, _ := e.berthRules()
	for _, r := range rules {
		if isRuleOf(r, n) {
			if out, err := exec.Command("iptables", append([]string{"-w", "-D", fwChain}, r...)...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			break // one left, one gone
		}
	}
	if err := e.m.Remove(t.Context(), n.Name); err != nil {
		t.Fatal(err)
	}
	if r := e.networkRulesOnHost(n); len(r) > 0 {
		t.Errorf("rules left: %q", r)
	}
}

func TestConcurrentManagersShareRoot(t *testing.T) {
	e := newEnv(t)
	const count = 4
	var wg sync.WaitGroup
	nets := make([]*Network, count)
	errs := make([]error, count)
	for i := range count {
		m, err := New(Options{Root: e.root, RunDir: e.run})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			nets[i], errs[i] = m.Create(t.Context(), NetworkConfig{Name: e.name(fmt.Sprint(i))})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i := range nets {
		for j := range i {
			if nets[i].Subnet.Overlaps(nets[j].Subnet) {
				t.Errorf("networks %d and %d share %s", i, j, nets[i].Subnet)
			}
		}
	}
}

// TestForwardDropPolicy runs in a scratch network namespace, whose FORWARD
// policy may be set to DROP without touching the host: bridged traffic
// between two sandboxes must pass through berth's chain, and must fail
// without it (so the check is not vacuous).
func TestForwardDropPolicy(t *testing.T) {
	e := newEnv(t)
	m, err := New(Options{Root: t.TempDir(), RunDir: e.run, FirewallLock: filepath.Join(t.TempDir(), "fw.lock")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range []string{"a", "b"} {
			if err := removeNetns(m.sandboxPath(id)); err != nil {
				t.Error(err)
			}
		}
	})
	if err := inScratchNetns(func() error { return forwardDropScenario(t, m) }); err != nil {
		t.Fatal(err)
	}
}

func forwardDropScenario(t *testing.T, m *Manager) error {
	ctx := t.Context()
	run := func(args ...string) error {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := os.WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("br_netfilter in scratch namespace: %w", err)
	}
	if err := run("iptables", "-w", "-P", fwParent, "DROP"); err != nil {
		return err
	}
	n, err := m.Create(ctx, NetworkConfig{Name: "drop_net"})
	if err != nil {
		return err
	}
	var eps [2]*Endpoint
	var paths [2]string
	for i, id := range []string{"a", "b"} {
		if paths[i], err = m.CreateSandbox(ctx, id); err != nil {
			return err
		}
		if eps[i], err = m.Connect(ctx, n.Name, id, "eth0", netip.Addr{}); err != nil {
			return err
		}
	}
	if err := tcpExchange(paths[0], paths[1], eps[1].Addr, 5*time.Second); err != nil {
		return fmt.Errorf("with berth's chain: %w", err)
	}
	if err := run("iptables", "-w", "-D", fwParent, "-j", fwChain); err != nil {
		return err
	}
	if err := tcpExchange(paths[0], paths[1], eps[1].Addr, time.Second); err == nil {
		return errors.New("traffic passed FORWARD policy DROP without berth's chain: test is vacuous")
	}
	if err := run("iptables", "-w", "-I", fwParent, "1", "-j", fwChain); err != nil {
		return err
	}
	for _, id := range []string{"a", "b"} {
		if err := m.RemoveSandbox(ctx, id); err != nil {
			return err
		}
	}
	if err := m.Remove(ctx, n.Name); err != nil {
		return err
	}
	out, err := exec.Command("iptables", "-w", "-S").Output()
	if err != nil {
		return err
	}
	if strings.Contains(string(out), fwChain) {
		return fmt.Errorf("chain left after the last network:\n%s", out)
	}
	return nil
}

func TestSandboxOnTwoNetworks(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n1 := e.create(NetworkConfig{Name: e.name("one")})
	n2 := e.create(NetworkConfig{Name: e.name("two")})
	p := e.sandbox("a")
	e.connect(n1.Name, "a")
	if _, err := e.m.Connect(ctx, n2.Name, "a", "eth0", netip.Addr{}); !errdefs.IsConflict(err) {
		t.Errorf("Connect with a taken interface name = %v, want Conflict", err)
	}
	linkGone(t, vethName("a", n2.ID))
	ep2, err := e.m.Connect(ctx, n2.Name, "a", "eth1", netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	// The first network keeps the default route.
	if err := inNetns(p, func() error {
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		var gws []string
		for _, r := range routes {
			if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
				gws = append(gws, r.Gw.String())
			}
		}
		if !slices.Equal(gws, []string{n1.Gateway.String()}) {
			return fmt.Errorf("default routes via %v, want only %s", gws, n1.Gateway)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if err := e.m.RemoveSandbox(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	linkGone(t, ep2.HostVeth)
	for _, name := range []string{n1.Name, n2.Name} {
		if got, _ := e.m.Get(ctx, name); len(got.Endpoints) != 0 {
			t.Errorf("network %s endpoints: %v", name, got.Endpoints)
		}
		if err := e.m.Remove(ctx, name); err != nil {
			t.Error(err)
		}
	}
}
