//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// inspectOne is one field of `container inspect -f`.
func (h *harness) inspectOne(ref, tmpl string) string {
	h.t.Helper()
	return strings.TrimSpace(h.mustBerth("container", "inspect", "-f", tmpl, ref))
}

// TestCLIRestRename: a running Compose container renamed keeps running
// under its new name, is still the service's container for ps and down,
// is reached by its new name, and its old name is free for another.
func TestCLIRestRename(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() {
		h.berth("container", "rm", "-f", "taken-old-name")
		h.berth("-f", file, "down", "-v")
	})
	h.mustBerth("-f", file, "up", "-d")
	var web psEntry
	for _, e := range h.ps(file) {
		if e.Service == "web" {
			web = e
		}
	}
	if web.ID == "" {
		t.Fatalf("no web container in ps: %+v", h.ps(file))
	}
	pid := h.inspectOne(web.Name, "{{.State.Pid}}")

	h.mustBerth("container", "rename", web.Name, "renamed-web")
	var found *psEntry
	for _, e := range h.ps(file) {
		if e.Service == "web" {
			found = &e
		}
	}
	switch {
	case found == nil:
		t.Fatalf("ps no longer lists the renamed web container")
	case found.Name != "renamed-web" || found.ID != web.ID || found.State != "running":
		t.Errorf("ps after rename: %+v, want renamed-web, ID %s, running", *found, web.ID)
	}
	if got := h.inspectOne("renamed-web", "{{.State.Pid}}"); got != pid {
		t.Errorf("pid after rename %s, want %s: the container was restarted", got, pid)
	}
	if r := h.berth("-f", file, "exec", "-T", "probe", "ping", "-c", "1", "-W", "3", "renamed-web"); r.code != 0 {
		t.Errorf("probe cannot reach renamed-web: exit %d %s%s", r.code, r.stdout, r.stderr)
	}

	// The old name is free: another container takes it.
	h.mustBerth("container", "run", "-d", "--name", web.Name, "busybox", "sleep", "60")
	h.mustBerth("container", "rm", "-f", web.Name)

	// up finds the renamed container by its labels: nothing to do.
	h.mustBerth("-f", file, "up", "-d")
	var webs []psEntry
	for _, e := range h.ps(file) {
		if e.Service == "web" {
			webs = append(webs, e)
		}
	}
	if len(webs) != 1 || webs[0].ID != web.ID || webs[0].Name != "renamed-web" {
		t.Errorf("web after rename and up: %+v, want the renamed container alone", webs)
	}

	h.mustBerth("container", "run", "-d", "--name", "taken-old-name", "busybox", "sleep", "60")
	oneLineError(t, h.berth("container", "rename", "renamed-web", "taken-old-name"), "rename to a name in use", "already in use")
	oneLineError(t, h.berth("container", "rename", "renamed-web", "bad/name"), "rename to a bad name", "invalid container name")
	oneLineError(t, h.berth("container", "rename", "no-such-ctr", "whatever"), "rename of an unknown container", "no-such-ctr")
	oneLineError(t, h.berth("container", "rename", "renamed-web"), "rename with one argument", "2 arg")

	// down finds the renamed container by its labels.
	h.mustBerth("-f", file, "down", "-v")
	if names := h.ctrNames("-a"); !slices.Equal(names, []string{"taken-old-name"}) {
		t.Errorf("containers after down: %v, want only taken-old-name", names)
	}
}

