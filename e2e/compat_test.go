//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestComposeCompatFields: links, cgroup limits and a private cgroup
// namespace run as Docker runs them.
func TestComposeCompatFields(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")

	h.eventually("client reaches web by its link alias", 15*time.Second, func() bool {
		r := h.berth("-f", file, "exec", "-T", "client", "sh", "-c", "timeout 3 wget -q -O - http://www:8080/")
		return r.code == 0 && strings.Contains(r.stdout, "hello-from-web")
	})

	var id string
	for _, c := range h.ps(file) {
		if c.Service == "web" {
			id = c.ID
		}
	}
	if id == "" {
		t.Fatal("no web container")
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/cpuset/berth/" + id + "*")
	if len(dirs) != 1 {
		t.Fatalf("web's cpuset cgroup: %v", dirs)
	}
	leaf := filepath.Base(dirs[0])
	for file, want := range map[string]string{
		"cpuset/berth/" + leaf + "/cpuset.cpus":        "0",
		"cpu/berth/" + leaf + "/cpu.cfs_quota_us":      "50000",
		"cpu/berth/" + leaf + "/cpu.cfs_period_us":     "100000",
		"memory/berth/" + leaf + "/memory.swappiness":  "10",
		"memory/berth/" + leaf + "/memory.oom_control": "oom_kill_disable 1",
	} {
		b, err := os.ReadFile("/sys/fs/cgroup/" + file)
		if err != nil || !strings.HasPrefix(strings.TrimSpace(string(b)), want) {
			t.Errorf("%s = %q (%v), want %q", file, b, err, want)
		}
	}
	// With its own cgroup namespace, web sees its cgroup as the root.
	r := h.berth("-f", file, "exec", "-T", "web", "cat", "/proc/self/cgroup")
	if r.code != 0 || strings.Contains(r.stdout, "/berth/") {
		t.Errorf("web's /proc/self/cgroup shows the host's paths: exit %d\n%s", r.code, r.stdout)
	}
}

// TestIPv6Network: a network with enable_ipv6 and a static IPv6 address.
func TestIPv6Network(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	if r := h.berth("-f", file, "exec", "-T", "web", "ip", "-6", "addr", "show", "eth0"); r.code != 0 || !strings.Contains(r.stdout, "fd00:b7::5/64") {
		t.Errorf("web's IPv6 address: exit %d\n%s", r.code, r.stdout)
	}
	h.eventually("client pings web by name over IPv6", 15*time.Second, func() bool {
		r := h.berth("-f", file, "exec", "-T", "client", "ping6", "-c1", "-W2", "web")
		return r.code == 0 && strings.Contains(r.stdout, "fd00:b7::5")
	})
}
