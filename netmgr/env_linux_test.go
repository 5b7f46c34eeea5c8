package netmgr

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// env is one privileged test's world: a Manager on a temporary root and run
// dir, network names carrying a unique prefix (so the test's links, via their
// aliases, and rules, via their comments, can be told from anyone else's),
// and clean-up that asserts nothing is left and removes what is.
type env struct {
	t      *testing.T
	m      *Manager
	root   string
	run    string
	prefix string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, Options{})
}

// newEnvWith is newEnv with options (Root and RunDir are filled in).
func newEnvWith(t *testing.T, opt Options) *env {
	t.Helper()
	testutil.RequirePrivileged(t)
	e := &env{t: t, root: t.TempDir(), run: t.TempDir(), prefix: "t" + randHex(t, 5)}
	// Registered after the temp dirs, so it runs before they are removed, and
	// before the Manager's teardown, so it runs after it.
	t.Cleanup(e.assertClean)
	opt.Root, opt.RunDir = e.root, e.run
	m, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(e.teardown)
	return e
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func (e *env) name(s string) string { return e.prefix + "_" + s }

// teardown removes every sandbox and network the test left, through the API.
func (e *env) teardown() {
	failpoint = nil
	ctx := context.Background() // t.Context is cancelled before clean-up runs
	nets, err := e.m.List(ctx, nil)
	if err != nil {
		e.t.Errorf("teardown: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(e.run, "netns"))
	var sandboxes []string
	for _, d := range ents {
		sandboxes = append(sandboxes, d.Name())
	}
	for _, n := range nets {
		for id := range n.Endpoints {
			sandboxes = append(sandboxes, id)
		}
	}
	for _, id := range sandboxes {
		if err := e.m.RemoveSandbox(ctx, id); err != nil {
			e.t.Errorf("teardown: %v", err)
		}
	}
	for _, n := range nets {
		if err := e.m.Remove(ctx, n.Name); err != nil {
			e.t.Errorf("teardown: %v", err)
		}
	}
}

// assertClean fails the test for every link, mount or rule of the test that
// is left, and removes it.
func (e *env) assertClean() {
	t := e.t
	for _, pid := range testutil.ProcessesMentioning(e.root) {
		t.Errorf("process %d left behind", pid)
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	for _, l := range e.links() {
		t.Errorf("link %s (%s) left behind", l.Attrs().Name, l.Attrs().Alias)
		_ = netlink.LinkDel(l)
	}
	for _, mp := range mountsUnder(t, e.run) {
		t.Errorf("mount %s left behind", mp)
		_ = unix.Unmount(mp, unix.MNT_DETACH)
	}
	unlock, err := flock.Lock(context.Background(), DefaultFirewallLock)
	if err != nil {
		t.Errorf("firewall lock: %v", err)
		return
	}
	defer unlock()
	for _, f := range []family{ipv4, ipv6} {
		bin := f.String()
		rules, _ := e.berthRulesOf(f)
		for _, r := range rules {
			if strings.Contains(strings.Join(r, " "), "berth:"+e.prefix+"_") {
				t.Errorf("%s rule %q left behind", bin, r)
				_ = exec.Command(bin, append([]string{"-w", "-D", fwChain}, r...)...).Run()
			}
		}
		for _, chain := range []string{natDNAT, natPost} {
			rules, _, err := e.m.natRules(context.Background(), f, chain)
			if err != nil {
				t.Errorf("nat rules: %v", err)
			}
			for _, r := range rules {
				if strings.Contains(strings.Join(r, " "), "berth:"+e.prefix+"_") {
					t.Errorf("%s nat rule %q left behind", bin, r)
					_ = exec.Command(bin, append([]string{"-w", "-t", "nat", "-D", chain}, r...)...).Run()
				}
			}
		}
		if rules, exists := e.berthRulesOf(f); exists && len(rules) == 0 {
			t.Errorf("empty %s chain %s left behind", bin, fwChain)
			_ = exec.Command(bin, "-w", "-D", fwParent, "-j", fwChain).Run()
			_ = exec.Command(bin, "-w", "-X", fwChain).Run()
		}
	}
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != "0" && !forwardingWasOn[p] {
			t.Errorf("%s left at %s", p, strings.TrimSpace(string(b)))
		}
	}
}

// forwardingWasOn records which forwarding switches were on before the
// tests ran (then a test cannot be blamed for them).
var forwardingWasOn = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		b, err := os.ReadFile(p)
		m[p] = err == nil && strings.TrimSpace(string(b)) != "0"
	}
	return m
}()

// links lists the host links whose alias says they belong to this test.
func (e *env) links() []netlink.Link {
	e.t.Helper()
	all, err := netlink.LinkList()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []netlink.Link
	for _, l := range all {
		if strings.HasPrefix(l.Attrs().Alias, "berth:"+e.prefix+"_") {
			out = append(out, l)
		}
	}
	return out
}

// berthRules lists the rules in berth's chain on the host.
func (e *env) berthRules() (rules [][]string, exists bool) {
	e.t.Helper()
	return e.berthRulesOf(ipv4)
}

// berthRulesOf lists the rules in berth's chain of family f on the host.
func (e *env) berthRulesOf(f family) (rules [][]string, exists bool) {
	e.t.Helper()
	out, err := exec.Command(f.String(), "-w", "-S").Output()
	if err != nil {
		e.t.Fatalf("%s -S: %v", f, err)
	}
	for _, l := range lines(string(out)) {
		if l == "-N "+fwChain {
			exists = true
		}
		if rest, ok := strings.CutPrefix(l, "-A "+fwChain+" "); ok {
			r, err := splitRule(rest)
			if err != nil {
				e.t.Fatal(err)
			}
			rules = append(rules, r)
		}
	}
	return rules, exists
}

// networkRulesOnHost lists the host rules carrying the network's comment.
func (e *env) networkRulesOnHost(n *Network) []string {
	rules, _ := e.berthRules()
	var out []string
	for _, r := range rules {
		if isRuleOf(r, n) {
			out = append(out, strings.Join(r, " "))
		}
	}
	return out
}

func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	return out
}

