package engine

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/miekg/dns"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/netmgr/portmap"
)

// berthBinary builds the networks' DNS resolver as the network tests need
// it (netmgr/internal/testresolver) into the test's temporary directory.
func berthBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "berth")
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", p, "../netmgr/internal/testresolver")
	cmd.Dir = filepath.Dir(file)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the resolver: %v\n%s", err, out)
	}
	return p
}

// fakeUpstream, on 127.0.0.1, knows one name: elsewhere.test is
// 192.0.2.7.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		if q := req.Question[0]; q.Name != "elsewhere.test." {
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

// newDNSEngine is newPrivEngineWith(t, true) whose networks have resolvers
// forwarding to a fake upstream on 127.0.0.1, and a network of its own.
func newDNSEngine(t *testing.T) (*Engine, string) {
	t.Helper()
	e := newPrivEngineWith(t, true)
	nets, err := netmgr.New(netmgr.Options{
		Root: e.opt.Root, RunDir: e.opt.RunDir, Pool: netip.MustParsePrefix("10.241.0.0/16"), Logger: e.log,
		Exe: berthBinary(t), Upstreams: []string{fakeUpstream(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.nets = nets
	hostConf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(hostConf, []byte("nameserver 192.0.2.53\nsearch example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.hostResolvConf = hostConf
	var rnd [3]byte
	_, _ = cryptorand.Read(rnd[:])
	network := fmt.Sprintf("bt%x_default", rnd)
	if _, err := nets.Create(t.Context(), netmgr.NetworkConfig{Name: network}); err != nil {
		t.Fatalf("create network: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		n, _ := nets.Get(ctx, network)
		if n != nil && len(n.Endpoints) > 0 { // a failed test: take its sandboxes down first
			for id := range n.Endpoints {
				if err := nets.RemoveSandbox(ctx, id); err != nil {
					t.Errorf("remove sandbox: %v", err)
				}
			}
		}
		if err := nets.Remove(ctx, network); err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("remove network: %v", err)
		}
		if n != nil && n.Resolver != nil {
			if pids := testutil.ProcessesMentioning(e.opt.Root); len(pids) > 0 {
				t.Errorf("processes left after the network's removal: %v", pids)
			}
		}
	})
	return e, network
}

// TestPrivDNSBetweenContainers: service names (two replicas), aliases and
// container names resolve over DNS inside busybox containers, through the
// network's resolver; other names go to the upstream; answers follow a
// replica going.
func TestPrivDNSBetweenContainers(t *testing.T) {
	e, network := newDNSEngine(t)
	ctx := t.Context()
	run := func(name string, aliases []string, cmd ...string) ContainerID {
		t.Helper()
		c := busybox(name, cmd...)
		c.Init = true
		c.Networks = []EndpointConfig{{Network: network, Aliases: aliases}}
		id := mustCreate(t, e, c)
		began := time.Now()
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		t.Logf("start %s (with network attach): %s", name, time.Since(began))
		return id
	}
	serve := "echo \"hello from $(hostname)\" > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"
	w1 := run("p-web-1", []string{"web", "www"}, "sh", "-c", serve)
	w2 := run("p-web-2", []string{"web", "www"}, "sh", "-c", serve)
	var addrs []string
	for _, id := range []ContainerID{w1, w2} {
		c, err := e.Get(ctx, string(id))
		if err != nil || len(c.Networks) != 1 {
			t.Fatalf("%+v, %v", c, err)
		}
		addrs = append(addrs, c.Networks[0].Address.String())
	}

	client := func(name, script string) []string {
		t.Helper()
		id := run(name, nil, "sh", "-c", script)
		st := waitExited(t, e, id)
		var out []string
		for _, l := range readLogs(t, e, id, LogOptions{Tail: -1}) {
			out = append(out, l.Text)
		}
		if st.ExitCode != 0 {
			t.Errorf("%s exited %d:\n%s", name, st.ExitCode, strings.Join(out, "\n"))
		}
		if err := e.Remove(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := client("p-client-1", "cat /etc/resolv.conf; cat /etc/hosts; nslookup web; nslookup www; nslookup p-web-2; nslookup elsewhere.test; wget -q -O - http://web:8080/")
	text := strings.Join(out, "\n")
	t.Logf("client:\n%s", text)
	for _, a := range addrs {
		if strings.Count(text, "Address: "+a) < 2 { // web and www
			t.Errorf("nslookup did not give %s for web and www", a)
		}
	}
	if !strings.Contains(text, "Address: 192.0.2.7") {
		t.Error("elsewhere.test was not forwarded to the upstream")
	}
	if !slices.ContainsFunc(out, func(l string) bool { return strings.HasPrefix(l, "hello from ") }) {
		t.Error("wget http://web:8080/ got no page")
	}
	if slices.ContainsFunc(out, func(l string) bool { return strings.Contains(l, "p-web-1") && strings.Contains(l, "\t") }) {
		t.Error("peers are still written to /etc/hosts")
	}

	// A replica goes: the name follows.
	if err := e.Stop(ctx, w2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	out = client("p-client-2", "nslookup web")
	text = strings.Join(out, "\n")
	if !strings.Contains(text, "Address: "+addrs[0]) || strings.Contains(text, "Address: "+addrs[1]) {
		t.Errorf("after p-web-2 stopped, web resolves to:\n%s", text)
	}
	for _, id := range []ContainerID{w1, w2} {
		if err := e.Remove(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
	}
}

// TestPrivPublishedPort: a port published on 127.0.0.1 with an ephemeral
// host port answers from the host, shows in Publishers, and goes with the
// container; a port a process holds fails the start and leaves nothing.
func TestPrivPublishedPort(t *testing.T) {
	e, network := newDNSEngine(t)
	ctx := t.Context()
	web := httpd("p-web-1", network, "hello")
	web.Ports = []netmgr.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), ContainerPort: 8080, Protocol: portmap.TCP}}
	id := mustCreate(t, e, web)
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	c, err := e.Get(ctx, string(id))
	if err != nil {
		t.Fatal(err)
	}
	pubs := c.Publishers()
	if len(pubs) != 1 || pubs[0].URL != "127.0.0.1" || pubs[0].TargetPort != 8080 || pubs[0].PublishedPort == 0 || pubs[0].Protocol != "tcp" {
		t.Fatalf("publishers %+v", pubs)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", pubs[0].PublishedPort)
	if body, err := httpGetSoon(addr); err != nil || !strings.Contains(body, "hello") {
		t.Errorf("GET http://%s/: %q, %v", addr, body, err)
	}

	// The same host port again: refused, nothing left.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := ln.Addr().(*net.TCPAddr).Port
	other := busybox("p-web-2", "sleep", "60")
	other.Networks = []EndpointConfig{{Network: network}}
	other.Ports = []netmgr.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: uint16(held), ContainerPort: 80, Protocol: portmap.TCP}}
	otherID := mustCreate(t, e, other)
	err = e.Start(ctx, otherID)
	if want := fmt.Sprintf("ports[0]: 127.0.0.1:%d is already in use", held); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("start with a held port: %v, want %q", err, want)
	}
	if n, err := e.nets.Get(ctx, network); err != nil || len(n.Endpoints) != 1 {
		t.Errorf("endpoints after the failed start: %+v, %v", n, err)
	}
	for _, id := range []ContainerID{otherID, id} {
		if err := e.Remove(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
	}
	if _, err := httpGet(addr); err == nil {
		t.Error("the port still answers after the container's removal")
	}
}

// httpd is a container on network serving body on port 8080.
func httpd(name, network, body string) ContainerConfig {
	c := busybox(name, "sh", "-c", "echo "+body+" > /tmp/index.html; exec httpd -f -p 8080 -h /tmp")
	c.Init = true
	c.Networks = []EndpointConfig{{Network: network}}
	return c
}

// httpGetSoon is httpGet retried for up to 5s, while the server starts.
func httpGetSoon(addr string) (body string, err error) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if body, err = httpGet(addr); err == nil {
			break
		}
	}
	return body, err
}

func httpGet(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestPrivNetworkModes: none gives loopback only; host the host's
// interfaces; container:<name> the other container's namespace, address
// and resolver.
func TestPrivNetworkModes(t *testing.T) {
	e, network := newDNSEngine(t)
	ctx := t.Context()
	web := busybox("p-web-1", "sleep", "60")
	web.Init = true
	web.Networks = []EndpointConfig{{Network: network, Aliases: []string{"web"}}}
	webID := mustCreate(t, e, web)
	if err := e.Start(ctx, webID); err != nil {
		t.Fatal(err)
	}
	wc, err := e.Get(ctx, string(webID))
	if err != nil || len(wc.Networks) != 1 {
		t.Fatalf("%+v, %v", wc, err)
	}
	n, err := e.nets.Get(ctx, network)
	if err != nil {
		t.Fatal(err)
	}
	run := func(name, mode, script string) string {
		t.Helper()
		c := busybox(name, "sh", "-c", script)
		c.NetworkMode = mode
		id := mustCreate(t, e, c)
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		st := waitExited(t, e, id)
		var out []string
		for _, l := range readLogs(t, e, id, LogOptions{Tail: -1}) {
			out = append(out, l.Text)
		}
		if st.ExitCode != 0 {
			t.Errorf("%s exited %d:\n%s", name, st.ExitCode, strings.Join(out, "\n"))
		}
		if err := e.Remove(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
		return strings.Join(out, "\n")
	}
	if out := run("none-1", "none", "ip -o addr"); strings.Contains(out, "eth0") || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("network_mode none:\n%s", out)
	}
	if out := run("host-1", "host", "ip -o addr"); !strings.Contains(out, n.Gateway.String()) {
		t.Errorf("network_mode host does not see the bridge's %s:\n%s", n.Gateway, out)
	}
	out := run("side-1", "container:p-web-1", "ip -o addr; cat /etc/resolv.conf; nslookup web")
	if !strings.Contains(out, wc.Networks[0].Address.String()+"/") || !strings.Contains(out, "nameserver "+n.Gateway.String()) {
		t.Errorf("network_mode container:p-web-1 does not share web's namespace and resolver:\n%s", out)
	}
	if err := e.Remove(ctx, webID, true); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, webID)
}

// TestPrivVersion1RecordStarts: a container created by the berth before
// ports were typed (its record of version 1 holds them as text) is listed,
// inspected, started with its ports published, and removed.
func TestPrivVersion1RecordStarts(t *testing.T) {
	e, network := newDNSEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, httpd("p-old-1", network, "old"))

	// Rewrite its record as version 1 wrote it, with a free port range.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := filepath.Join(e.containerDir(id), "container.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	rec["version"] = 1
	rec["config"].(map[string]any)["ports"] = []map[string]any{
		{"host_ip": "127.0.0.1", "host_port": fmt.Sprintf("%d-%d", free, free+1), "container_port": 8080, "protocol": "tcp"},
	}
	if b, err = json.Marshal(rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}

	if cs, err := e.List(ctx, nil); err != nil || len(cs) != 1 {
		t.Fatalf("list: %d containers, %v", len(cs), err)
	}
	c, err := e.Get(ctx, string(id))
	if err != nil || len(c.Config.Ports) != 1 || c.Config.Ports[0].HostPort != uint16(free) || c.Config.Ports[0].HostPortEnd != uint16(free+1) {
		t.Fatalf("inspect: %+v, %v", c, err)
	}
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c, err = e.Get(ctx, string(id)); err != nil {
		t.Fatal(err)
	}
	pubs := c.Publishers()
	if len(pubs) != 1 || pubs[0].URL != "127.0.0.1" || pubs[0].TargetPort != 8080 || pubs[0].Protocol != "tcp" ||
		(pubs[0].PublishedPort != free && pubs[0].PublishedPort != free+1) {
		t.Fatalf("publishers %+v, want 127.0.0.1:%d-%d->8080/tcp", pubs, free, free+1)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", pubs[0].PublishedPort)
	if body, err := httpGetSoon(addr); err != nil || !strings.Contains(body, "old") {
		t.Errorf("GET http://%s/: %q, %v", addr, body, err)
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, e, id)
}