// restCgroupValue reads a cgroup v1 file of container id, as in
// /sys/fs/cgroup/<controller>/berth/<id>/<file>.
func restCgroupValue(t *testing.T, controller, id, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, "berth", id, file))
	if err != nil {
		t.Fatalf("cgroup: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// TestCLIRestUpdate: update writes new limits into a running container's
// cgroups without restarting it, keeps them for its next start, and a new
// restart policy makes the running container's exit restart it.
func TestCLIRestUpdate(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "upd") })
	h.mustBerth("container", "run", "-d", "--name", "upd", "-m", "32m", "--cpus", "0.5", "--pids-limit", "20", "busybox", "sleep", "300")
	id := h.inspectOne("upd", "{{.Id}}")
	pid := h.inspectOne("upd", "{{.State.Pid}}")
	check := func(when string, want map[[2]string]string) {
		t.Helper()
		for k, v := range want {
			if got := restCgroupValue(t, k[0], id, k[1]); got != v {
				t.Errorf("%s: %s/%s = %s, want %s", when, k[0], k[1], got, v)
			}
		}
	}
	check("at create", map[[2]string]string{
		{"memory", "memory.limit_in_bytes"}: "33554432",
		{"cpu", "cpu.cfs_quota_us"}:         "50000",
		{"pids", "pids.max"}:                "20",
	})

	if out := strings.TrimSpace(h.mustBerth("container", "update", "-m", "64m", "--memory-reservation", "16m", "--cpus", "1.5",
		"--cpu-shares", "512", "--pids-limit", "50", "upd")); out != "upd" {
		t.Errorf("update printed %q, want the container's name", out)
	}
	check("after update", map[[2]string]string{
		{"memory", "memory.limit_in_bytes"}:      "67108864",
		{"memory", "memory.soft_limit_in_bytes"}: "16777216",
		{"cpu", "cpu.cfs_quota_us"}:              "150000",
		{"cpu", "cpu.shares"}:                    "512",
		{"pids", "pids.max"}:                     "50",
	})
	if got := h.inspectOne("upd", "{{.State.Pid}} {{.State.Status}}"); got != pid+" running" {
		t.Errorf("after update: pid and status %q, want %s running", got, pid)
	}
	if got := h.inspectOne("upd", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}"); got != "67108864 1500000000 50" {
		t.Errorf("inspect after update: %q, want 67108864 1500000000 50", got)
	}

	h.mustBerth("container", "update", "--memory-swap", "128m", "--cpuset-cpus", "0", "upd")
	check("after a swap and cpuset update", map[[2]string]string{
		{"memory", "memory.memsw.limit_in_bytes"}: "134217728",
		{"memory", "memory.limit_in_bytes"}:       "67108864",
		{"cpuset", "cpuset.cpus"}:                 "0",
	})

	// Bad input changes nothing.
	oneLineError(t, h.berth("container", "update", "upd"), "update without a flag", "one or more flags")
	oneLineError(t, h.berth("container", "update", "-m", "1m", "upd"), "update below the memory minimum", "minimum")
	oneLineError(t, h.berth("container", "update", "-m", "lots", "upd"), "update with a bad size", `--memory "lots"`)
	oneLineError(t, h.berth("container", "update", "--restart", "sometimes", "upd"), "update with a bad restart policy", "--restart")
	oneLineError(t, h.berth("container", "update", "-m", "64m", "no-such-ctr"), "update of an unknown container", "no-such-ctr")
	oneLineError(t, h.berth("container", "update", "--cpu-quota", "20000", "upd"), "update with a quota while cpus are set", "cpus")
	check("after bad updates", map[[2]string]string{{"memory", "memory.limit_in_bytes"}: "67108864"})

	// A restart policy given to the running container: its exit restarts it.
	h.mustBerth("container", "update", "--restart", "always", "upd")
	n, err := strconv.Atoi(pid)
	if err != nil {
		t.Fatalf("pid %q: %v", pid, err)
	}
	if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the container's init: %v", err)
	}
	h.eventually("the killed container to be restarted by its new policy", 30*time.Second, func() bool {
		r := h.berth("container", "inspect", "-f", "{{.State.Status}} {{.State.Pid}} {{.RestartCount}}", "upd")
		f := strings.Fields(r.stdout)
		return r.code == 0 && len(f) == 3 && f[0] == "running" && f[1] != pid && f[1] != "0" && f[2] == "1"
	})
	// The new run has the updated limits.
	check("after the restart", map[[2]string]string{
		{"memory", "memory.limit_in_bytes"}: "67108864",
		{"pids", "pids.max"}:                "50",
	})

	// A stopped container's update is its next start's.
	h.mustBerth("container", "stop", "-t", "1", "upd")
	h.mustBerth("container", "update", "-m", "48m", "--restart", "no", "upd")
	h.mustBerth("container", "start", "upd")
	check("after a stopped update and a start", map[[2]string]string{
		{"memory", "memory.limit_in_bytes"}: "50331648",
		{"cpu", "cpu.cfs_quota_us"}:         "150000",
	})
	if got := h.inspectOne("upd", "{{.HostConfig.RestartPolicy.Name}}"); got != "no" {
		t.Errorf("restart policy after update --restart no: %q", got)
	}
}

