// Package swarmtest runs a Docker Swarm of several nodes on this machine for
// tests and benchmarks: Debian's dockerd, one per network, mount and UTS
// namespace, joined through a hub namespace, with an image registry on the
// host's address in the cluster's subnet. It needs root and dockerd.
package swarmtest

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
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/berth-dev/berth/internal/testutil"
)

// Subnet is the private /24 the test cluster's nodes share, outside
// berth's own address pool. The host reaches it through one veth into the
// hub, where the registry listens; with forwarding off, nothing on it
// reaches further.
const Subnet = "10.231.77"

// Cluster is a Docker Swarm of three nodes on this machine: three
// dockerd (Debian's docker.io), each in its own network, mount and UTS
// namespace with its own data root, exec root and containerd namespace,
// joined by veths to a bridge in a hub namespace. The host has a veth into
// the hub too, and serves an image registry on its address. Node 0 is the
// manager.
type Cluster struct {
	t        testing.TB
	id       string
	hub      string // the hub's named netns
	Nodes    []*Node
	Registry string // host:port of the registry, for the nodes and berth alike
}

type Node struct {
	Name   string // netns and hostname
	Addr   string
	dir    string
	sock   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// host is the node's Engine API for berth's --host.
func (n *Node) Host() string { return "unix://" + n.sock }

// Start builds the cluster; t.Cleanup takes all of it down:
// every node leaves the swarm, each dockerd is stopped by PID, and the
// namespaces (with their veths and bridge) and directories are removed.
func Start(t testing.TB, size int) *Cluster {
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
	c := &Cluster{t: t, id: hex.EncodeToString(b[:])}
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
	c.ip("addr", "add", Subnet+".1/24", "dev", host)
	c.ip("link", "set", host, "up")
	c.serveRegistry(Subnet + ".1")
	for i := range size {
		n := &Node{Name: fmt.Sprintf("berthsw%s%d", c.id, i), Addr: fmt.Sprintf("%s.%d", Subnet, 10+i)}
		c.Nodes = append(c.Nodes, n)
		c.ip("netns", "add", n.Name)
		c.ip("-n", n.Name, "link", "set", "lo", "up")
		c.ip("-n", c.hub, "link", "add", fmt.Sprintf("p%d", i), "type", "veth", "peer", "name", "eth0", "netns", n.Name)
		c.ip("-n", c.hub, "link", "set", fmt.Sprintf("p%d", i), "master", "br0", "up")
		c.ip("-n", n.Name, "addr", "add", n.Addr+"/24", "dev", "eth0")
		c.ip("-n", n.Name, "link", "set", "eth0", "up")
		// No default route: a pull from a registry off the subnet (an
		// image that is local, which Swarm still tries to resolve) fails at
		// once instead of waiting on packets the host drops.
		c.startDockerd(n, dockerd)
	}
	for _, n := range c.Nodes {
		c.waitAPI(n)
	}
	mgr := c.Nodes[0]
	c.MustAPI(mgr, "POST", "/swarm/init", map[string]any{"ListenAddr": mgr.Addr + ":2377", "AdvertiseAddr": mgr.Addr}, nil)
	var sw struct{ JoinTokens struct{ Worker string } }
	c.MustAPI(mgr, "GET", "/swarm", nil, &sw)
	for _, n := range c.Nodes[1:] {
		c.MustAPI(n, "POST", "/swarm/join", map[string]any{
			"ListenAddr": n.Addr + ":2377", "AdvertiseAddr": n.Addr,
			"RemoteAddrs": []string{mgr.Addr + ":2377"}, "JoinToken": sw.JoinTokens.Worker,
		}, nil)
	}
	c.Eventually("every node ready", 90*time.Second, func() bool {
		var nodes []struct {
			Status struct{ State string }
		}
		if err := c.API(mgr, "GET", "/nodes", nil, &nodes); err != nil || len(nodes) != size {
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

func (c *Cluster) ip(args ...string) {
	c.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		c.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// serveRegistry serves an in-memory registry on the host's address in the
// cluster's subnet, where the nodes pull from and berth pushes to.
func (c *Cluster) serveRegistry(addr string) {
	t := c.t
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	c.Registry = l.Addr().String()
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// startDockerd runs dockerd in the node's namespaces: nsenter for the
// network, unshare for a private mount namespace and the hostname. (Not
// `ip netns exec`: its fresh /sys hides the cgroup mounts dockerd needs.)
// Each exec replaces the process, so cmd.Process is dockerd's PID.
func (c *Cluster) startDockerd(n *Node, dockerd string) {
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
	ns := "berth-test-" + n.Name
	script := `hostname "$0" && exec "$@"`
	n.cmd = exec.Command("nsenter", "--net=/run/netns/"+n.Name, "unshare", "--mount", "--uts", "sh", "-c", script, n.Name,
		dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", n.Host(), "--pidfile", filepath.Join(dir, "dockerd.pid"), "--bridge", "none",
		"--iptables=false", "--ip6tables=false", "--insecure-registry", c.Registry,
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
func (c *Cluster) waitAPI(n *Node) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := c.API(n, "GET", "/_ping", nil, nil); err == nil {
			return
		} else if time.Now().After(deadline) {
			c.t.Fatalf("dockerd on %s did not answer: %v\n%s", n.Name, err, c.logTail(n))
		}
		select {
		case <-n.exited:
			c.t.Fatalf("dockerd on %s exited:\n%s", n.Name, c.logTail(n))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) logTail(n *Node) string {
	b, _ := os.ReadFile(n.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// tryAPI calls the node's Engine API and decodes a JSON answer into out.
func (c *Cluster) API(n *Node, method, path string, body, out any) error {
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

func (c *Cluster) MustAPI(n *Node, method, path string, body, out any) {
	c.t.Helper()
	if err := c.API(n, method, path, body, out); err != nil {
		c.t.Fatalf("%s: %v", n.Name, err)
	}
}

func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

func (c *Cluster) Eventually(what string, timeout time.Duration, cond func() bool) {
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
func (c *Cluster) ServiceLogs(service string) string {
	c.t.Helper()
	var raw []byte
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}}
	if err := c.API(c.Nodes[0], "GET", "/services/"+service+"/logs?"+q.Encode(), nil, &raw); err != nil {
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
func (c *Cluster) StackObjects(stack string) (services, networks []string) {
	c.t.Helper()
	f := url.QueryEscape(`{"label":["com.docker.stack.namespace=` + stack + `"]}`)
	var svcs []struct{ Spec struct{ Name string } }
	c.MustAPI(c.Nodes[0], "GET", "/services?filters="+f, nil, &svcs)
	for _, s := range svcs {
		services = append(services, s.Spec.Name)
	}
	var nets []struct{ Name string }
	c.MustAPI(c.Nodes[0], "GET", "/networks?filters="+f, nil, &nets)
	for _, n := range nets {
		networks = append(networks, n.Name)
	}
	return services, networks
}

func (c *Cluster) teardown() {
	t := c.t
	for i := len(c.Nodes) - 1; i >= 0; i-- {
		n := c.Nodes[i]
		if n.cmd == nil || n.cmd.Process == nil {
			continue
		}
		_ = c.API(n, "POST", "/swarm/leave?force=true", nil, nil)
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(30 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("dockerd on %s (log tail):\n%s", n.Name, c.logTail(n))
		}
	}
	// dockerd's containerd and shims, should any outlive it.
	for _, n := range c.Nodes {
		if n.dir == "" {
			continue
		}
		for _, pid := range testutil.ProcessesMentioning(n.dir) {
			t.Errorf("process %d left behind by dockerd on %s", pid, n.Name)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, n := range c.Nodes {
		_ = exec.Command("ip", "netns", "del", n.Name).Run()
		if n.dir != "" {
			if mounts, _ := testutil.MountsUnder(n.dir); len(mounts) > 0 {
				for i := len(mounts) - 1; i >= 0; i-- {
					_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
				}
				t.Errorf("mounts left behind by dockerd on %s: %v", n.Name, mounts)
			}
			if err := os.RemoveAll(n.dir); err != nil {
				t.Errorf("remove %s: %v", n.dir, err)
			}
		}
	}
	_ = exec.Command("ip", "netns", "del", c.hub).Run()
}

// taskNodes is the hostnames of the nodes running the service's tasks.
func (c *Cluster) TaskNodes(service string) []string {
	c.t.Helper()
	f := url.QueryEscape(`{"service":["` + service + `"],"desired-state":["running"]}`)
	var tasks []struct {
		NodeID string
		Status struct{ State string }
	}
	c.MustAPI(c.Nodes[0], "GET", "/tasks?filters="+f, nil, &tasks)
	var nodes []string
	for _, tk := range tasks {
		if tk.Status.State != "running" {
			continue
		}
		var n struct{ Description struct{ Hostname string } }
		c.MustAPI(c.Nodes[0], "GET", "/nodes/"+tk.NodeID, nil, &n)
		nodes = append(nodes, n.Description.Hostname)
	}
	slices.Sort(nodes)
	return slices.Compact(nodes)
}

func (c *Cluster) ServiceVersion(service string) uint64 {
	c.t.Helper()
	var s struct{ Version struct{ Index uint64 } }
	c.MustAPI(c.Nodes[0], "GET", "/services/"+service, nil, &s)
	return s.Version.Index
}

// SetLinkUp cuts node i off the cluster's network (up false), as if the
// node failed, or connects it again.
func (c *Cluster) SetLinkUp(i int, up bool) {
	c.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	c.ip("-n", c.hub, "link", "set", fmt.Sprintf("p%d", i), state)
}

// NodeStates is each node's state as the manager sees it, by hostname:
// "ready", "down", …
func (c *Cluster) NodeStates() map[string]string {
	c.t.Helper()
	var nodes []struct {
		Description struct{ Hostname string }
		Status      struct{ State string }
	}
	c.MustAPI(c.Nodes[0], "GET", "/nodes", nil, &nodes)
	out := map[string]string{}
	for _, n := range nodes {
		out[n.Description.Hostname] = n.Status.State
	}
	return out
}
