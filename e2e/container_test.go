//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
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

	"github.com/creack/pty"
)

// ctrInspect is what these tests read of `berth container inspect`
// (Docker's document, see dockerInspect), in the shape they use.
type ctrInspect struct {
	ID     string
	Config struct {
		Name   string
		Labels map[string]string
		Mounts []struct {
			Type, Source, Target string // Source: a volume's name
		}
		AutoRemove bool
	}
	State struct {
		Status   string
		ExitCode int
		Pid      int
	}
	// Networks are the networks the container has an address on, while
	// it runs; the published ports are on the first.
	Networks []ctrNetwork
}

type ctrNetwork struct {
	Network string
	Address netip.Addr
	Ports   []struct {
		HostIP                  string
		HostPort, ContainerPort int
	}
}

// dockerInspect is the part of Docker's container document ctrInspect reads.
type dockerInspect struct {
	ID         string `json:"Id"`
	Name       string
	Config     struct{ Labels map[string]string }
	HostConfig struct{ AutoRemove bool }
	State      struct {
		Status   string
		ExitCode int
		Pid      int
	}
	Mounts []struct {
		Type, Name, Source, Destination string
	}
	NetworkSettings struct {
		Networks map[string]struct{ IPAddress string }
		Ports    map[string][]struct{ HostIp, HostPort string }
	}
}

func (d dockerInspect) ctrInspect() ctrInspect {
	var in ctrInspect
	in.ID, in.Config.Name, in.Config.Labels = d.ID, strings.TrimPrefix(d.Name, "/"), d.Config.Labels
	in.Config.AutoRemove, in.State.Status, in.State.ExitCode, in.State.Pid = d.HostConfig.AutoRemove, d.State.Status, d.State.ExitCode, d.State.Pid
	for _, m := range d.Mounts {
		src := m.Source
		if m.Type == "volume" {
			src = m.Name
		}
		in.Config.Mounts = append(in.Config.Mounts, struct{ Type, Source, Target string }{m.Type, src, m.Destination})
	}
	for _, name := range slices.Sorted(maps.Keys(d.NetworkSettings.Networks)) {
		if a, err := netip.ParseAddr(d.NetworkSettings.Networks[name].IPAddress); err == nil {
			in.Networks = append(in.Networks, ctrNetwork{Network: name, Address: a})
		}
	}
	for port, bindings := range d.NetworkSettings.Ports {
		num, _, _ := strings.Cut(port, "/")
		cp, _ := strconv.Atoi(num)
		for _, b := range bindings {
			hp, _ := strconv.Atoi(b.HostPort)
			if len(in.Networks) > 0 {
				in.Networks[0].Ports = append(in.Networks[0].Ports, struct {
					HostIP                  string
					HostPort, ContainerPort int
				}{b.HostIp, hp, cp})
			}
		}
	}
	return in
}

func (h *harness) ctrInspect(ref string) ctrInspect {
	h.t.Helper()
	var out []dockerInspect
	if err := json.Unmarshal([]byte(h.mustBerth("container", "inspect", ref)), &out); err != nil || len(out) != 1 {
		h.t.Fatalf("container inspect %s: %v (%d entries)", ref, err, len(out))
	}
	return out[0].ctrInspect()
}

// ctrInspectID is the ID of the container ref names, "" if there is none.
func (h *harness) ctrInspectID(ref string) string {
	h.t.Helper()
	var out []dockerInspect
	r := h.berth("container", "inspect", ref)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out) != 1 {
		return ""
	}
	return out[0].ID
}

// ctrNames lists the containers `container ls` shows with args, by name.
func (h *harness) ctrNames(args ...string) []string {
	h.t.Helper()
	out := h.mustBerth(append([]string{"container", "ls"}, args...)...)
	var names []string
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) == 0 {
			continue // the header
		}
		names = append(names, f[len(f)-1])
	}
	return names
}

// ctrNetworks lists the networks of the root by name.
func (h *harness) ctrNetworks() []string {
	h.t.Helper()
	var names []string
	for i, line := range strings.Split(strings.TrimSpace(h.mustBerth("network", "ls")), "\n") {
		if f := strings.Fields(line); i > 0 && len(f) > 1 {
			names = append(names, f[1])
		}
	}
	return names
}