// restEvent is a line of `events --json`.
type restEvent struct {
	Time       time.Time         `json:"time"`
	Action     string            `json:"action"`
	ID         string            `json:"id"`
	Service    string            `json:"service"`
	Attributes map[string]string `json:"attributes"`
}

func (h *harness) eventsJSON(file string, args ...string) []restEvent {
	h.t.Helper()
	out := h.mustBerth(append([]string{"-f", file, "events", "--json"}, args...)...)
	var evs []restEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev restEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			h.t.Fatalf("events line %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestCLIRestEvents: events --since replays what happened to the
// project's containers, in order, and --until ends the stream: at once
// when it is past, at that time when it is to come.
func TestCLIRestEvents(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	t0 := time.Now()
	h.mustBerth("-f", file, "up", "-d")
	ps := h.ps(file)
	if len(ps) != 1 {
		t.Fatalf("ps: %+v", ps)
	}
	h.mustBerth("-f", file, "stop", "-t", "1")
	h.mustBerth("container", "rename", ps[0].Name, "renamed-app")
	t1 := time.Now()

	evs := h.eventsJSON(file, "--since", t0.Format(time.RFC3339Nano), "--until", t1.Format(time.RFC3339Nano))
	// A stop is Docker's kill (one per signal sent), die, stop.
	var actions []string
	kills := 0
	for _, ev := range evs {
		if ev.Service != "app" || !strings.HasPrefix(ev.ID, ps[0].ID) {
			t.Errorf("event of another container: %+v", ev)
		}
		if ev.Time.Before(t0) || ev.Time.After(t1) {
			t.Errorf("event outside --since and --until: %+v", ev)
		}
		if ev.Action == "kill" {
			kills++
			continue
		}
		actions = append(actions, ev.Action)
	}
	if want := []string{"create", "start", "die", "stop", "rename"}; !slices.Equal(actions, want) || kills == 0 {
		t.Errorf("events --since --until: %v and %d kill, want %v and a kill", actions, kills, want)
	}
	if last := evs[len(evs)-1]; last.Attributes["name"] != "renamed-app" || last.Attributes["oldName"] != "/"+ps[0].Name {
		t.Errorf("rename event attributes %v, want name renamed-app, oldName /%s (Docker's)", last.Attributes, ps[0].Name)
	}
	// A Unix time and a duration name the same window.
	unix := strconv.FormatFloat(float64(t0.UnixNano())/1e9, 'f', 9, 64)
	if got := h.eventsJSON(file, "--since", unix, "--until", "0s"); len(got) != len(evs) {
		t.Errorf("events --since %s --until 0s: %d events, want %d", unix, len(got), len(evs))
	}
	if got := h.eventsJSON(file, "--since", t1.Format(time.RFC3339Nano), "--until", t1.Format(time.RFC3339Nano)); len(got) != 0 {
		t.Errorf("events in a window after them: %+v", got)
	}

	// docker's system events: the same record, with its filters and templates.
	out := h.mustBerth("system", "events", "--since", t0.Format(time.RFC3339Nano), "--until", t1.Format(time.RFC3339Nano),
		"--filter", "container="+ps[0].ID, "--filter", "type=container", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "kill ") {
			lines = append(lines, l)
		}
	}
	if want := "create " + ps[0].Name + "\nstart " + ps[0].Name + "\ndie " + ps[0].Name + "\nstop " + ps[0].Name + "\nrename renamed-app"; strings.Join(lines, "\n") != want {
		t.Errorf("system events --filter --format (kills aside):\n%s\nwant:\n%s", out, want)
	}
	if out := h.mustBerth("system", "events", "--since", t0.Format(time.RFC3339Nano), "--until", t1.Format(time.RFC3339Nano),
		"--filter", "event=die", "--format", "{{.Action}}"); strings.TrimSpace(out) != "die" {
		t.Errorf("system events --filter event=die: %q", out)
	}
	oneLineError(t, h.berth("system", "events", "--filter", "colour=red"), "system events with an unknown filter", "unknown key")
	// Networks' events too, as docker events: the project's network made,
	// joined at the start, left at the stop.
	out = h.mustBerth("system", "events", "--since", t0.Format(time.RFC3339Nano), "--until", t1.Format(time.RFC3339Nano),
		"--filter", "type=network", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	netName := h.project + "_default"
	if want := "create " + netName + "\nconnect " + netName + "\ndisconnect " + netName + "\n"; out != want {
		t.Errorf("system events --filter type=network:\n%s\nwant:\n%s", out, want)
	}

	// --until to come: streams until then, and no longer.
	start := time.Now()
	h.eventsJSON(file, "--until", start.Add(2*time.Second).Format(time.RFC3339Nano))
	if d := time.Since(start); d < 2*time.Second || d > 20*time.Second {
		t.Errorf("events --until in 2s returned after %s", d)
	}

	oneLineError(t, h.berth("-f", file, "events", "--since", "yesterday"), "events --since yesterday", "--since")
	oneLineError(t, h.berth("-f", file, "events", "--since", "1m", "--until", "2m"), "events --until before --since", "before --since")
}

// restBackground is a berth command running while the test acts on it.
type restBackground struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex // guards out
	out   bytes.Buffer
	done  chan struct{}
	code  int
}

func (h *harness) startInBackground(args ...string) *restBackground {
	h.t.Helper()
	b := &restBackground{done: make(chan struct{})}
	b.cmd = exec.Command(berthBin, append([]string{"--root", h.root}, args...)...)
	b.cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
	w := restWriterFunc(func(p []byte) (int, error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.out.Write(p)
	})
	b.cmd.Stdout, b.cmd.Stderr = w, w
	var err error
	if b.stdin, err = b.cmd.StdinPipe(); err != nil {
		h.t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() {
		defer close(b.done)
		err := b.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			b.code = ee.ExitCode()
		}
	}()
	h.t.Cleanup(func() {
		b.stdin.Close()
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

func (b *restBackground) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// exited waits up to d for the command to end and returns its exit code.
func (b *restBackground) exited(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-b.done:
		return b.code
	case <-time.After(d):
		t.Fatalf("berth still runs after %s; output %q", d, b.output())
		return -1
	}
}

type restWriterFunc func([]byte) (int, error)

func (f restWriterFunc) Write(p []byte) (int, error) { return f(p) }

// TestCLIRestRunSignals: container run in the foreground hands the
// signals it gets to the container (--sig-proxy, the default), leaves the
// container running on a signal with --sig-proxy=false, and on the detach
// keys with -i.
func TestCLIRestRunSignals(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "sp-proxy", "sp-off", "sp-keys") })
	ready := func(b *restBackground) {
		h.eventually("the container to say it is ready", 30*time.Second, func() bool { return strings.Contains(b.output(), "ready") })
	}

	b := h.startInBackground("container", "run", "--name", "sp-proxy", "busybox", "sh", "-c", `trap "echo got-term; exit 42" TERM; echo ready; while true; do sleep 0.1; done`)
	ready(b)
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.exited(t, 30*time.Second); code != 42 || !strings.Contains(b.output(), "got-term") {
		t.Errorf("run with a proxied SIGTERM: exit %d, output %q; want 42 and the trap's line", code, b.output())
	}

	b = h.startInBackground("container", "run", "--sig-proxy=false", "--name", "sp-off", "busybox", "sh", "-c", "echo ready; exec sleep 300")
	ready(b)
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := b.exited(t, 30*time.Second); code != 130 {
		t.Errorf("run --sig-proxy=false interrupted: exit %d, want 130; output %q", code, b.output())
	}
	if got := h.inspectOne("sp-off", "{{.State.Status}}"); got != "running" {
		t.Errorf("after run --sig-proxy=false was interrupted the container is %s, want running", got)
	}

	b = h.startInBackground("container", "run", "-i", "--rm", "--detach-keys", "ctrl-x,x", "--name", "sp-keys", "busybox", "sh", "-c", "echo ready; exec sleep 300")
	ready(b)
	if _, err := b.stdin.Write([]byte("\x18x")); err != nil {
		t.Fatal(err)
	}
	if code := b.exited(t, 30*time.Second); code != 0 {
		t.Errorf("run -i after the detach keys: exit %d, want 0; output %q", code, b.output())
	}
	if got := h.inspectOne("sp-keys", "{{.State.Status}}"); got != "running" {
		t.Errorf("after the detach keys the --rm container is %s, want running", got)
	}

	oneLineError(t, h.berth("container", "run", "--detach-keys", "ctrl-é", "--name", "sp-bad", "busybox", "true"), "run with bad detach keys", "--detach-keys")
	if r := h.berth("container", "inspect", "sp-bad"); r.code == 0 {
		t.Error("run with bad detach keys made a container")
	}
}

