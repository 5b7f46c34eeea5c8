//go:build e2e

package e2e

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServiceDNSAndPorts: inside a container, a service name resolves to
// all its replicas and an alias to the service; a published port answers
// on 127.0.0.1 and `port` prints the binding; down leaves no trace.
func TestServiceDNSAndPorts(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	t.Setenv("PUB_PORT", port)

	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })

	var lookup string
	h.eventually("web resolves to both replicas", 10*time.Second, func() bool {
		r := h.berth("-f", file, "exec", "-T", "probe", "nslookup", "web")
		lookup = r.stdout
		return r.code == 0 && strings.Count(lookup, "Address") >= 3 // the server's, then one per replica
	})
	var addrs int
	for _, line := range strings.Split(lookup, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "Address") && !strings.Contains(line, ":53") {
			addrs++
		}
	}
	if addrs != 2 {
		t.Errorf("nslookup web gave %d addresses, want 2:\n%s", addrs, lookup)
	}
	if r := h.berth("-f", file, "exec", "-T", "probe", "sh", "-c", "timeout 3 wget -q -O - http://www:8080/"); r.code != 0 || !strings.Contains(r.stdout, "hello-from-web") {
		t.Errorf("the alias www did not reach web: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	var body string
	h.eventually("the published port answers on 127.0.0.1", 10*time.Second, func() bool {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, "published")
	})
	if out := strings.TrimSpace(h.mustBerth("-f", file, "port", "pub", "8080")); out != "127.0.0.1:"+port {
		t.Errorf("port pub 8080 = %q, want 127.0.0.1:%s", out, port)
	}

	h.mustBerth("-f", file, "down", "-v")
	c := http.Client{Timeout: time.Second}
	if resp, err := c.Get("http://127.0.0.1:" + port + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("the published port still answers after down")
	}
}
