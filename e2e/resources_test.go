//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBlkioAndDeviceRules: blkio throttles and device cgroup rules in the
// container's cgroups.
func TestBlkioAndDeviceRules(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	disks, _ := filepath.Glob("/sys/block/*/dev")
	var dev, majMin string
	for _, d := range disks {
		name := filepath.Base(filepath.Dir(d))
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "zram") || strings.HasPrefix(name, "ram") {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/dev/"+name, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			b, _ := os.ReadFile(d)
			dev, majMin = "/dev/"+name, strings.TrimSpace(string(b))
			break
		}
	}
	if dev == "" {
		t.Fatal("no disk on this host to throttle")
	}
	t.Setenv("BLK_DEV", dev)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	ps := h.ps(file)
	if len(ps) != 1 {
		t.Fatalf("ps: %+v", ps)
	}
	leaves, _ := filepath.Glob("/sys/fs/cgroup/blkio/berth/" + ps[0].ID + "*")
	if len(leaves) != 1 {
		t.Fatalf("app's blkio cgroup: %v", leaves)
	}
	leaf := filepath.Base(leaves[0])
	for file, want := range map[string]string{
		"blkio/berth/" + leaf + "/blkio.throttle.read_bps_device":   majMin + " 1048576",
		"blkio/berth/" + leaf + "/blkio.throttle.write_iops_device": majMin + " 120",
		"devices/berth/" + leaf + "/devices.list":                   "c 10:200 rwm",
	} {
		b, err := os.ReadFile("/sys/fs/cgroup/" + file)
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s = %q (%v), want a line %q", file, b, err, want)
		}
	}
	// Unchanged, a second up leaves the container alone.
	h.mustBerth("-f", file, "up", "-d")
	if again := h.ps(file); len(again) != 1 || again[0].ID != ps[0].ID {
		t.Errorf("second up replaced the container: %+v", again)
	}
}

// TestServiceNetworkOptions: interface_name, link_local_ips and the
// endpoint's sysctls (driver_opts) on the container's interface.
func TestServiceNetworkOptions(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	for cmd, want := range map[string]string{
		"ip -4 addr show front0":                          "169.254.8.8/16",
		"cat /proc/sys/net/ipv4/conf/front0/log_martians": "1",
		"ip -o link show":                                 "eth0", // back keeps the default name
	} {
		r := h.berth("-f", file, "exec", "-T", "app", "sh", "-c", cmd)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("%s: exit %d, %q (%s), want %q in it", cmd, r.code, r.stdout, r.stderr, want)
		}
	}
}

// TestServiceRuntime: a service's runtime runs its container (its start,
// exec and delete go through it); one that does not exist
// fails the up in one line and leaves nothing.
func TestServiceRuntime(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	dir := t.TempDir()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "logging-runc")
	script := "#!/bin/sh\nfor a in \"$@\"; do case $a in create|start|run|exec|delete) echo $a >> " + logFile + ";; esac; done\nexec " + runc + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("APP_RUNTIME", wrapper)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	h.mustBerth("-f", file, "exec", "-T", "app", "true")
	h.mustBerth("-f", file, "down")
	b, _ := os.ReadFile(logFile)
	ran := func(verb string) bool { return strings.Contains(string(b), verb+"\n") }
	if !(ran("create") && ran("start")) && !ran("run") || !ran("exec") || !ran("delete") {
		t.Errorf("the service's runtime did not run the container (create and start, or run), exec and delete; it ran:\n%s", b)
	}

	t.Setenv("APP_RUNTIME", "no-such-runtime")
	r := h.berth("-f", file, "up", "-d")
	if r.code == 0 || !strings.Contains(r.stderr, `runtime "no-such-runtime": not found in PATH`) {
		t.Errorf("up with a missing runtime: exit %d\n%s", r.code, r.stderr)
	}
	if ps := h.ps(file, "-a"); len(ps) != 0 {
		t.Errorf("a failed up left %+v", ps)
	}
}

// TestExternalLinks: a container outside the project answers to the
// link's alias in the service's container; a link to a container that
// does not exist fails the up in one line.
func TestExternalLinks(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	netName, ctrName := h.project+"-ext", h.project+"-legacy"
	t.Setenv("EXT_NETWORK", netName)
	t.Setenv("EXT_CONTAINER", ctrName)
	h.mustBerth("network", "create", netName)
	t.Cleanup(func() { h.berth("network", "rm", netName) })
	h.mustBerth("container", "run", "-d", "--init", "--name", ctrName, "--network", netName, "busybox:latest", "sleep", "3600")
	t.Cleanup(func() { h.berth("container", "rm", "-f", ctrName) })
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	want := strings.TrimSpace(h.mustBerth("container", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", ctrName))
	r := h.berth("-f", file, "exec", "-T", "app", "ping", "-c1", "-W2", "legacydb")
	if r.code != 0 || want == "" || !strings.Contains(r.stdout, want) {
		t.Errorf("ping legacydb: exit %d, %q (%s), want the address %q", r.code, r.stdout, r.stderr, want)
	}
	h.mustBerth("-f", file, "down")

	t.Setenv("EXT_CONTAINER", h.project+"-nope")
	r = h.berth("-f", file, "up", "-d")
	if r.code == 0 || !strings.Contains(r.stderr, `container "`+h.project+`-nope"`) {
		t.Errorf("up with a link to no container: exit %d\n%s", r.code, r.stderr)
	}
}

// TestLoggingNone: a service logging to none keeps no log; reading it
// fails as Docker's does.
func TestLoggingNone(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	h.eventually("loud's output is in its log", 15*time.Second, func() bool {
		return strings.Contains(h.berth("-f", file, "logs", "loud").stdout, "hello-from-loud")
	})
	r := h.berth("-f", file, "logs", "quiet")
	if r.code == 0 || strings.Contains(r.stdout, "hello-from-quiet") || !strings.Contains(r.stderr, "configured logging driver does not support reading") {
		t.Errorf("logs quiet: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, c := range h.ps(file) {
		if c.Service != "quiet" {
			continue
		}
		logs, _ := filepath.Glob(filepath.Join(h.root, "containers", c.ID+"*", "container.log"))
		if len(logs) != 1 {
			t.Fatalf("quiet's log file: %v", logs)
		}
		if target, err := os.Readlink(logs[0]); err != nil || target != os.DevNull {
			t.Errorf("quiet's log is %q (%v), want a link to %s", target, err, os.DevNull)
		}
	}
}
