//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestConfigLockImageDigests: config --lock-image-digests writes an
// override pinning the service's image to berth's copy's digest, and up
// with it runs that very image.
func TestConfigLockImageDigests(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  app:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"600\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(h.mustBerth("image", "inspect", "-f", "{{.Id}}", "busybox:latest"))
	lock := filepath.Join(dir, "compose.lock.yaml")
	h.mustBerth("-f", file, "config", "--lock-image-digests", "-o", lock)
	b, err := os.ReadFile(lock)
	_, d, _ := strings.Cut(strings.TrimSpace(string(b)), "@")
	if want := "services:\n  app:\n    image: docker.io/library/busybox:latest@" + d + "\n"; err != nil || !strings.HasPrefix(d, "sha256:") || len(d) != 71 || string(b) != want {
		t.Fatalf("lock file (%v):\n%s\nwant one pinning busybox:latest", err, b)
	}
	t.Cleanup(func() { h.berth("-f", file, "-f", lock, "down", "-v") })
	h.mustBerth("-f", file, "-f", lock, "up", "-d")
	ps := h.ps(file, "-a")
	if len(ps) != 1 {
		t.Fatalf("containers: %+v", ps)
	}
	if got := h.inspectOne(ps[0].Name, "{{.Config.Image}} {{.Image}}"); got != "busybox:latest@"+d+" "+id {
		t.Errorf("the pinned container runs %q, want busybox@%s (%s)", got, d, id)
	}
}

// TestImageLsTree: image ls --tree lists the image with its platform
// below it, marked in use while a container runs it.
func TestImageLsTree(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "tree-user") })
	h.mustBerth("container", "run", "-d", "--name", "tree-user", "--init", "busybox:latest", "sleep", "600")
	id := strings.TrimSpace(h.mustBerth("image", "inspect", "-f", "{{.Id}}", "busybox:latest"))
	lines := strings.Split(h.mustBerth("image", "ls", "--tree"), "\n")
	if len(lines) < 6 || !strings.HasPrefix(lines[0], "WARNING: This is an experimental feature") || !strings.HasPrefix(lines[3], "IMAGE ") {
		t.Fatalf("image ls --tree:\n%s", strings.Join(lines, "\n"))
	}
	top, platform := strings.Fields(lines[4]), strings.Fields(lines[5])
	if len(top) != 5 || top[0] != "busybox:latest" || top[1] != strings.TrimPrefix(id, "sha256:")[:12] || top[4] != "U" {
		t.Errorf("image line %q, want busybox:latest, its ID and the in-use chip", lines[4])
	}
	if len(platform) != 6 || platform[0] != "└─" || platform[1] != "linux/"+runtime.GOARCH || platform[5] != "U" {
		t.Errorf("platform line %q, want └─ linux/%s … U", lines[5], runtime.GOARCH)
	}
}

// TestNetworkInspectVerbose: network inspect -v prints a local network's
// document as without it, as Docker does (it adds a Swarm network's
// services only).
func TestNetworkInspectVerbose(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("network", "rm", "verbose-net") })
	h.mustBerth("network", "create", "verbose-net")
	plain := h.mustBerth("network", "inspect", "verbose-net")
	if v := h.mustBerth("network", "inspect", "--verbose", "verbose-net"); v != plain || !strings.Contains(v, `"Name": "verbose-net"`) {
		t.Errorf("inspect --verbose:\n%s\nwithout:\n%s", v, plain)
	}
}

// TestNetworkCreateOptsAndAux: network create -o
// com.docker.network.bridge.enable_icc=false keeps the network's
// containers from reaching each other (each still serves itself), and
// --aux-address keeps an address of the subnet from every container;
// inspect shows the option.
func TestNetworkCreateOptsAndAux(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() {
		h.berth("container", "rm", "-f", "icc-a", "icc-b")
		h.berth("network", "rm", "icc-net")
	})
	h.mustBerth("network", "create", "--subnet", "10.219.7.0/24", "--aux-address", "router=10.219.7.2",
		"-o", "com.docker.network.bridge.enable_icc=false", "icc-net")
	if got := strings.TrimSpace(h.mustBerth("network", "inspect", "-f", `{{index .Options "com.docker.network.bridge.enable_icc"}}`, "icc-net")); got != "false" {
		t.Errorf("inspect: enable_icc %q, want false", got)
	}
	for _, name := range []string{"icc-a", "icc-b"} {
		h.mustBerth("container", "run", "-d", "--name", name, "--network", "icc-net", "--init", "busybox:latest",
			"sh", "-c", "echo served-by-"+name+" > /tmp/index.html; exec httpd -f -p 8080 -h /tmp")
	}
	ip := func(name string) string {
		return strings.TrimSpace(h.inspectOne(name, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"))
	}
	a, b := ip("icc-a"), ip("icc-b")
	for name, addr := range map[string]string{"icc-a": a, "icc-b": b} {
		if !strings.HasPrefix(addr, "10.219.7.") || addr == "10.219.7.2" || addr == "10.219.7.1" {
			t.Errorf("%s's address %q: want one of 10.219.7.0/24 other than the gateway and the aux address", name, addr)
		}
	}
	get := func(from, addr string) result {
		return h.berth("container", "exec", from, "sh", "-c", "timeout 3 wget -q -O - http://"+addr+":8080/")
	}
	h.eventually("icc-a serves itself on its address", 15*time.Second, func() bool {
		r := get("icc-a", a)
		return r.code == 0 && strings.Contains(r.stdout, "served-by-icc-a")
	})
	if r := get("icc-b", a); r.code == 0 {
		t.Errorf("icc-b reached icc-a with enable_icc=false:\n%s", r.stdout)
	}
}
