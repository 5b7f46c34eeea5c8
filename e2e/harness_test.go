//go:build e2e

// Package e2e runs the built berth binary against real containers, bridges
// and volumes on this machine. Each test gets a fresh state root and a unique
// project name, and fails if it leaves anything behind: a container process,
// a mount, a link, a namespace, a firewall rule or a record.
//
// Tests in this package do not run in parallel: the leak check compares the
// machine's links and firewall rules before and after each test.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

var (
	berthBin    string // the binary under test
	busyboxTar  string // rootfs tarball of Debian's busybox-static
	repoRoot    string
	keepOnError = os.Getenv("E2E_KEEP") == "1"
)

func TestMain(m *testing.M) {
	os.Exit(setup(m))
}

func setup(m *testing.M) int {
	// No container of a test may get a path to the outside: no NAT out.
	os.Setenv("BERTH_NO_OUTBOUND", "1")
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	berthBin = filepath.Join(dir, "berth")
	// As `make build` builds it: with the small shim embedded.
	build := exec.Command("make", "--no-print-directory", "build", "BIN="+berthBin)
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build berth: %v\n%s", err, out)
		return 1
	}
	busyboxTar = filepath.Join(dir, "busybox-rootfs.tar")
	mk := exec.Command("sh", filepath.Join(repoRoot, "hack", "busybox-rootfs.sh"), busyboxTar)
	if out, err := mk.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "busybox rootfs: %v\n%s", err, out)
		return 1
	}
	return testutil.MainLocked(m.Run, true)
}

// harness is one test's berth: its own state root and project name.
type harness struct {
	t       *testing.T
	root    string
	project string
	before  machineState
	stdin   string // what the next berth commands read on their stdin ("": nothing)
}