// ctrNothingLeft checks that no container, no network and no process of
// the root is left (the --rm removals and the default network's).
func (h *harness) ctrNothingLeft(what string) {
	h.t.Helper()
	h.eventually(what+": no container, network or process left", 20*time.Second, func() bool {
		return len(h.ctrNames("-a")) == 0 && len(h.ctrNetworks()) == 0 && len(processesMentioning(h.root)) == 0
	})
}

// ctrGone waits until `container inspect` no longer finds the container.
func (h *harness) ctrGone(ref, what string) {
	h.t.Helper()
	h.eventually(what+": "+ref+" removed", 20*time.Second, func() bool {
		r := h.berth("container", "inspect", ref)
		return r.code != 0 && strings.Contains(r.stderr, "not found")
	})
}

// oneLineError checks a failed command: non-zero exit, one line on
// stderr that contains want.
func oneLineError(t *testing.T, r result, what, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("%s: exit %d, stderr %q; want a non-zero exit and one line containing %q", what, r.code, r.stderr, want)
	}
}

// TestContainerLifecycle: create, start, ls with label filters, inspect
// (state, mounts, network address on the default network), top, exec with
// -e -u -w and its exit code, exec -T, pause and unpause, stop with a
// grace period then SIGKILL, kill with a signal, wait with the code, and
// rm -f taking the default network with the last container.
func TestContainerLifecycle(t *testing.T) {
	h := newHarness(t)
	bind := t.TempDir()
	t.Cleanup(func() {
		h.berth("container", "rm", "-f", "lc", "deaf", "hup")
		h.berth("volume", "rm", "lcvol")
	})

	// PID 1 without an init ignores SIGTERM unless it traps it.
	h.mustBerth("container", "create", "--name", "lc", "-l", "app=one", "-l", "tier=web",
		"-v", "lcvol:/data", "-v", bind+":/host", "busybox",
		"sh", "-c", "trap 'exit 0' TERM; echo ready > /host/ready; while :; do sleep 0.1; done")
	if got := h.ctrNames(); len(got) != 0 {
		t.Errorf("ls without -a shows a created container: %v", got)
	}
	if got := h.ctrNames("-a", "--filter", "label=app=one"); len(got) != 1 || got[0] != "lc" {
		t.Errorf("ls -a --filter label=app=one = %v, want [lc]", got)
	}
	if st := h.ctrInspect("lc").State.Status; st != "created" {
		t.Errorf("status after create: %s", st)
	}
	h.mustBerth("container", "start", "lc")
	h.eventually("lc writes into its bind mount", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(bind, "ready"))
		return err == nil
	})
	for filter, want := range map[string]int{"label=app=one": 1, "label=tier": 1, "label=app=two": 0, "label=nosuch": 0} {
		if got := h.ctrNames("--filter", filter); len(got) != want {
			t.Errorf("ls --filter %s = %v, want %d container(s)", filter, got, want)
		}
	}
	if got := h.ctrNames("--filter", "name=lc"); len(got) != 1 {
		t.Errorf("ls --filter name=lc = %v, want lc", got)
	}
	if r := h.berth("container", "ls", "--filter", "health=healthy"); r.code == 0 {
		t.Errorf("ls --filter health=healthy: exit 0, want an error for an unsupported filter")
	}

	in := h.ctrInspect("lc")
	if in.State.Status != "running" || in.Config.Labels["app"] != "one" {
		t.Errorf("inspect: status %s labels %v", in.State.Status, in.Config.Labels)
	}
	mounts := map[string]string{}
	for _, m := range in.Config.Mounts {
		mounts[m.Target] = m.Type + ":" + m.Source
	}
	if mounts["/data"] != "volume:lcvol" || mounts["/host"] != "bind:"+bind {
		t.Errorf("inspect mounts = %v", mounts)
	}
	if len(in.Networks) != 1 || in.Networks[0].Network != "bridge" || !in.Networks[0].Address.IsValid() {
		t.Fatalf("inspect network_status = %+v, want an address on bridge", in.Networks)
	}
	if nets := h.ctrNetworks(); len(nets) != 1 || nets[0] != "bridge" {
		t.Fatalf("network ls = %v, want the default network, bridge", nets)
	}
	var netInfo []struct {
		IPAM struct {
			Config []struct{ Subnet netip.Prefix }
		}
		Options map[string]string
	}
	if err := json.Unmarshal([]byte(h.mustBerth("network", "inspect", "bridge")), &netInfo); err != nil || len(netInfo) != 1 || len(netInfo[0].IPAM.Config) == 0 {
		t.Fatalf("network inspect bridge: %v", err)
	}
	if !netInfo[0].IPAM.Config[0].Subnet.Contains(in.Networks[0].Address) || !strings.HasPrefix(h.bridgeOf("bridge"), "berth") {
		t.Errorf("address %s, network %+v: want the address in the subnet, a bridge named berth…", in.Networks[0].Address, netInfo[0])
	}

	if out := h.mustBerth("container", "top", "lc"); !strings.Contains(out, "PID") || !strings.Contains(out, "sleep") && !strings.Contains(out, "sh") {
		t.Errorf("top lc:\n%s", out)
	}
	r := h.berth("container", "exec", "-e", "GREETING=hi", "-u", "nobody", "-w", "/tmp", "lc",
		"sh", "-c", `echo "$GREETING $(id -u) $(pwd)"; exit 7`)
	if r.code != 7 || strings.TrimSpace(r.stdout) != "hi 65534 /tmp" {
		t.Errorf("exec -e -u -w: exit %d, stdout %q, stderr %q; want 7 and \"hi 65534 /tmp\"", r.code, r.stdout, r.stderr)
	}
	if r := h.berth("container", "exec", "lc", "sh", "-c", "test -t 0 || echo no-tty"); r.code != 0 || strings.TrimSpace(r.stdout) != "no-tty" {
		t.Errorf("exec -T: exit %d, stdout %q", r.code, r.stdout)
	}
	// The volume is the container's: data written there is in the volume.
	h.mustBerth("container", "exec", "lc", "sh", "-c", "echo kept > /data/f")

	h.mustBerth("container", "pause", "lc")
	if st := h.ctrInspect("lc").State.Status; st != "paused" {
		t.Errorf("status after pause: %s", st)
	}
	if got := h.ctrNames(); len(got) != 1 {
		t.Errorf("ls does not list the paused container: %v", got)
	}
	h.mustBerth("container", "unpause", "lc")
	if st := h.ctrInspect("lc").State.Status; st != "running" {
		t.Errorf("status after unpause: %s", st)
	}
	h.mustBerth("container", "stop", "lc")
	if in := h.ctrInspect("lc"); in.State.Status != "exited" || in.State.ExitCode != 0 || len(in.Networks) != 0 {
		t.Errorf("after stop: %+v, want exited 0 with no address", in.State)
	}

	// A process that ignores SIGTERM is killed once the grace period is over.
	h.mustBerth("container", "run", "-d", "--name", "deaf", "busybox", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done")
	began := time.Now()
	h.mustBerth("container", "stop", "-t", "1", "deaf")
	if took := time.Since(began); took < time.Second || took > 8*time.Second {
		t.Errorf("stop -t 1 of a process ignoring SIGTERM took %s, want the 1s grace then SIGKILL", took)
	}
	if in := h.ctrInspect("deaf"); in.State.Status != "exited" || in.State.ExitCode != 137 {
		t.Errorf("after stop: %+v, want exited 137 (SIGKILL)", in.State)
	}

	// kill sends the signal given; wait prints the exit code.
	h.mustBerth("container", "run", "-d", "--name", "hup", "busybox", "sh", "-c", "trap 'echo got-hup; exit 3' HUP; while :; do sleep 0.1; done")
	h.eventually("hup runs", 10*time.Second, func() bool { return h.ctrInspect("hup").State.Status == "running" })
	h.mustBerth("container", "kill", "-s", "HUP", "hup")
	if out := strings.TrimSpace(h.mustBerth("container", "wait", "hup")); out != "3" {
		t.Errorf("wait hup = %q, want 3", out)
	}
	if logs := h.mustBerth("container", "logs", "hup"); !strings.Contains(logs, "got-hup") {
		t.Errorf("logs hup = %q, want got-hup", logs)
	}
	if r := h.berth("container", "kill", "hup"); r.code == 0 {
		t.Errorf("kill of an exited container: exit 0")
	}

	// rm refuses a running container without -f; the default network goes
	// with the last container on it.
	h.mustBerth("container", "start", "lc")
	h.mustBerth("container", "restart", "-t", "5", "lc")
	if in := h.ctrInspect("lc"); in.State.Status != "running" || len(in.Networks) != 1 {
		t.Errorf("after restart: %+v %+v", in.State, in.Networks)
	}
	if r := h.berth("container", "rm", "lc"); r.code == 0 {
		t.Errorf("rm of a running container without -f: exit 0")
	}
	h.mustBerth("container", "rm", "-f", "lc", "deaf")
	if nets := h.ctrNetworks(); len(nets) != 1 {
		t.Errorf("network ls with one container left = %v, want bridge", nets)
	}
	// prune removes what does not run, and the default network with it.
	hupID := h.ctrInspectID("hup")
	if out := h.mustBerth("container", "prune", "-f"); hupID == "" || !strings.Contains(out, hupID) {
		t.Errorf("prune -f printed %q, want hup's ID %q", out, hupID)
	}
	h.ctrNothingLeft("after rm and prune")
	if out := h.mustBerth("container", "run", "--rm", "-v", "lcvol:/data", "busybox", "cat", "/data/f"); strings.TrimSpace(out) != "kept" {
		t.Errorf("the named volume holds %q, want kept", out)
	}
	h.mustBerth("volume", "rm", "lcvol")
	h.ctrNothingLeft("at the end")
}