// TestCLIRestGwPriority: network connect --gw-priority above the other
// networks' moves a running container's default route to the new
// network; a connection of a lower priority leaves it.
func TestCLIRestGwPriority(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() {
		h.berth("container", "rm", "-f", "gwc")
		h.berth("network", "rm", "gwa", "gwb", "gwz")
	})
	gateway := map[string]string{}
	for _, n := range []string{"gwa", "gwb", "gwz"} {
		h.mustBerth("network", "create", n)
		gateway[n] = h.mustBerth("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", n)
		gateway[n] = strings.TrimSpace(gateway[n])
	}
	defaults := func() []string {
		var out []string
		for _, line := range strings.Split(h.mustBerth("container", "exec", "gwc", "ip", "route"), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "default" {
				out = append(out, f[2])
			}
		}
		return out
	}
	h.mustBerth("container", "run", "-d", "--name", "gwc", "--network", "gwa", "busybox", "sleep", "300")
	if got := defaults(); !slices.Equal(got, []string{gateway["gwa"]}) {
		t.Fatalf("default routes at start: %v, want via gwa's gateway %s", got, gateway["gwa"])
	}
	h.mustBerth("network", "connect", "--gw-priority", "10", "gwb", "gwc")
	if got := defaults(); !slices.Equal(got, []string{gateway["gwb"]}) {
		t.Errorf("default routes after connecting gwb with --gw-priority 10: %v, want only via %s", got, gateway["gwb"])
	}
	h.mustBerth("network", "connect", "gwz", "gwc")
	if got := defaults(); !slices.Equal(got, []string{gateway["gwb"]}) {
		t.Errorf("default routes after connecting gwz with no priority: %v, want still via %s", got, gateway["gwb"])
	}
	if got := h.inspectOne("gwc", "{{.NetworkSettings.Networks.gwb.GwPriority}}"); got != "10" {
		t.Errorf("inspect: gwb's GwPriority %q, want 10", got)
	}
	oneLineError(t, h.berth("network", "connect", "--gw-priority", "high", "gwa", "gwc"), "connect with a bad --gw-priority", "gw-priority")
}

