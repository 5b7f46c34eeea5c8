package netmgr

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// serveEcho listens in the sandbox at nsPath on addr, TCP and UDP, and
// answers every connection or datagram with "hello from <addr>".
func serveEcho(t *testing.T, nsPath string, addr netip.AddrPort) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	if err := inNetns(nsPath, func() (err error) {
		if ln, err = net.Listen("tcp4", addr.String()); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp4", addr.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	msg := "hello from " + addr.String() + "\n"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, msg)
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(msg), from)
		}
	}()
}

// exchange dials proto addr (from the namespace nsPath, or the host when
// empty) and returns the first line it reads.
func exchange(nsPath, proto, addr string) (string, error) {
	var c net.Conn
	dial := func() (err error) {
		c, err = net.DialTimeout(proto+"4", addr, 2*time.Second)
		return err
	}
	var err error
	if nsPath == "" {
		err = dial()
	} else {
		err = inNetns(nsPath, dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if proto == "udp" {
		if _, err := c.Write([]byte("hi")); err != nil {
			return "", err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestPublishedPorts(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := e.create(NetworkConfig{Name: e.name("web")})
	srvNs := e.sandbox(e.prefix + "srv")
	lo := netip.MustParseAddr("127.0.0.1")
	began := time.Now()
	srv, err := e.m.ConnectWith(ctx, n.Name, e.prefix+"srv", ConnectOptions{IfName: "eth0", Ports: []PortMapping{
		{HostIP: lo, ContainerPort: 8080, Protocol: "tcp"},
		{HostIP: lo, ContainerPort: 9090, Protocol: "udp"},
		{ContainerPort: 8080, Protocol: "tcp"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("connect with 3 published ports: %s", time.Since(began))
	if len(srv.Ports) != 3 || srv.Ports[0].HostPort == 0 || srv.Ports[2].HostPort == 0 {
		t.Fatalf("ports %+v: want 3 with host ports chosen", srv.Ports)
	}
	serveEcho(t, srvNs, netip.AddrPortFrom(srv.Addr, 8080))
	serveEcho(t, srvNs, netip.AddrPortFrom(srv.Addr, 9090))
	want8080 := "hello from " + netip.AddrPortFrom(srv.Addr, 8080).String()
	want9090 := "hello from " + netip.AddrPortFrom(srv.Addr, 9090).String()

	port := func(i int) string { return fmt.Sprint(srv.Ports[i].HostPort) }
	cliNs := e.sandbox(e.prefix + "cli")
	e.connect(n.Name, e.prefix+"cli")
	for _, tc := range []struct {
		name, ns, proto, addr, want string
	}{
		{"tcp from the host at 127.0.0.1", "", "tcp", "127.0.0.1:" + port(0), want8080},
		{"udp from the host at 127.0.0.1", "", "udp", "127.0.0.1:" + port(1), want9090},
		{"tcp from the host at its bridge-side address", "", "tcp", n.Gateway.String() + ":" + port(2), want8080},
		{"tcp from the host at 127.0.0.1, all-addresses binding", "", "tcp", "127.0.0.1:" + port(2), want8080},
		{"tcp from another container through the host's address", cliNs, "tcp", n.Gateway.String() + ":" + port(2), want8080},
		{"hairpin: the container to its own published port", srvNs, "tcp", n.Gateway.String() + ":" + port(2), want8080},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := exchange(tc.ns, tc.proto, tc.addr)
			if err != nil || got != tc.want {
				t.Errorf("%s %s: %q, %v; want %q", tc.proto, tc.addr, got, err, tc.want)
			}
		})
	}
	// A 127.0.0.1 binding is not published on the other addresses.
	if got, err := exchange("", "tcp", n.Gateway.String()+":"+port(0)); err == nil {
		t.Errorf("127.0.0.1-only port answered on %s: %q", n.Gateway, got)
	}

	// A port berth publishes already, and one a process holds.
	e.sandbox(e.prefix + "dup")
	_, err = e.m.ConnectWith(ctx, n.Name, e.prefix+"dup", ConnectOptions{IfName: "eth0", Ports: []PortMapping{{HostIP: lo, HostPort: srv.Ports[2].HostPort, ContainerPort: 80, Protocol: "tcp"}}})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "ports[0]: 127.0.0.1:"+port(2)+" is already in use") {
		t.Errorf("publishing berth's own port again: %v, want a conflict", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := ln.Addr().(*net.TCPAddr).Port
	_, err = e.m.ConnectWith(ctx, n.Name, e.prefix+"dup", ConnectOptions{IfName: "eth0", Ports: []PortMapping{
		{ContainerPort: 81, Protocol: "udp"},
		{HostIP: lo, HostPort: uint16(held), ContainerPort: 80, Protocol: "tcp"},
	}})
	want := fmt.Sprintf("ports[1]: 127.0.0.1:%d is already in use", held)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("publishing a held port: %v, want %q", err, want)
	}
	rec, _ := e.m.Get(ctx, n.Name)
	if _, ok := rec.Endpoints[e.prefix+"dup"]; ok {
		t.Error("a failed publication left its endpoint")
	}
	rules, _, _ := e.m.natRules(ctx, ipv4, natDNAT)
	if got := countComment(rules, portComment(n.Name, "")); got != 3 {
		t.Errorf("%d DNAT rules of the network, want srv's 3", got)
	}

	// The rules go with the sandbox.
	if err := e.m.RemoveSandbox(ctx, srv.Sandbox); err != nil {
		t.Fatal(err)
	}
	rules, _, _ = e.m.natRules(ctx, ipv4, natDNAT)
	if got := countComment(rules, portComment(n.Name, "")); got != 0 {
		t.Errorf("%d DNAT rules left after the sandbox's removal", got)
	}
	if _, err := exchange("", "tcp", "127.0.0.1:"+port(0)); err == nil {
		t.Error("port still answers after the sandbox's removal")
	}
}

func countComment(rules [][]string, prefix string) int {
	n := 0
	for _, r := range rules {
		if hasCommentPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// TestInternalNetworkHasNoWayOut: a sandbox on an internal network reaches
// neither a published port nor the host's addresses, and cannot publish.
func TestInternalNetworkHasNoWayOut(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	pub := e.create(NetworkConfig{Name: e.name("pub")})
	in := e.create(NetworkConfig{Name: e.name("int"), Internal: true})
	srvNs := e.sandbox(e.prefix + "srv")
	srv, err := e.m.ConnectWith(ctx, pub.Name, e.prefix+"srv", ConnectOptions{IfName: "eth0", Ports: []PortMapping{{ContainerPort: 8080, Protocol: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, srvNs, netip.AddrPortFrom(srv.Addr, 8080))
	hostPort := fmt.Sprint(srv.Ports[0].HostPort)
	if _, err := exchange("", "tcp", pub.Gateway.String()+":"+hostPort); err != nil {
		t.Fatalf("published port does not answer from the host: %v", err)
	}
	isoNs := e.sandbox(e.prefix + "iso")
	e.connect(in.Name, e.prefix+"iso")
	for _, addr := range []string{pub.Gateway.String() + ":" + hostPort, netip.AddrPortFrom(srv.Addr, 8080).String(), "192.0.2.1:80"} {
		if got, err := exchange(isoNs, "tcp", addr); err == nil {
			t.Errorf("internal sandbox reached %s: %q", addr, got)
		} else if !strings.Contains(err.Error(), "unreachable") {
			t.Logf("%s: %v", addr, err)
		}
	}
	e.sandbox(e.prefix + "pub2")
	if _, err := e.m.ConnectWith(ctx, in.Name, e.prefix+"pub2", ConnectOptions{IfName: "eth0", Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("publishing on an internal network: %v, want InvalidArgument", err)
	}
}