// TestContainerLogs: --tail, -t, --since and --until around a restart,
// and -f following the container across the restarts of its policy until
// it exits for good.
func TestContainerLogs(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "lg", "pol") })
	// Each run counts itself in a file that survives restarts.
	count := `n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; `
	h.mustBerth("container", "run", "-d", "--name", "lg", "busybox", "sh", "-c",
		count+`trap 'exit 0' TERM; for i in 1 2 3; do echo run-$n-line-$i; done; while :; do sleep 0.1; done`)
	h.eventually("run 1 logged", 10*time.Second, func() bool {
		return strings.Contains(h.mustBerth("container", "logs", "lg"), "run-1-line-3")
	})
	h.mustBerth("container", "stop", "lg")
	between := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	h.mustBerth("container", "start", "lg")
	h.eventually("run 2 logged", 10*time.Second, func() bool {
		return strings.Contains(h.mustBerth("container", "logs", "lg"), "run-2-line-3")
	})

	all := strings.Split(strings.TrimSpace(h.mustBerth("container", "logs", "lg")), "\n")
	if len(all) != 6 || all[0] != "run-1-line-1" || all[5] != "run-2-line-3" {
		t.Errorf("logs = %q, want the three lines of both runs", all)
	}
	if tail := strings.TrimSpace(h.mustBerth("container", "logs", "--tail", "2", "lg")); tail != "run-2-line-2\nrun-2-line-3" {
		t.Errorf("logs --tail 2 = %q", tail)
	}
	stamped := strings.Split(strings.TrimSpace(h.mustBerth("container", "logs", "-t", "--tail", "1", "lg")), "\n")
	if len(stamped) != 1 {
		t.Fatalf("logs -t --tail 1 = %q", stamped)
	}
	ts, text, _ := strings.Cut(stamped[0], " ")
	if at, err := time.Parse(time.RFC3339Nano, ts); err != nil || text != "run-2-line-3" || at.Before(between) || time.Since(at) > time.Minute {
		t.Errorf("logs -t line %q: time %v (%v), text %q", stamped[0], at, err, text)
	}
	since := h.mustBerth("container", "logs", "--since", between.Format(time.RFC3339Nano), "lg")
	if strings.Contains(since, "run-1") || strings.Count(since, "run-2") != 3 {
		t.Errorf("logs --since (between the runs) = %q, want run 2 only", since)
	}
	until := h.mustBerth("container", "logs", "--until", between.Format(time.RFC3339Nano), "lg")
	if strings.Contains(until, "run-2") || strings.Count(until, "run-1") != 3 {
		t.Errorf("logs --until (between the runs) = %q, want run 1 only", until)
	}
	if r := h.berth("container", "logs", "--since", "yesterday", "lg"); r.code == 0 {
		t.Errorf("logs --since yesterday: exit 0, want an error")
	}

	// The restart policy runs it three times; logs -f follows all of them
	// and ends when it exits for good.
	h.mustBerth("container", "run", "-d", "--name", "pol", "--restart", "on-failure:5", "busybox", "sh", "-c",
		count+`echo pol-run-$n; sleep 0.3; [ $n -ge 3 ] && exit 0; exit 1`)
	r := h.berth("container", "logs", "-f", "pol")
	if r.code != 0 {
		t.Fatalf("logs -f: exit %d: %s", r.code, r.stderr)
	}
	if got := strings.TrimSpace(r.stdout); got != "pol-run-1\npol-run-2\npol-run-3" {
		t.Errorf("logs -f across restarts = %q, want the three runs", got)
	}
	if in := h.ctrInspect("pol"); in.State.Status != "exited" || in.State.ExitCode != 0 {
		t.Errorf("pol after its runs: %+v", in.State)
	}
	h.mustBerth("container", "rm", "-f", "lg", "pol")
	h.ctrNothingLeft("at the end")
}

