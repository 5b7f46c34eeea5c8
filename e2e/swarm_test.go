//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/berth-dev/berth/internal/testutil"
)

// swarmSubnet is the private /24 the test cluster's nodes share, outside
// berth's own address pool. The host reaches it through one veth into the
// hub, where the registry listens; with forwarding off, nothing on it
// reaches further.
const swarmSubnet = "10.231.77"

// swarmCluster is a Docker Swarm of three nodes on this machine: three
// dockerd (Debian's docker.io), each in its own network, mount and UTS
// namespace with its own data root, exec root and containerd namespace,
// joined by veths to a bridge in a hub namespace. The host has a veth into
// the hub too, and serves an image registry on its address. Node 0 is the
// manager.
type swarmCluster struct {
	t        *testing.T
	id       string
	hub      string // the hub's named netns
	nodes    []*swarmNode
	registry string // host:port of the registry, for the nodes and berth alike
}

type swarmNode struct {
	name   string // netns and hostname
	addr   string
	dir    string
	sock   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// host is the node's Engine API for berth's --host.
func (n *swarmNode) host() string { return "unix://" + n.sock }

// startSwarmCluster builds the cluster; t.Cleanup takes all of it down:
// every node leaves the swarm, each dockerd is stopped by PID, and the
// namespaces (with their veths and bridge) and directories are removed.
func startSwarmCluster(t *testing.T, size int) *swarmCluster {
	t.Helper()
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		if testutil.InCI() {
			t.Fatal("dockerd not found: make deps installs docker.io")
		}
		t.Skip("needs dockerd (apt-get install docker.io)")
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	c := &swarmCluster{t: t, id: hex.EncodeToString(b[:])}
	c.hub = "berthsw" + c.id + "h"
	t.Cleanup(c.teardown)
	c.ip("netns", "add", c.hub)
	c.ip("-n", c.hub, "link", "set", "lo", "up")
	c.ip("-n", c.hub, "link", "add", "br0", "type", "bridge")
	c.ip("-n", c.hub, "link", "set", "br0", "up")
	// The host's end goes when the hub does.
	host := "bsw" + c.id
	c.ip("link", "add", host, "type", "veth", "peer", "name", "host", "netns", c.hub)
	c.ip("-n", c.hub, "link", "set", "host", "master", "br0", "up")
	c.ip("addr", "add", swarmSubnet+".1/24", "dev", host)
	c.ip("link", "set", host, "up")
	c.serveRegistry(swarmSubnet + ".1")
	for i := range size {
		n := &swarmNode{name: fmt.Sprintf("berthsw%s%d", c.id, i), addr: fmt.Sprintf("%s.%d", swarmSubnet, 10+i)}
		c.nodes = append(c.nodes, n)
		c.ip("netns", "add", n.name)
		c.ip("-n", n.name, "link", "set", "lo", "up")
		c.ip("-n", c.hub, "link", "add", fmt.Sprintf("p%d", i), "type", "veth", "peer", "name", "eth0", "netns", n.name)
		c.ip("-n", c.hub, "link", "set", fmt.Sprintf("p%d", i), "master", "br0", "up")
		c.ip("-n", n.name, "addr", "add", n.addr+"/24", "dev", "eth0")
		c.ip("-n", n.name, "link", "set", "eth0", "up")
		c.ip("-n", n.name, "route", "add", "default", "via", swarmSubnet+".1")
		c.startDockerd(n, dockerd)
	}
	for _, n := range c.nodes {
		c.waitAPI(n)
	}
	mgr := c.nodes[0]
	c.api(mgr, "POST", "/swarm/init", map[string]any{"ListenAddr": mgr.addr + ":2377", "AdvertiseAddr": mgr.addr}, nil)
	var sw struct{ JoinTokens struct{ Worker string } }
	c.api(mgr, "GET", "/swarm", nil, &sw)
	for _, n := range c.nodes[1:] {
		c.api(n, "POST", "/swarm/join", map[string]any{
			"ListenAddr": n.addr + ":2377", "AdvertiseAddr": n.addr,
			"RemoteAddrs": []string{mgr.addr + ":2377"}, "JoinToken": sw.JoinTokens.Worker,
		}, nil)
	}
	c.eventually("every node ready", 90*time.Second, func() bool {
		var nodes []struct {
			Status struct{ State string }
		}
		if err := c.tryAPI(mgr, "GET", "/nodes", nil, &nodes); err != nil || len(nodes) != size {
			return false
		}
		for _, n := range nodes {
			if n.Status.State != "ready" {
				return false
			}
		}
		return true
	})
	return c
}

func (c *swarmCluster) ip(args ...string) {
	c.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		c.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// serveRegistry serves an in-memory registry on the host's address in the
// cluster's subnet, where the nodes pull from and berth pushes to.
func (c *swarmCluster) serveRegistry(addr string) {
	t := c.t
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	c.registry = l.Addr().String()
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// startDockerd runs dockerd in the node's namespaces: nsenter for the
// network, unshare for a private mount namespace and the hostname. (Not
// `ip netns exec`: its fresh /sys hides the cgroup mounts dockerd needs.)
// Each exec replaces the process, so cmd.Process is dockerd's PID.
func (c *swarmCluster) startDockerd(n *swarmNode, dockerd string) {
	t := c.t
	dir, err := os.MkdirTemp("", "berthsw-") // short: the socket path must fit sun_path
	if err != nil {
		t.Fatal(err)
	}
	n.dir, n.sock, n.log = dir, filepath.Join(dir, "docker.sock"), filepath.Join(dir, "dockerd.log")
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ns := "berth-test-" + n.name
	script := `hostname "$0" && exec "$@"`
	n.cmd = exec.Command("nsenter", "--net=/run/netns/"+n.name, "unshare", "--mount", "--uts", "sh", "-c", script, n.name,
		dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", n.host(), "--pidfile", filepath.Join(dir, "dockerd.pid"), "--bridge", "none",
		"--iptables=false", "--ip6tables=false", "--insecure-registry", c.registry,
		"--containerd-namespace", ns, "--containerd-plugins-namespace", ns+"-p")
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.exited = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
}

// waitAPI waits until the node's dockerd answers /_ping.
func (c *swarmCluster) waitAPI(n *swarmNode) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := c.tryAPI(n, "GET", "/_ping", nil, nil); err == nil {
			return
		} else if time.Now().After(deadline) {
			c.t.Fatalf("dockerd on %s did not answer: %v\n%s", n.name, err, c.logTail(n))
		}
		select {
		case <-n.exited:
			c.t.Fatalf("dockerd on %s exited:\n%s", n.name, c.logTail(n))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *swarmCluster) logTail(n *swarmNode) string {
	b, _ := os.ReadFile(n.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// tryAPI calls the node's Engine API and decodes a JSON answer into out.
func (c *swarmCluster) tryAPI(n *swarmNode, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://docker/v1.41"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := unixClient(n.sock).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	return json.Unmarshal(b, out)
}

func (c *swarmCluster) api(n *swarmNode, method, path string, body, out any) {
	c.t.Helper()
	if err := c.tryAPI(n, method, path, body, out); err != nil {
		c.t.Fatalf("%s: %v", n.name, err)
	}
}

func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

func (c *swarmCluster) eventually(what string, timeout time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serviceLogs is the demultiplexed stdout of a Swarm service's tasks.
func (c *swarmCluster) serviceLogs(service string) string {
	c.t.Helper()
	var raw []byte
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}}
	if err := c.tryAPI(c.nodes[0], "GET", "/services/"+service+"/logs?"+q.Encode(), nil, &raw); err != nil {
		return ""
	}
	var out strings.Builder
	for len(raw) >= 8 {
		size := int(binary.BigEndian.Uint32(raw[4:8]))
		if len(raw) < 8+size {
			break
		}
		out.Write(raw[8 : 8+size])
		raw = raw[8+size:]
	}
	return out.String()
}

// stackObjects counts what the manager holds of the stack: services and
// networks labelled with its namespace.
func (c *swarmCluster) stackObjects(stack string) (services, networks []string) {
	c.t.Helper()
	f := url.QueryEscape(`{"label":["com.docker.stack.namespace=` + stack + `"]}`)
	var svcs []struct{ Spec struct{ Name string } }
	c.api(c.nodes[0], "GET", "/services?filters="+f, nil, &svcs)
	for _, s := range svcs {
		services = append(services, s.Spec.Name)
	}
	var nets []struct{ Name string }
	c.api(c.nodes[0], "GET", "/networks?filters="+f, nil, &nets)
	for _, n := range nets {
		networks = append(networks, n.Name)
	}
	return services, networks
}

func (c *swarmCluster) teardown() {
	t := c.t
	for i := len(c.nodes) - 1; i >= 0; i-- {
		n := c.nodes[i]
		if n.cmd == nil || n.cmd.Process == nil {
			continue
		}
		_ = c.tryAPI(n, "POST", "/swarm/leave?force=true", nil, nil)
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(30 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("dockerd on %s (log tail):\n%s", n.name, c.logTail(n))
		}
	}
	// dockerd's containerd and shims, should any outlive it.
	for _, n := range c.nodes {
		if n.dir == "" {
			continue
		}
		for _, pid := range testutil.ProcessesMentioning(n.dir) {
			t.Errorf("process %d left behind by dockerd on %s", pid, n.name)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, n := range c.nodes {
		_ = exec.Command("ip", "netns", "del", n.name).Run()
		if n.dir != "" {
			if mounts, _ := testutil.MountsUnder(n.dir); len(mounts) > 0 {
				for i := len(mounts) - 1; i >= 0; i-- {
					_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
				}
				t.Errorf("mounts left behind by dockerd on %s: %v", n.name, mounts)
			}
			if err := os.RemoveAll(n.dir); err != nil {
				t.Errorf("remove %s: %v", n.dir, err)
			}
		}
	}
	_ = exec.Command("ip", "netns", "del", c.hub).Run()
}