// TestCLIRestRunCgroupFlags: run's cgroup and namespace flags reach the
// container's cgroups and namespaces.
func TestCLIRestRunCgroupFlags(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "cg") })
	h.mustBerth("container", "run", "-d", "--name", "cg", "--cpu-period", "50000", "--cpu-quota", "25000",
		"--cpuset-cpus", "0", "--memory-swappiness", "10", "--oom-kill-disable", "-m", "64m",
		"--device-cgroup-rule", "c 10:200 rwm", "--uts", "host", "--annotation", "org.example.team=ci",
		"busybox", "sleep", "300")
	id := h.inspectOne("cg", "{{.Id}}")
	for _, c := range []struct{ controller, file, want string }{
		{"cpu", "cpu.cfs_period_us", "50000"},
		{"cpu", "cpu.cfs_quota_us", "25000"},
		{"cpuset", "cpuset.cpus", "0"},
		{"memory", "memory.swappiness", "10"},
	} {
		if got := restCgroupValue(t, c.controller, id, c.file); got != c.want {
			t.Errorf("%s/%s = %s, want %s", c.controller, c.file, got, c.want)
		}
	}
	if got := restCgroupValue(t, "memory", id, "memory.oom_control"); !strings.Contains(got, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control = %q, want oom_kill_disable 1", got)
	}
	if got := restCgroupValue(t, "devices", id, "devices.list"); !strings.Contains(got, "c 10:200 rwm") {
		t.Errorf("devices.list = %q, want the rule c 10:200 rwm", got)
	}
	host, _ := os.Hostname()
	if got := strings.TrimSpace(h.mustBerth("container", "exec", "cg", "hostname")); got != host {
		t.Errorf("--uts host: hostname %q, want the host's %q", got, host)
	}
	spec, err := os.ReadFile(filepath.Join(h.root, "containers", id, "bundle", "config.json"))
	if err != nil || !strings.Contains(string(spec), `"org.example.team":"ci"`) {
		t.Errorf("--annotation: not in the bundle's config.json (%v)", err)
	}
	oneLineError(t, h.berth("container", "run", "--cgroupns", "shared", "busybox", "true"), "run --cgroupns shared", "--cgroupns")
	oneLineError(t, h.berth("container", "run", "--device-read-bps", "/dev/sda:fast", "busybox", "true"), "run with a bad rate", "--device-read-bps")
}