// TestContainerRunRemove: run --rm in the foreground returns the exit code
// and output and leaves nothing; run -d --rm is removed by its shim once it
// exits, on its own or stopped, with the default network.
func TestContainerRunRemove(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "bg", "stopped") })
	r := h.berth("container", "run", "--rm", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 5")
	if r.code != 5 || strings.TrimSpace(r.stdout) != "to-out" || strings.TrimSpace(r.stderr) != "to-err" {
		t.Errorf("run --rm: exit %d, stdout %q, stderr %q; want 5, to-out, to-err", r.code, r.stdout, r.stderr)
	}
	h.ctrNothingLeft("after run --rm")

	id := strings.TrimSpace(h.mustBerth("container", "run", "-d", "--rm", "--name", "bg", "busybox", "sh", "-c", "sleep 2; exit 2"))
	if len(id) != 64 {
		t.Errorf("run -d printed %q, want the ID", id)
	}
	if in := h.ctrInspect("bg"); !in.Config.AutoRemove {
		t.Errorf("run -d --rm: inspect auto_remove false")
	}
	// inspect does not sweep: the shim's removal is what is seen.
	h.ctrGone("bg", "run -d --rm exited")
	h.ctrNothingLeft("after run -d --rm exited")

	h.mustBerth("container", "run", "-d", "--rm", "--name", "stopped", "busybox", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
	h.mustBerth("container", "stop", "stopped")
	h.ctrGone("stopped", "run -d --rm stopped")
	h.ctrNothingLeft("after stop of a run -d --rm")

	// rm -f of a --rm container: both removals meet, neither fails.
	h.mustBerth("container", "run", "-d", "--rm", "--name", "bg", "busybox", "sleep", "60")
	h.mustBerth("container", "rm", "-f", "bg")
	h.ctrNothingLeft("after rm -f of a run -d --rm")

	// The one-off's shim removed what it could; what it could not (the shim
	// killed) is swept by the next container command.
	id = strings.TrimSpace(h.mustBerth("container", "run", "-d", "--rm", "--name", "bg", "busybox", "sh", "-c", "sleep 1; exit 4"))
	var shims []proc
	for _, p := range processesMentioning(h.root) {
		if strings.Contains(p.cmdline, " shim ") && strings.Contains(p.cmdline, id) {
			shims = append(shims, p)
		}
	}
	if len(shims) == 0 {
		t.Fatal("no shim found for bg")
	}
	for _, p := range shims {
		_ = syscallKill(p.pid)
	}
	h.eventually("bg ends without its shim", 10*time.Second, func() bool {
		return h.ctrInspect("bg").State.Status == "exited"
	})
	if got := h.ctrNames("-a"); len(got) != 0 {
		t.Errorf("container ls -a after the shim was killed = %v; want bg swept", got)
	}
	h.ctrNothingLeft("after the sweep")

	// A foreground run --rm killed before it could remove its container:
	// the shim leaves the container to it (no removal while it reads the
	// exit code), and the next container command sweeps it once both the
	// run and the container are gone.
	fg := exec.Command(berthBin, "--root", h.root, "container", "run", "--rm", "--name", "fg", "busybox", "sh", "-c", "sleep 1; exit 3")
	if err := fg.Start(); err != nil {
		t.Fatal(err)
	}
	h.eventually("fg runs", 10*time.Second, func() bool {
		return h.ctrInspectID("fg") != "" && h.ctrInspect("fg").State.Status == "running"
	})
	if in := h.ctrInspect("fg"); !in.Config.AutoRemove {
		t.Errorf("run --rm: inspect auto_remove false")
	}
	if got := h.ctrNames("-a"); !slices.Contains(got, "fg") {
		t.Errorf("container ls -a while the run --rm lives = %v; want fg kept for it", got)
	}
	_ = fg.Process.Kill()
	_ = fg.Wait()
	h.eventually("fg exits without its run", 10*time.Second, func() bool {
		return h.ctrInspect("fg").State.Status == "exited"
	})
	if got := h.ctrNames("-a"); len(got) != 0 {
		t.Errorf("container ls -a after run --rm was killed = %v; want fg swept", got)
	}
	h.ctrNothingLeft("after the sweep of a killed run --rm")
}

// TestContainerRunNetworking: the default network with DNS by container
// name, -p with an ephemeral port on 127.0.0.1 reachable from here and
// shown by port and inspect, -v with a named volume and a bind, --network
// with a user network, none and host.
func TestContainerRunNetworking(t *testing.T) {
	h := newHarness(t)
	userNet := h.project + "-net"
	t.Cleanup(func() {
		h.berth("container", "rm", "-f", "web", "peer")
		h.berth("network", "rm", userNet)
		h.berth("volume", "rm", "runvol")
	})
	h.mustBerth("container", "run", "-d", "--init", "--name", "web", "-p", "127.0.0.1::80", "busybox",
		"sh", "-c", "echo hello-port > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
	hostPort := strings.TrimSpace(h.mustBerth("container", "port", "web", "80"))
	addr, err := netip.ParseAddrPort(hostPort)
	if err != nil || addr.Addr() != netip.MustParseAddr("127.0.0.1") || addr.Port() == 80 {
		t.Fatalf("container port web 80 = %q, want 127.0.0.1:<ephemeral>", hostPort)
	}
	if all := strings.TrimSpace(h.mustBerth("container", "port", "web")); all != "80/tcp -> "+hostPort {
		t.Errorf("container port web = %q", all)
	}
	if in := h.ctrInspect("web"); len(in.Networks) != 1 || len(in.Networks[0].Ports) != 1 || in.Networks[0].Ports[0].HostPort != int(addr.Port()) {
		t.Errorf("inspect network_status = %+v, want port %d", in.Networks, addr.Port())
	}
	var body string
	h.eventually("the published port answers", 10*time.Second, func() bool {
		body = ctrHTTPGet(hostPort)
		return strings.Contains(body, "hello-port")
	})
	// Another container on the default network reaches web by name.
	if r := h.berth("container", "run", "--rm", "busybox", "sh", "-c", "timeout 5 wget -q -O - http://web/"); r.code != 0 || !strings.Contains(r.stdout, "hello-port") {
		t.Errorf("web by name from the default network: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := h.berth("container", "run", "--rm", "-p", hostPort+":80", "busybox", "true"); r.code == 0 {
		t.Errorf("run -p %s:80 with the port taken: exit 0", hostPort)
	} else {
		oneLineError(t, r, "run -p with the port taken", "in use")
	}
	h.mustBerth("container", "stop", "web")
	if ctrHTTPGet(hostPort) != "" {
		t.Errorf("the port still answers after stop")
	}
	h.mustBerth("container", "rm", "web")

	// -v: a named volume and a bind.
	bind := t.TempDir()
	if err := os.WriteFile(filepath.Join(bind, "in"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.berth("container", "run", "--rm", "-v", "runvol:/data", "-v", bind+":/host", "busybox",
		"sh", "-c", "cat /host/in; echo from-container > /host/out; echo in-volume > /data/f")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "from-host" {
		t.Errorf("run -v: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(bind, "out")); err != nil || string(b) != "from-container\n" {
		t.Errorf("bind mount out: %q %v", b, err)
	}
	if out := h.mustBerth("container", "run", "--rm", "-v", "runvol:/v:ro", "busybox", "sh", "-c", "cat /v/f; touch /v/g 2>/dev/null || echo read-only"); out != "in-volume\nread-only\n" {
		t.Errorf("named volume read back: %q", out)
	}
	h.mustBerth("volume", "rm", "runvol")

	// --network: a user network, by name; none; host.
	h.mustBerth("network", "create", userNet)
	h.mustBerth("container", "run", "-d", "--name", "peer", "--network", userNet, "busybox", "sleep", "60")
	if in := h.ctrInspect("peer"); len(in.Networks) != 1 || in.Networks[0].Network != userNet {
		t.Errorf("peer's networks: %+v", in.Networks)
	}
	if nets := h.ctrNetworks(); len(nets) != 1 || nets[0] != userNet {
		t.Errorf("network ls = %v: want only %s (no default network for a container on a user network)", nets, userNet)
	}
	if r := h.berth("container", "run", "--rm", "--network", userNet, "busybox", "sh", "-c", "ping -c 1 -W 3 peer >/dev/null && echo reached"); r.code != 0 || strings.TrimSpace(r.stdout) != "reached" {
		t.Errorf("peer by name on %s: exit %d, %q %q", userNet, r.code, r.stdout, r.stderr)
	}
	if r := h.berth("container", "run", "--rm", "busybox", "sh", "-c", "ping -c 1 -W 1 peer"); r.code == 0 {
		t.Errorf("peer reached from the default network")
	}
	h.mustBerth("container", "rm", "-f", "peer")
	h.mustBerth("network", "rm", userNet)
	if out := h.mustBerth("container", "run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net"); strings.TrimSpace(out) != "lo" {
		t.Errorf("--network none: interfaces %q, want lo only", out)
	}
	hostLinks, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	r = h.berth("container", "run", "--rm", "--network", "host", "-p", "80", "busybox", "ls", "/sys/class/net")
	if r.code != 0 || len(strings.Fields(r.stdout)) != len(hostLinks) || !strings.Contains(r.stderr, "discarded") {
		t.Errorf("--network host: exit %d, %d interfaces (the host has %d), stderr %q", r.code, len(strings.Fields(r.stdout)), len(hostLinks), r.stderr)
	}
	h.ctrNothingLeft("at the end")
}

// TestContainerTerminal: exec -it and run -it through a real terminal: the
// command sees a TTY, reads what is typed, and its exit code is berth's.
func TestContainerTerminal(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "term") })
	h.mustBerth("container", "run", "-d", "--name", "term", "busybox", "sleep", "60")

	out, code := h.ctrInTerminal(t, "#", "echo typed-$((20+1)); exit 9\n", "container", "exec", "-it", "term", "sh")
	if code != 9 || !strings.Contains(out, "typed-21") {
		t.Errorf("exec -it sh: exit %d, output %q; want 9 and typed-21", code, out)
	}
	out, code = h.ctrInTerminal(t, "", "", "container", "exec", "-it", "term", "sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; stty size; exit 4")
	if code != 4 || !strings.Contains(out, "is-a-tty") || !strings.Contains(out, "24 80") {
		t.Errorf("exec -it: exit %d, output %q; want 4, is-a-tty and the size 24 80", code, out)
	}
	out, code = h.ctrInTerminal(t, "#", "echo run-typed-$((40+2)); exit 6\n", "container", "run", "--rm", "-it", "busybox", "sh")
	if code != 6 || !strings.Contains(out, "run-typed-42") {
		t.Errorf("run --rm -it sh: exit %d, output %q; want 6 and run-typed-42", code, out)
	}
	if r := h.berth("container", "exec", "-it", "term", "true"); r.code == 0 || !strings.Contains(r.stderr, "not a TTY") {
		t.Errorf("exec -it without a terminal: exit %d, %q", r.code, r.stderr)
	}
	h.mustBerth("container", "rm", "-f", "term")
	h.ctrNothingLeft("at the end")
}

// ctrInTerminal runs berth with a pseudo-terminal of 24x80 as its stdin,
// stdout and stderr, types input once the terminal shows prompt, and
// returns what the terminal showed and the exit code.
func (h *harness) ctrInTerminal(t *testing.T, prompt, input string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", h.root}, args...)...)
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			mu.Lock()
			buf.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once berth is gone
			}
		}
	}()
	if input != "" {
		h.eventually(fmt.Sprintf("%q in the terminal", prompt), 20*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.Contains(buf.String(), prompt)
		})
		if _, err := io.WriteString(ptmx, input); err != nil {
			t.Fatal(err)
		}
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("berth %s: no exit within a minute; terminal: %q", strings.Join(args, " "), buf.String())
	}
	_ = ptmx.Close()
	<-done
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	mu.Lock()
	defer mu.Unlock()
	return buf.String(), code
}

