//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every address these tests talk to is on this machine: 127.0.0.1, the
// host's own address (traffic to it never leaves the host) and the
// containers on berth's bridges.

// TestInternalNetworkIsolation: a container on an internal network only
// reaches neither a published port of the project (through the host's
// address or its own gateway) nor a service of the host on the host's
// address; a container on an ordinary network, running the same probes,
// reaches all three.
func TestInternalNetworkIsolation(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	host := hostAddress(t)
	pub := unusedPort(t, "tcp")
	t.Setenv("PUB_PORT", pub)
	hostSvc := startHostService(t, host)

	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })

	// The probes: the published page through the host's address and
	// through the container's own gateway (its resolver's address, also
	// the host's), and the host's own service on its address.
	probes := map[string]string{
		"published port via the host's address": "timeout 3 wget -q -O - http://" + host.String() + ":" + pub + "/ | grep -q published",
		"published port via the gateway":        "timeout 3 wget -q -O - http://$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf):" + pub + "/ | grep -q published",
		"the host's address":                    "timeout 3 nc " + host.String() + " " + hostSvc.port + " </dev/null | grep -q host-here",
	}
	var got map[string]bool
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = h.probe(file, "outside", probes)
		if !slices.Contains(slices.Collect(maps.Values(got)), false) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within 20s: the container on an ordinary network reaches all three: %v", got)
		}
	}
	got = h.probe(file, "inside", probes)
	for what, reached := range got {
		if reached {
			t.Errorf("the container on the internal network reached %s", what)
		}
	}
	if from := hostSvc.peers(); slices.Contains(from, h.addressOf(file, "inside", "sealed")) {
		t.Errorf("the host's service saw connections from the internal container: %v", from)
	}
}