func (e *env) create(cfg NetworkConfig) *Network {
	e.t.Helper()
	n, err := e.m.Create(e.t.Context(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) sandbox(id string) string {
	e.t.Helper()
	p, err := e.m.CreateSandbox(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) connect(network, id string) *Endpoint {
	e.t.Helper()
	ep, err := e.m.Connect(e.t.Context(), network, id, "eth0", netip.Addr{})
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

func linkGone(t *testing.T, name string) {
	t.Helper()
	if _, err := netlink.LinkByName(name); err == nil {
		t.Errorf("link %s still exists", name)
	} else if _, ok := errors.AsType[netlink.LinkNotFoundError](err); !ok {
		t.Errorf("link %s: %v", name, err)
	}
}

// inNetns runs fn on a locked OS thread inside the namespace at path.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(fnErr, err) // thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// tcpExchange listens in the sandbox at toNs on addr, dials it from the
// sandbox at fromNs and checks a message gets through.
func tcpExchange(fromNs, toNs string, addr netip.Addr, timeout time.Duration) error {
	var ln net.Listener
	if err := inNetns(toNs, func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(addr, 0).String())
		return err
	}); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "hello\n")
	}()
	var c net.Conn
	if err := inNetns(fromNs, func() (err error) {
		c, err = net.DialTimeout("tcp4", ln.Addr().String(), timeout)
		return err
	}); err != nil {
		return fmt.Errorf("dial %s: %w", ln.Addr(), err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "hello\n" {
		return fmt.Errorf("read from %s: %q, %v", ln.Addr(), got, err)
	}
	return nil
}

// inScratchNetns runs fn on a locked OS thread in a new network namespace.
// The thread is never unlocked, so it dies with its goroutine and takes the
// namespace (with every link and rule made in it) along.
func inScratchNetns(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