// TestCLIRestDockerUpdate: the stock docker CLI's update, through berth
// serve, changes a running container's cgroup limits as berth's own does.
func TestCLIRestDockerUpdate(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	h := newHarness(t)
	sock := h.serve()
	t.Cleanup(func() { h.berth("container", "rm", "-f", "dupd") })
	h.mustDocker(sock, "run", "-d", "--name", "dupd", "-m", "32m", "busybox", "sleep", "300")
	id := h.inspectOne("dupd", "{{.Id}}")
	h.mustDocker(sock, "update", "-m", "96m", "--pids-limit", "40", "--restart", "on-failure:2", "dupd")
	for _, c := range []struct{ controller, file, want string }{
		{"memory", "memory.limit_in_bytes", "100663296"},
		{"pids", "pids.max", "40"},
	} {
		if got := restCgroupValue(t, c.controller, id, c.file); got != c.want {
			t.Errorf("after docker update: %s/%s = %s, want %s", c.controller, c.file, got, c.want)
		}
	}
	if got := strings.TrimSpace(h.mustDocker(sock, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.Memory}}", "dupd")); got != "on-failure:2 100663296" {
		t.Errorf("docker inspect after update: %q", got)
	}
	if r := h.docker(sock, "update", "-m", "1m", "dupd"); r.code == 0 || !strings.Contains(r.stderr, "minimum") {
		t.Errorf("docker update -m 1m: exit %d, %q; want a refusal naming the minimum", r.code, r.stderr)
	}
}

// TestCLIRestEventsLive: a running `events` reports, as they happen, the
// operations other berth commands make (create, start, rename, update,
// stop) and the exit it observes (die), in order.
func TestCLIRestEventsLive(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	b := h.startInBackground("-f", file, "events", "--json")
	h.mustBerth("-f", file, "up", "-d")
	ps := h.ps(file)
	if len(ps) != 1 {
		t.Fatalf("ps: %+v", ps)
	}
	h.mustBerth("container", "rename", ps[0].Name, "live-app")
	h.mustBerth("container", "update", "--pids-limit", "30", "live-app")
	h.mustBerth("-f", file, "stop", "-t", "1")
	var actions []string
	h.eventually("events to report the stop", 30*time.Second, func() bool {
		actions = actions[:0]
		for _, line := range strings.Split(b.output(), "\n") {
			var ev restEvent
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Service == "app" && ev.Action != "kill" {
				actions = append(actions, ev.Action)
			}
		}
		return slices.Contains(actions, "stop")
	})
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	b.exited(t, 20*time.Second)
	// up may come before events started to follow the journal: what
	// follows must be there, in order.
	got := strings.Join(actions, " ")
	if !strings.HasSuffix(got, "rename update die stop") {
		t.Errorf("live events: %q, want them to end with rename update die stop", got)
	}
}
