package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/eventlog"
)

// journal returns the journal's events about id as "action k=v …" with
// the attributes keys asked for.
func journal(t *testing.T, e *Engine, id ContainerID, keys ...string) []string {
	t.Helper()
	var out []string
	err := e.Journal().Read(func(ev eventlog.Event) error {
		if ev.ID != string(id) {
			return nil
		}
		s := ev.Action
		attrs := ev.DockerAttributes()
		for _, k := range keys {
			if v, ok := attrs[k]; ok {
				s += " " + k + "=" + v
			}
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitJournal follows the journal until it has an event action about id.
func waitJournal(t *testing.T, e *Engine, id ContainerID, action string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ready := make(chan struct{})
	seen := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- e.Journal().Follow(ctx, eventlog.FollowOptions{Ready: ready}, func(ev eventlog.Event) error {
			if ev.ID == string(id) && ev.Action == action {
				once.Do(func() { close(seen) })
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	if slices.ContainsFunc(journal(t, e, id), func(s string) bool { return s == action }) {
		cancel()
		<-done
		return
	}
	select {
	case <-seen:
		cancel()
		<-done
	case err := <-done:
		t.Fatalf("no %s event of %s: %v", action, id, err)
	}
}

// The engine and the shim record a container's life in the journal as
// Docker reports it: create, start, die (from the shim, with the exit
// code) for a run that ends by itself; kill, die, stop for a stop; the
// shim's die and start for each restart of its policy, and a
// healthcheck's health_status; destroy.
func TestPrivEventsOfAContainer(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	cfg := busybox("ev", "sh", "-c", "exit 3")
	cfg.Labels = map[string]string{"com.example": "x"}
	id := mustCreate(t, e, cfg)
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitExited(t, e, id)
	// The shim records start and die: only the ID; readers name them.
	want := []string{"create name=ev com.example=x", "start", "die exitCode=3"}
	if got := journal(t, e, id, "name", "com.example", "exitCode"); !slices.Equal(got, want) {
		t.Fatalf("journal of a run: %q, want %q", got, want)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if got := journal(t, e, id, "name"); got[len(got)-1] != "destroy name=ev" {
		t.Fatalf("journal after remove: %q", got)
	}

	cfg = busybox("ev2", "sleep", "1000")
	cfg.Init = true // sleep as PID 1 would ignore SIGTERM
	id = mustCreate(t, e, cfg)
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(ctx, id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want = []string{"create", "start", "kill signal=15", "die exitCode=143", "stop"}
	if got := journal(t, e, id, "signal", "exitCode"); !slices.Equal(got, want) {
		t.Fatalf("journal of a stop: %q, want %q", got, want)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}

	// A healthcheck's change of status, from the shim.
	cfg = busybox("ev4", "sleep", "1000")
	cfg.Healthcheck = &Healthcheck{Test: []string{"CMD", "true"}, Interval: 100 * time.Millisecond, Retries: 1}
	id = mustCreate(t, e, cfg)
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, e, id, HealthHealthy)
	if got := journal(t, e, id); !slices.Contains(got, "health_status: healthy") {
		t.Fatalf("journal of a healthy container: %q", got)
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}

	cfg = busybox("ev3", "sh", "-c", "exit 1")
	cfg.Restart = RestartPolicy{Name: "on-failure", MaxRetries: 1}
	id = mustCreate(t, e, cfg)
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st := waitExited(t, e, id); st.RestartCount != 1 {
		t.Fatalf("not restarted once: %+v", st)
	}
	want = []string{"create", "start", "die exitCode=1", "start", "die exitCode=1"}
	if got := journal(t, e, id, "exitCode"); !slices.Equal(got, want) {
		t.Fatalf("journal of a restart: %q, want %q", got, want)
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(journal(t, e, id), " "); !strings.HasSuffix(got, "destroy") {
		t.Fatalf("journal after remove: %q", got)
	}
}

// The shim rotates the journal as Append does, and begins the new file
// with the line that names the rotated one, so that a follower that fell
// behind tells its successor: one that held the full file reads on into
// the shim's events.
func TestPrivShimBeginsARotatedJournal(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("rot", "true"))
	// The journal full: the shim's start rotates it.
	p := filepath.Join(e.opt.Root, eventlog.File)
	line := []byte(`{"version":1,"time":"2026-01-01T00:00:00Z","type":"volume","action":"create","id":"filler"}` + "\n")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var fill []byte
	for len(fill) < eventlog.MaxSize {
		fill = append(fill, line...)
	}
	if _, err := f.Write(fill); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fl, err := e.Journal().NewFollower(false)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitExited(t, e, id)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	var begin eventlog.Event
	var rot syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.opt.Root, eventlog.Rotated), &rot); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(first), &begin); err != nil || begin.Type != "journal" || begin.Action != "begin" ||
		begin.Attributes["previous"] != fmt.Sprintf("%d:%d", rot.Dev, rot.Ino) {
		t.Fatalf("the rotated journal's first line %q: want the begin line naming the rotated file %d:%d (%v)", first, rot.Dev, rot.Ino, err)
	}
	// The follower, positioned at the full file's end, reads the shim's
	// start and die from the new file.
	var got []string
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	errEnough := errors.New("enough")
	err = fl.Run(rctx, func(ev eventlog.Event) error {
		if ev.ID == string(id) {
			got = append(got, ev.Action)
		}
		if len(got) == 2 {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) || !slices.Equal(got, []string{"start", "die"}) {
		t.Fatalf("followed %q (%v), want the shim's start and die", got, err)
	}
}