// TestPublishedUDPAndTCP: a published UDP port answers datagrams sent from
// the host to 127.0.0.1 and to the host's address, and from a container of
// another network through the host's address; a published TCP port answers
// that container too. After down the UDP port no longer answers.
func TestPublishedUDPAndTCP(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	host := hostAddress(t)
	udpPort, tcpPort := unusedPort(t, "udp"), unusedPort(t, "tcp")
	t.Setenv("UDP_PORT", udpPort)
	t.Setenv("TCP_PORT", tcpPort)
	t.Setenv("UDPECHO", udpechoBinary(t))

	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })

	for _, addr := range []string{"127.0.0.1", host.String()} {
		h.eventually("UDP from the host to "+addr+" is echoed", 20*time.Second, func() bool {
			got, err := udpExchange(net.JoinHostPort(addr, udpPort), "from-host")
			return err == nil && got == "echo:from-host"
		})
	}
	if out := strings.TrimSpace(h.mustBerth("-f", file, "port", "--protocol", "udp", "udp", "5353")); out != "0.0.0.0:"+udpPort {
		t.Errorf("port --protocol udp udp 5353 = %q, want 0.0.0.0:%s", out, udpPort)
	}
	r := h.berth("-f", file, "exec", "-T", "client", "/udpecho", "send", net.JoinHostPort(host.String(), udpPort), "from-client")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "echo:from-client" {
		t.Errorf("UDP from another network's container through the host's address: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = h.berth("-f", file, "exec", "-T", "client", "sh", "-c", "timeout 3 wget -q -O - http://"+net.JoinHostPort(host.String(), tcpPort)+"/")
	if r.code != 0 || !strings.Contains(r.stdout, "tcp-published") {
		t.Errorf("TCP from another network's container through the host's address: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if logs := h.mustBerth("-f", file, "logs", "--no-log-prefix", "udp"); !strings.Contains(logs, "bytes from") {
		t.Errorf("the UDP server logged no datagram:\n%s", logs)
	}

	h.mustBerth("-f", file, "down", "-v")
	if got, err := udpExchange("127.0.0.1:"+udpPort, "after-down"); err == nil {
		t.Errorf("the published UDP port still answers after down: %q", got)
	}
}

// TestKilledUpConvergesNetwork: berth up killed with SIGKILL just as the
// project's network, its resolver or its published port's rules appear;
// the next up converges (the service name resolves, the published port
// answers) and down -v leaves nothing (the harness's leak check).
// TestKilledUpConverges kills at fixed delays; these points are chosen by
// what is on the machine.
func TestKilledUpConvergesNetwork(t *testing.T) {
	file := testdata(t)
	for _, tc := range []struct {
		name string
		seen func(h *harness) bool
	}{
		{"bridge made", func(h *harness) bool { return linkWithAlias("berth:" + h.project + "_default") }},
		{"resolver started", func(h *harness) bool { return len(resolversOf(h.root)) > 0 }},
		{"port rule added", func(h *harness) bool { return natRuleMentions("berth:" + h.project + "_default/") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			t.Setenv("PUB_PORT", unusedPort(t, "tcp"))
			cmd := exec.Command(berthBin, "--root", h.root, "-f", file, "up", "-d")
			cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { h.mustBerth("-f", file, "down", "-v") })
			killed := false
		wait:
			for {
				select {
				case err := <-exited:
					t.Logf("up ended before %s was seen: %v", tc.name, err)
					break wait
				default:
				}
				if tc.seen(h) {
					_ = cmd.Process.Kill()
					killed = true
					<-exited
					break
				}
				time.Sleep(time.Millisecond)
			}
			if !killed {
				t.Fatalf("up finished without %s being seen", tc.name)
			}

			if r := h.berth("-f", file, "up", "-d"); r.code != 0 {
				t.Fatalf("up after a killed up: exit %d: %s", r.code, r.stderr)
			}
			h.eventually("probe resolves web", 10*time.Second, func() bool {
				r := h.berth("-f", file, "exec", "-T", "probe", "nslookup", "web")
				ok := r.code == 0 && strings.Contains(r.stdout, h.addressOf(file, "web", "default").String())
				if !ok { // what a failure needs to be understood
					t.Logf("nslookup web: exit %d, stdout %q, stderr %q; resolvers %v", r.code, r.stdout, r.stderr, resolversOf(h.root))
				}
				return ok
			})
			h.eventually("the published port answers on 127.0.0.1", 10*time.Second, func() bool {
				return pageContains("http://127.0.0.1:"+os.Getenv("PUB_PORT")+"/", "converged")
			})
			if n := len(resolversOf(h.root)); n != 1 {
				t.Errorf("%d resolvers run for the project's one network, want 1", n)
			}
			h.mustBerth("-f", file, "down", "-v")
			if left := resolversOf(h.root); len(left) > 0 {
				t.Errorf("resolvers still run right after down: %v", left)
			}
		})
	}
}

// probe runs each probe (a shell command) at once in a container of
// service and reports which succeeded.
func (h *harness) probe(file, service string, probes map[string]string) map[string]bool {
	h.t.Helper()
	names := slices.Sorted(maps.Keys(probes))
	var script strings.Builder
	for i, name := range names {
		fmt.Fprintf(&script, "( %s ) >/dev/null 2>&1 && echo ok%d &\n", probes[name], i)
	}
	script.WriteString("wait\n")
	r := h.berth("-f", file, "exec", "-T", service, "sh", "-c", script.String())
	if r.code != 0 {
		h.t.Fatalf("probes in %s: exit %d: %s", service, r.code, r.stderr)
	}
	got := map[string]bool{}
	for i, name := range names {
		got[name] = slices.Contains(strings.Fields(r.stdout), "ok"+strconv.Itoa(i))
	}
	return got
}

// addressOf is the address of service's first container on the project's
// network of that name, as the container sees it.
func (h *harness) addressOf(file, service, network string) netip.Addr {
	h.t.Helper()
	r := h.berth("-f", file, "exec", "-T", service, "ip", "-4", "addr")
	if r.code != 0 {
		h.t.Fatalf("addresses of %s: exit %d: %s", service, r.code, r.stderr)
	}
	subnet := h.subnetOf(h.project + "_" + network)
	for _, f := range strings.Fields(r.stdout) {
		if p, err := netip.ParsePrefix(f); err == nil && subnet.Contains(p.Addr()) {
			return p.Addr()
		}
	}
	h.t.Fatalf("%s has no address in %s (%s):\n%s", service, network, subnet, r.stdout)
	return netip.Addr{}
}

// subnetOf reads a network's subnet from berth's own record.
func (h *harness) subnetOf(network string) netip.Prefix {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.root, "networks", network+".json"))
	if err != nil {
		h.t.Fatalf("network %s: %v", network, err)
	}
	var rec struct {
		Subnet netip.Prefix `json:"subnet"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || !rec.Subnet.IsValid() {
		h.t.Fatalf("network %s: no subnet in its record (%v): %s", network, err, b)
	}
	return rec.Subnet
}

// hostAddress is the host's primary IPv4 address: that of the interface
// carrying the default route. Connecting to it stays on this machine.
func hostAddress(t *testing.T) netip.Addr {
	t.Helper()
	out, err := exec.Command("ip", "-o", "-4", "route", "show", "default").Output()
	if err != nil {
		t.Fatalf("ip route show default: %v", err)
	}
	f := strings.Fields(string(out))
	i := slices.Index(f, "dev")
	if i < 0 || i+1 >= len(f) {
		t.Skip("the host has no default route, so no primary address")
	}
	ifi, err := net.InterfaceByName(f[i+1])
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr()
		}
	}
	t.Skipf("interface %s has no IPv4 address", ifi.Name)
	return netip.Addr{}
}

// unusedPort is a port of proto that no process of the host holds now.
func unusedPort(t *testing.T, proto string) string {
	t.Helper()
	var addr net.Addr
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr()
		c.Close()
	} else {
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr()
		l.Close()
	}
	_, port, _ := net.SplitHostPort(addr.String())
	return port
}

// hostService is a TCP service of the host on one of its addresses: it
// greets each connection with "host-here" and remembers who connected.
type hostService struct {
	port string

	mu   sync.Mutex // guards from
	from []netip.Addr
}

func startHostService(t *testing.T, addr netip.Addr) *hostService {
	t.Helper()
	l, err := net.Listen("tcp4", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	s := &hostService{port: port}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
				s.mu.Lock()
				s.from = append(s.from, ap.Addr().Unmap())
				s.mu.Unlock()
			}
			_, _ = io.WriteString(c, "host-here\n")
			c.Close()
		}
	}()
	return s
}

func (s *hostService) peers() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.from)
}

// udpExchange sends msg to addr and returns the answer.
func udpExchange(addr, msg string) (string, error) {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func pageContains(url, want string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), want)
}

// udpechoBinary builds e2e/internal/udpecho once, static (it runs inside
// busybox containers), next to the berth binary under test, where
// TestMain removes it.
func udpechoBinary(t *testing.T) string {
	t.Helper()
	udpecho.once.Do(func() {
		udpecho.path = filepath.Join(filepath.Dir(berthBin), "udpecho")
		build := exec.Command("go", "build", "-trimpath", "-o", udpecho.path, "./e2e/internal/udpecho")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			udpecho.err = fmt.Errorf("build udpecho: %v\n%s", err, out)
		}
	})
	if udpecho.err != nil {
		t.Fatal(udpecho.err)
	}
	return udpecho.path
}

var udpecho struct {
	once sync.Once
	path string
	err  error
}

// linkWithAlias reports whether a host link carries the alias.
func linkWithAlias(alias string) bool {
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		// A bridge's alias also names its state root: "berth:<network>@<root>".
		if l := strings.TrimSpace(line); strings.HasSuffix(l, "alias "+alias) || strings.Contains(l, "alias "+alias+"@/") {
			return true
		}
	}
	return false
}

// natRuleMentions reports whether a rule of the nat table mentions s.
func natRuleMentions(s string) bool {
	out, _ := exec.Command("iptables-save", "-t", "nat").Output()
	return strings.Contains(string(out), s)
}

// resolversOf lists the live resolver processes of the state root.
func resolversOf(root string) []proc {
	var out []proc
	for _, p := range processesMentioning(root) {
		f := strings.Fields(p.cmdline)
		if len(f) > 1 && f[1] == "resolver" && !zombieOrGone(p.pid) {
			out = append(out, p)
		}
	}
	return out
}

func zombieOrGone(pid int) bool {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true // gone
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "State:"); ok {
			return strings.HasPrefix(strings.TrimSpace(v), "Z")
		}
	}
	return false
}