// TestContainerBadInput: an unknown image, a malformed -p, conflicting
// flags, a taken port: one line, a non-zero exit, and nothing left.
func TestContainerBadInput(t *testing.T) {
	h := newHarness(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		args []string
		want string
	}{
		// As docker: "Unable to find image … locally", then the pull's
		// error; with BERTH_NO_OUTBOUND=1 the pull reaches no registry off
		// the machine. -q keeps it to the error line.
		{[]string{"container", "run", "-q", "--rm", "nosuch:1.0", "true"}, `pull "nosuch:1.0": registry index.docker.io is off this machine`},
		{[]string{"container", "run", "-q", "nosuch:1.0"}, `pull "nosuch:1.0"`},
		{[]string{"container", "run", "-d", "--rm", "-p", "80:80:80", "busybox", "true"}, `-p "80:80:80": invalid IP address: 80`},
		{[]string{"container", "create", "-p", "127.0.0.1:99999:80", "busybox", "true"}, `-p "127.0.0.1:99999:80"`},
		{[]string{"container", "run", "-p", "80/sctp", "busybox", "true"}, `-p "80/sctp": protocol "sctp"`},
		{[]string{"container", "run", "--network", "none", "-p", "80", "busybox", "true"}, `--network none`},
		{[]string{"container", "run", "--rm", "--restart", "always", "busybox", "true"}, "conflicting options"},
		{[]string{"container", "run", "-p", "127.0.0.1:" + taken + ":80", "busybox", "true"}, "127.0.0.1:" + taken},
		{[]string{"container", "run", "-d", "--rm", "-p", "127.0.0.1:" + taken + ":80", "busybox", "true"}, "127.0.0.1:" + taken},
		{[]string{"container", "run", "--name", "bad name", "busybox", "true"}, "invalid name"},
		{[]string{"network", "create", "bridge"}, "pre-defined"},
		{[]string{"container", "run", "--rm", "-v", "bad name:/x", "busybox", "true"}, `"bad name"`},
	} {
		r := h.berth(tc.args...)
		oneLineError(t, r, strings.Join(tc.args, " "), tc.want)
		if got := h.ctrNames("-a"); len(got) != 0 {
			t.Errorf("%s left containers %v", strings.Join(tc.args, " "), got)
			h.berth(append([]string{"container", "rm", "-f"}, got...)...)
		}
		if nets := h.ctrNetworks(); len(nets) != 0 {
			t.Errorf("%s left networks %v", strings.Join(tc.args, " "), nets)
		}
	}
	// The listener was not harmed.
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+taken, 2*time.Second); err != nil {
		t.Errorf("the taken port no longer answers: %v", err)
	} else {
		c.Close()
	}
	h.ctrNothingLeft("at the end")
}

// ctrHTTPGet fetches http://addr/ with a raw connection; "" on any error.
func ctrHTTPGet(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
		return ""
	}
	b, _ := io.ReadAll(c)
	return string(b)
}
