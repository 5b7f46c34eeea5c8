//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
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

// dockerEvent is a line of `docker events --format '{{json .}}'`.
type dockerEvent struct {
	Type   string
	Action string
	Actor  struct {
		ID         string
		Attributes map[string]string
	}
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`

	arrived time.Time // when the client printed it
}

// eventWatch is a running `docker events`: the events it printed, in
// order.
type eventWatch struct {
	mu     sync.Mutex // guards evs
	evs    []dockerEvent
	change chan struct{} // closed and replaced at each event
}

// dockerEvents starts `docker events --since SINCE --format '{{json .}}'`
// against sock; it is ended (by its PID) when the test ends.
func (h *harness) dockerEvents(sock string, since time.Time) *eventWatch {
	return h.startEvents(sock, exec.Command(dockerCLI, "events", "--since", fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()), "--format", "{{json .}}"))
}

// startEvents starts cmd, a `docker events … --format '{{json .}}'`,
// against sock.
func (h *harness) startEvents(sock string, cmd *exec.Cmd) *eventWatch {
	t := h.t
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+t.TempDir())
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &eventWatch{change: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev dockerEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("docker events printed %q: %v", sc.Text(), err)
				continue
			}
			ev.arrived = time.Now()
			w.mu.Lock()
			w.evs = append(w.evs, ev)
			close(w.change)
			w.change = make(chan struct{})
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("docker events stderr: %s", stderr.String())
		}
	})
	return w
}

// wait returns the first event from index from on that matches, waiting
// for it at most 20s; and its index.
func (w *eventWatch) wait(t *testing.T, from int, what string, match func(dockerEvent) bool) (dockerEvent, int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		w.mu.Lock()
		for i := from; i < len(w.evs); i++ {
			if match(w.evs[i]) {
				ev := w.evs[i]
				w.mu.Unlock()
				return ev, i
			}
		}
		change := w.change
		w.mu.Unlock()
		select {
		case <-change:
		case <-deadline:
			w.mu.Lock()
			defer w.mu.Unlock()
			var seen []string
			for _, ev := range w.evs {
				seen = append(seen, ev.Type+" "+ev.Action+" "+ev.Actor.Attributes["name"])
			}
			t.Fatalf("docker events: no %s within 20s; seen:\n%s", what, strings.Join(seen, "\n"))
		}
	}
}

// TestServeEventsFromTheCLI: `docker events` on berth serve reports what
// berth CLI processes did meanwhile (containers run, stopped, exiting on
// their own, restarted by their shim, removed; networks and volumes made
// and removed; an image tagged and untagged), with Docker's fields, each within a bounded time of the
// command (logged: the latency from the record to the client).
func TestServeEventsFromTheCLI(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	h := newHarness(t)
	sock := h.serve()
	w := h.dockerEvents(sock, time.Now().Add(-time.Second))

	// A first event proves the stream live: what comes after is measured.
	h.mustBerth("volume", "create", "evsentinel")
	_, pos := w.wait(t, 0, "volume create evsentinel", func(ev dockerEvent) bool {
		return ev.Type == "volume" && ev.Action == "create" && ev.Actor.ID == "evsentinel"
	})
	live := pos + 1

	type want struct {
		typ, action, id string
		attrs           map[string]string
	}
	var steps []want
	expect := func(typ, action, id string, attrs map[string]string) {
		steps = append(steps, want{typ, action, id, attrs})
	}

	id1 := strings.TrimSpace(h.mustBerth("container", "run", "-d", "--init", "--name", "ev1", "--label", "com.example.e2e=yes", "busybox", "sleep", "1000"))
	ctr := map[string]string{"name": "ev1", "image": "busybox", "com.example.e2e": "yes"}
	expect("container", "create", id1, ctr)
	expect("container", "start", id1, ctr)
	h.mustBerth("container", "stop", "ev1")
	expect("container", "kill", id1, map[string]string{"name": "ev1", "signal": "15"})
	expect("container", "die", id1, map[string]string{"name": "ev1", "image": "busybox", "com.example.e2e": "yes", "exitCode": "143"})
	expect("container", "stop", id1, ctr)
	h.mustBerth("container", "rm", "ev1")
	expect("container", "destroy", id1, ctr)

	// Exiting on its own, then restarted once by its shim.
	id2 := strings.TrimSpace(h.mustBerth("container", "run", "-d", "--name", "ev2", "--restart", "on-failure:1", "busybox", "sh", "-c", "exit 3"))
	expect("container", "create", id2, map[string]string{"name": "ev2"})
	expect("container", "start", id2, map[string]string{"name": "ev2"})
	expect("container", "die", id2, map[string]string{"name": "ev2", "image": "busybox", "exitCode": "3"})
	expect("container", "start", id2, map[string]string{"name": "ev2", "image": "busybox"})
	expect("container", "die", id2, map[string]string{"name": "ev2", "exitCode": "3"})

	netID := strings.TrimSpace(h.mustBerth("network", "create", "evnet"))
	expect("network", "create", netID, map[string]string{"name": "evnet", "type": "bridge"})
	h.mustBerth("network", "rm", "evnet")
	expect("network", "destroy", netID, map[string]string{"name": "evnet", "type": "bridge"})
	h.mustBerth("volume", "create", "evvol")
	expect("volume", "create", "evvol", map[string]string{"driver": "local"})
	h.mustBerth("volume", "rm", "evvol")
	expect("volume", "destroy", "evvol", map[string]string{"driver": "local"})

	h.mustBerth("image", "tag", "busybox", "evimg:1")
	imgID := strings.TrimSpace(h.mustBerth("image", "inspect", "-f", "{{.Id}}", "evimg:1"))
	expect("image", "tag", imgID, map[string]string{"name": "evimg:1"})
	h.mustBerth("image", "rm", "evimg:1")
	expect("image", "untag", imgID, map[string]string{"name": "evimg:1"})

	// Each object's in order (ev2's restart runs beside the commands
	// after it).
	var latencies []time.Duration
	from := map[string]int{}
	for _, s := range steps {
		what := s.typ + " " + s.action + " " + s.id
		if _, ok := from[s.id]; !ok {
			from[s.id] = live
		}
		ev, i := w.wait(t, from[s.id], what, func(ev dockerEvent) bool {
			return ev.Type == s.typ && ev.Action == s.action && ev.Actor.ID == s.id
		})
		from[s.id] = i + 1
		for k, v := range s.attrs {
			if got := ev.Actor.Attributes[k]; got != v {
				t.Errorf("%s: attribute %s=%q, want %q (all: %v)", what, k, got, v, ev.Actor.Attributes)
			}
		}
		if ev.Scope != "local" || ev.TimeNano/1e9 != ev.Time || ev.Time < time.Now().Add(-time.Minute).Unix() {
			t.Errorf("%s: scope %q, time %d, timeNano %d", what, ev.Scope, ev.Time, ev.TimeNano)
		}
		latencies = append(latencies, ev.arrived.Sub(time.Unix(0, ev.TimeNano)))
	}
	slices.Sort(latencies)
	t.Logf("latency from the journal record to the docker events client, %d events: median %s, max %s",
		len(latencies), latencies[len(latencies)/2], latencies[len(latencies)-1])

	// A client that connects later replays them (since/until, filtered).
	since := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	out := h.mustDocker(sock, "events", "--since", since, "--until", until, "--filter", "container=ev2", "--filter", "event=die", "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}")
	if out != "die ev2 3\ndie ev2 3\n" {
		t.Errorf("replay of ev2's die events: %q", out)
	}

	h.mustBerth("container", "rm", "ev2")
	h.mustBerth("volume", "rm", "evsentinel")
	h.eventually("no container left", 20*time.Second, func() bool { return len(h.ctrNames("-a")) == 0 })
}

// TestServeEventsOfAComposeProject: a client that follows a project's
// events as docker compose does (a label filter) sees what `berth up` and
// `berth down` did to its containers, network and volume.
func TestServeEventsOfAComposeProject(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	h := newHarness(t)
	file := filepath.Join(t.TempDir(), "compose.yaml")
	compose := "services:\n  app:\n    image: busybox\n    init: true\n    command: [\"sleep\", \"1000\"]\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n"
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	sock := h.serve()
	cmd := exec.Command(dockerCLI, "events", "--since", strconv.FormatInt(time.Now().Unix()-1, 10),
		"--filter", "label=com.docker.compose.project="+h.project, "--format", "{{json .}}")
	w := h.startEvents(sock, cmd)

	h.mustBerth("-f", file, "up", "-d")
	h.mustBerth("-f", file, "down", "-v")
	from := map[string]int{}
	for _, s := range []struct{ typ, action string }{
		{"volume", "create"}, {"network", "create"}, {"container", "create"}, {"container", "start"},
		{"container", "kill"}, {"container", "die"}, {"container", "stop"}, {"container", "destroy"},
		{"network", "destroy"}, {"volume", "destroy"},
	} {
		ev, i := w.wait(t, from[s.typ], s.typ+" "+s.action, func(ev dockerEvent) bool { return ev.Type == s.typ && ev.Action == s.action })
		from[s.typ] = i + 1
		if ev.Actor.Attributes["com.docker.compose.project"] != h.project {
			t.Errorf("%s %s: attributes %v lack the project's label", s.typ, s.action, ev.Actor.Attributes)
		}
		if s.typ == "container" && ev.Actor.Attributes["com.docker.compose.service"] != "app" {
			t.Errorf("%s %s: attributes %v lack the service's label", s.typ, s.action, ev.Actor.Attributes)
		}
	}
}

// TestServeEventsOfNetworksAndVolumes: as dockerd, a container's run joins
// its networks and mounts its named volumes before its start (network
// connect, volume mount: `docker events --filter type=network` and
// `type=volume` see them with Docker's attributes) and leaves them as its
// run is released (disconnect, unmount); a network connected to a created
// container is joined only at its start. A container whose shim is
// SIGKILLed (its process killed too) dies once, reported when a client
// looks at it.
func TestServeEventsOfNetworksAndVolumes(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	h := newHarness(t)
	sock := h.serve()
	t.Cleanup(func() {
		h.berth("container", "rm", "-f", "evr", "evc", "evk", "evw")
		h.berth("network", "rm", "evn")
		h.berth("volume", "rm", "evv")
	})
	since := strconv.FormatInt(time.Now().Unix()-1, 10)
	typed := func(typ string) *eventWatch {
		return h.startEvents(sock, exec.Command(dockerCLI, "events", "--since", since, "--filter", "type="+typ, "--format", "{{json .}}"))
	}
	nets, vols := typed("network"), typed("volume")
	all := h.dockerEvents(sock, time.Now().Add(-time.Second))

	netID := strings.TrimSpace(h.mustDocker(sock, "network", "create", "evn"))
	id := strings.TrimSpace(h.mustDocker(sock, "run", "-d", "--name", "evr", "--network", "evn", "-v", "evv:/data", "busybox", "sleep", "1000"))
	h.mustDocker(sock, "rm", "-f", "evr")
	// Connected while created: joined at the start, left at the removal.
	cid := strings.TrimSpace(h.mustDocker(sock, "create", "--name", "evc", "busybox", "sleep", "1000"))
	h.mustDocker(sock, "network", "connect", "evn", "evc")
	h.mustDocker(sock, "start", "evc")
	h.mustDocker(sock, "rm", "-f", "evc")
	h.mustDocker(sock, "network", "rm", "evn")
	h.mustDocker(sock, "volume", "rm", "evv")

	type want struct {
		action, id string
		attrs      map[string]string
	}
	check := func(w *eventWatch, typ string, steps []want) {
		t.Helper()
		from := 0
		for _, s := range steps {
			what := typ + " " + s.action + " " + s.id
			ev, i := w.wait(t, from, what, func(ev dockerEvent) bool {
				return ev.Type == typ && ev.Action == s.action && ev.Actor.ID == s.id &&
					(s.attrs["container"] == "" || ev.Actor.Attributes["container"] == s.attrs["container"])
			})
			from = i + 1
			for k, v := range s.attrs {
				if got, ok := ev.Actor.Attributes[k]; !ok || got != v {
					t.Errorf("%s: attribute %s=%q, want %q (all: %v)", what, k, got, v, ev.Actor.Attributes)
				}
			}
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, ev := range w.evs {
			if ev.Type != typ {
				t.Errorf("docker events --filter type=%s printed a %s event", typ, ev.Type)
			}
		}
	}
	onNet := func(ctr string) map[string]string {
		return map[string]string{"container": ctr, "name": "evn", "type": "bridge"}
	}
	check(nets, "network", []want{
		{"create", netID, map[string]string{"name": "evn", "type": "bridge"}},
		{"connect", netID, onNet(id)}, {"disconnect", netID, onNet(id)},
		{"connect", netID, onNet(cid)}, {"disconnect", netID, onNet(cid)},
		{"destroy", netID, map[string]string{"name": "evn"}},
	})
	check(vols, "volume", []want{
		{"create", "evv", map[string]string{"driver": "local"}},
		{"mount", "evv", map[string]string{"container": id, "driver": "local", "destination": "/data", "read/write": "true", "propagation": ""}},
		{"unmount", "evv", map[string]string{"container": id, "driver": "local"}},
		{"destroy", "evv", map[string]string{"driver": "local"}},
	})
	// Beside the container's own: joined and mounted before its start,
	// left after its die and before its removal.
	var seq []string
	pos := 0
	for _, step := range []string{"network connect", "volume mount", "container start", "container die", "network disconnect", "volume unmount", "container destroy"} {
		typ, action, _ := strings.Cut(step, " ")
		_, i := all.wait(t, pos, step, func(ev dockerEvent) bool {
			return ev.Type == typ && ev.Action == action && (ev.Actor.ID == id || ev.Actor.Attributes["container"] == id)
		})
		seq = append(seq, step)
		pos = i + 1
	}
	t.Logf("in order: %s", strings.Join(seq, ", "))

	// killRun SIGKILLs the shim of container cid and the container's
	// process, and waits until both are gone.
	killRun := func(cid string) {
		t.Helper()
		var st struct {
			Pid     int `json:"pid"`
			ShimPid int `json:"shim_pid"`
		}
		b, err := os.ReadFile(filepath.Join(h.root, "containers", cid, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &st); err != nil || st.Pid == 0 || st.ShimPid == 0 {
			t.Fatalf("state.json %s: %v", b, err)
		}
		for _, pid := range []int{st.ShimPid, st.Pid} {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		h.eventually("the shim and the container's process gone", 10*time.Second, func() bool {
			return syscall.Kill(st.ShimPid, 0) != nil && syscall.Kill(st.Pid, 0) != nil
		})
	}
	// Nobody reads the container: the server, which waits on every run,
	// notices the end itself and the die reaches the events client.
	wid := strings.TrimSpace(h.mustDocker(sock, "run", "-d", "--name", "evw", "busybox", "sleep", "1000"))
	killRun(wid)
	wdie, _ := all.wait(t, pos, "container die evw, with nobody reading it", func(ev dockerEvent) bool {
		return ev.Type == "container" && ev.Action == "die" && ev.Actor.ID == wid
	})
	if wdie.Actor.Attributes["exitCode"] != "255" {
		t.Errorf("die of evw, whose shim was killed: %v, want exitCode 255", wdie.Actor.Attributes)
	}
	h.mustDocker(sock, "rm", "evw")

	// A shim SIGKILLed, and its container's process with it: the die is
	// recorded once, by whichever reader notices first (the server's
	// watch included).
	kid := strings.TrimSpace(h.mustDocker(sock, "run", "-d", "--name", "evk", "busybox", "sleep", "1000"))
	killRun(kid)
	var wg sync.WaitGroup
	for range 3 { // docker ps and inspect at once: each may notice
		wg.Go(func() { h.docker(sock, "ps", "-a") })
		wg.Go(func() { h.docker(sock, "inspect", "evk") })
	}
	wg.Wait()
	die, i := all.wait(t, pos, "container die evk", func(ev dockerEvent) bool {
		return ev.Type == "container" && ev.Action == "die" && ev.Actor.ID == kid
	})
	if die.Actor.Attributes["exitCode"] != "255" || die.Actor.Attributes["name"] != "evk" {
		t.Errorf("die of a container whose shim was killed: %v, want exitCode 255 and its name", die.Actor.Attributes)
	}
	if out := h.mustDocker(sock, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "evk"); out != "exited 255\n" {
		t.Errorf("state after the shim was killed: %q", out)
	}
	h.mustDocker(sock, "rm", "evk")
	all.wait(t, i+1, "container destroy evk", func(ev dockerEvent) bool {
		return ev.Type == "container" && ev.Action == "destroy" && ev.Actor.ID == kid
	})
	all.mu.Lock()
	dies := 0
	for _, ev := range all.evs {
		if ev.Action == "die" && ev.Actor.ID == kid {
			dies++
		}
	}
	all.mu.Unlock()
	if dies != 1 {
		t.Errorf("%d die events of evk, want 1", dies)
	}
}