// newHarness gives the test a fresh root with the busybox image imported,
// and registers the leak check.
func newHarness(t *testing.T) *harness {
	t.Helper()
	testutil.RequirePrivileged(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	h := &harness{
		t:       t,
		root:    t.TempDir(),
		project: "e2e" + hex.EncodeToString(b[:]),
		before:  snapshot(t),
	}
	t.Cleanup(h.checkNothingLeft)
	h.mustBerth("image", "import", busyboxTar, "busybox:latest")
	return h
}

// result is what one berth command did.
type result struct {
	stdout, stderr string
	code           int
}

// berth runs the binary with the test's root and a deadline.
func (h *harness) berth(args ...string) result {
	h.t.Helper()
	return h.berthIn("", args...)
}

func (h *harness) berthIn(dir string, args ...string) result {
	h.t.Helper()
	// Not t.Context(): cleanups run berth after it is cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.t.Context()), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, append([]string{"--root", h.root}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
	if h.stdin != "" {
		cmd.Stdin = strings.NewReader(h.stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (h *harness) mustBerth(args ...string) string {
	h.t.Helper()
	r := h.berth(args...)
	if r.code != 0 {
		h.t.Fatalf("berth %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// eventually polls cond until it holds or the deadline passes.
func (h *harness) eventually(what string, timeout time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	delay := 10 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(delay)
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// psEntry is a line of `berth ps --format json`.
type psEntry struct {
	ID, Name, Service, State, Status, Networks string
	ExitCode                                   int
}

func (h *harness) ps(file string, args ...string) []psEntry {
	h.t.Helper()
	return h.parsePs(h.mustBerth(append([]string{"-f", file, "ps", "--format", "json"}, args...)...))
}

// psByName lists the project's containers by its name alone, without a file.
func (h *harness) psByName(args ...string) []psEntry {
	h.t.Helper()
	r := h.berthIn(h.t.TempDir(), append([]string{"-p", h.project, "ps", "--format", "json"}, args...)...)
	if r.code != 0 {
		h.t.Fatalf("ps -p %s: exit %d: %s", h.project, r.code, r.stderr)
	}
	return h.parsePs(r.stdout)
}

func (h *harness) parsePs(out string) []psEntry {
	h.t.Helper()
	var rows []psEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e psEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			h.t.Fatalf("ps --format json line %q: %v", line, err)
		}
		rows = append(rows, e)
	}
	return rows
}

// machineState is what the leak check compares.
type machineState struct {
	links   []string // berth* and vb* links
	rules   []string // firewall rules and chains mentioning berth, IPv4 and IPv6
	cgroups []string // cgroups under any hierarchy's berth/
	netns   []string // named namespaces (`ip netns`, /run/netns)
	sysctls []string // host-wide settings berth may turn on, as path=value
}

// hostSysctls are the host-wide settings no test may leave changed: tests
// run without outbound NAT, so nothing turns on IP forwarding.
var hostSysctls = []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"}

func snapshot(t *testing.T) machineState {
	t.Helper()
	var s machineState
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(line, ": ", 3)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(f[1], "@")
		if strings.HasPrefix(name, "berth") || strings.HasPrefix(name, "vb") {
			s.links = append(s.links, name)
		}
	}
	// Each as "<tool> -t <table> <line>": rules, and chains (":BERTH-DNAT
	// - [0:0]") that could be left empty.
	for _, tool := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(tool + "-save").Output()
		if err != nil {
			continue
		}
		table := ""
		for _, line := range strings.Split(string(out), "\n") {
			if t, ok := strings.CutPrefix(line, "*"); ok {
				table = t
			}
			if strings.Contains(strings.ToLower(line), "berth") && (strings.HasPrefix(line, "-A") || strings.HasPrefix(line, ":")) {
				s.rules = append(s.rules, tool+" -t "+table+" "+line)
			}
		}
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				s.netns = append(s.netns, f[0])
			}
		}
	}
	for _, p := range hostSysctls {
		if b, err := os.ReadFile(p); err == nil {
			s.sysctls = append(s.sysctls, p+"="+strings.TrimSpace(string(b)))
		}
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/berth/*")
	for _, c := range cgroups {
		if fi, err := os.Stat(c); err == nil && fi.IsDir() {
			s.cgroups = append(s.cgroups, c)
		}
	}
	slices.Sort(s.links)
	slices.Sort(s.rules)
	slices.Sort(s.netns)
	return s
}

// checkNothingLeft fails the test if it left anything on the machine, then
// removes what it finds so later tests start clean.
func (h *harness) checkNothingLeft() {
	t := h.t
	var leaks []string
	// Processes: any whose command line names this root (shims, containers' init).
	procs := processesMentioning(h.root)
	for _, p := range procs {
		leaks = append(leaks, fmt.Sprintf("process %d: %s", p.pid, p.cmdline))
	}
	// Mounts under the root.
	mounts := mountsUnder(h.root)
	for _, m := range mounts {
		leaks = append(leaks, "mount "+m)
	}
	after := snapshot(t)
	for _, l := range after.links {
		if !slices.Contains(h.before.links, l) {
			leaks = append(leaks, "link "+l)
		}
	}
	for _, r := range after.rules {
		if !slices.Contains(h.before.rules, r) {
			leaks = append(leaks, "firewall rule "+r)
		}
	}
	for _, c := range after.cgroups {
		if !slices.Contains(h.before.cgroups, c) {
			leaks = append(leaks, "cgroup "+c)
		}
	}
	for _, n := range after.netns {
		if !slices.Contains(h.before.netns, n) {
			leaks = append(leaks, "named netns "+n)
		}
	}
	for _, v := range after.sysctls {
		if !slices.Contains(h.before.sysctls, v) {
			leaks = append(leaks, "sysctl "+v)
		}
	}
	// Records of containers, networks and volumes.
	for _, dir := range []string{"containers", "networks", "volumes"} {
		entries, _ := os.ReadDir(filepath.Join(h.root, dir))
		for _, e := range entries {
			if e.IsDir() || strings.HasSuffix(e.Name(), ".json") {
				leaks = append(leaks, fmt.Sprintf("record %s/%s", dir, e.Name()))
			}
		}
	}
	// Nothing in the state root may still name the project (the run
	// directory's lock files aside).
	_ = filepath.WalkDir(h.root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && path == filepath.Join(h.root, "run", "locks") {
			return filepath.SkipDir
		}
		if strings.Contains(d.Name(), h.project) {
			leaks = append(leaks, "state "+strings.TrimPrefix(path, h.root+"/"))
		} else if !d.IsDir() && strings.HasSuffix(path, ".json") {
			if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), h.project) {
				leaks = append(leaks, "state "+strings.TrimPrefix(path, h.root+"/")+" mentions the project")
			}
		}
		return nil
	})
	if netns, _ := os.ReadDir(filepath.Join(h.root, "run", "netns")); len(netns) > 0 {
		for _, e := range netns {
			leaks = append(leaks, "netns "+e.Name())
		}
	}
	if len(leaks) == 0 {
		return
	}
	if t.Failed() && keepOnError {
		t.Logf("E2E_KEEP=1: leaving %d resources under %s", len(leaks), h.root)
		return
	}
	t.Errorf("the test left %d things behind:\n  %s", len(leaks), strings.Join(leaks, "\n  "))
	h.forceClean(procs, mounts, after)
}

// forceClean removes what a failed test left, best effort.
func (h *harness) forceClean(procs []proc, mounts []string, after machineState) {
	for _, p := range procs {
		_ = syscallKill(p.pid)
	}
	// A container's processes do not name the root: end those in the
	// cgroups of this root's containers, and remove the cgroups.
	ids, _ := os.ReadDir(filepath.Join(h.root, "containers"))
	for _, id := range ids {
		if !id.IsDir() {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids/berth", id.Name(), "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil {
				_ = syscallKill(pid)
			}
		}
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*/berth", id.Name()))
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	}
	slices.Reverse(mounts)
	for _, m := range mounts {
		_ = exec.Command("umount", "-l", m).Run()
	}
	// Only what names this test's project: other runs on the machine (a
	// developer's, another package's) must not lose their links and rules.
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(line, ": ", 3)
		if len(f) < 3 || !strings.Contains(line, h.project) {
			continue
		}
		name, _, _ := strings.Cut(f[1], "@")
		if slices.Contains(after.links, name) && !slices.Contains(h.before.links, name) {
			_ = exec.Command("ip", "link", "del", name).Run()
		}
	}
	for _, r := range after.rules {
		if !slices.Contains(h.before.rules, r) && strings.Contains(r, h.project) {
			// iptables-save quotes comments; let the shell split the rule.
			_ = exec.Command("sh", "-c", strings.Replace(r, " -A ", " -w -D ", 1)).Run()
		}
	}
	_ = exec.Command("runc", "--root", filepath.Join(h.root, "run", "runc"), "list").Run()
}

type proc struct {
	pid     int
	cmdline string
}

func processesMentioning(s string) []proc {
	var out []proc
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(bytes.TrimRight(b, "\x00")), "\x00", " ")
		if strings.Contains(cmd, s) {
			out = append(out, proc{pid, cmd})
		}
	}
	return out
}

func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, f[4])
		}
	}
	return out
}
