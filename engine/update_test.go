package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/eventlog"
)

func TestResourceUpdateApply(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name    string
		have    Resources
		u       ResourceUpdate
		want    Resources
		wantErr string
	}{
		{name: "only the fields given change", have: Resources{MemLimit: 32 << 20, PidsLimit: 10},
			u: ResourceUpdate{MemLimit: i64(64 << 20)}, want: Resources{MemLimit: 64 << 20, PidsLimit: 10}},
		{name: "cpus replaces quota and period", have: Resources{CPUQuota: 20000, CPUPeriod: 100000},
			u: ResourceUpdate{CPUs: ptr(1.5)}, want: Resources{CPUs: 1.5}},
		{name: "quota while cpus are set", have: Resources{CPUs: 1},
			u: ResourceUpdate{CPUQuota: i64(5000)}, wantErr: "update cpus instead"},
		{name: "cpus with quota", u: ResourceUpdate{CPUs: ptr(1.0), CPUPeriod: i64(5000)}, wantErr: "cannot both be set"},
		{name: "blkio weight", u: ResourceUpdate{BlkioWeight: ptr(uint16(300))}, want: Resources{Blkio: &Blkio{Weight: 300}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, restart := tc.have, RestartPolicy{}
			err := tc.u.apply(&res, &restart)
			if tc.wantErr != "" {
				if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want InvalidArgument with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (res.Blkio == nil) != (tc.want.Blkio == nil) || (res.Blkio != nil && res.Blkio.Weight != tc.want.Blkio.Weight) {
				t.Errorf("blkio %+v, want %+v", res.Blkio, tc.want.Blkio)
			}
			res.Blkio, tc.want.Blkio = nil, nil
			if res != tc.want {
				t.Errorf("resources %+v, want %+v", res, tc.want)
			}
		})
	}
}

func TestUpdateStoppedContainer(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	c, err := e.Create(t.Context(), ContainerConfig{Name: "upd", Image: "busybox", Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Update(t.Context(), "upd", ResourceUpdate{MemLimit: ptr(int64(64 << 20)), Restart: &RestartPolicy{Name: "always"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Get(t.Context(), string(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if got.Config.Resources.MemLimit != 64<<20 || got.Config.Restart.Name != "always" {
		t.Errorf("after update: resources %+v, restart %+v", got.Config.Resources, got.Config.Restart)
	}
	if err := e.Update(t.Context(), "upd", ResourceUpdate{MemLimit: ptr(int64(1 << 20))}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("a 1 MiB limit: %v, want InvalidArgument", err)
	}
	if err := e.Update(t.Context(), "nosuch", ResourceUpdate{MemLimit: ptr(int64(64 << 20))}); !errdefs.IsNotFound(err) {
		t.Errorf("unknown container: %v, want NotFound", err)
	}
	auto, err := e.Create(t.Context(), ContainerConfig{Name: "auto", Image: "busybox", Cmd: []string{"true"}, AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Update(t.Context(), string(auto.ID), ResourceUpdate{Restart: &RestartPolicy{Name: "always"}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("restart policy of an auto-remove container: %v, want InvalidArgument", err)
	}
}

// recorded is what Events hands on from since to until.
func recorded(t *testing.T, e *Engine, since, until time.Time) []eventlog.Event {
	t.Helper()
	var out []eventlog.Event
	if err := e.Events(since, until, func(ev eventlog.Event) error { out = append(out, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEventJournal(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	before := time.Now()
	c, err := e.Create(t.Context(), ContainerConfig{Name: "ev", Image: "busybox", Cmd: []string{"true"}, Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	// The shim's die names no container: it is named as it was then.
	if err := e.Journal().Append(t.Context(), eventlog.Event{Type: "container", Action: "die", ID: string(c.ID)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Rename(t.Context(), "ev", "ev2"); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove(t.Context(), c.ID, false); err != nil {
		t.Fatal(err)
	}
	evs := recorded(t, e, before, time.Time{})
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action+":"+ev.Name)
		if ev.ID != string(c.ID) || ev.Labels["k"] != "v" {
			t.Errorf("event %+v: want container %s with its labels", ev, c.ID)
		}
	}
	if got := strings.Join(actions, " "); got != "create:ev die:ev rename:ev2 destroy:ev2" {
		t.Errorf("events %q, want create:ev die:ev rename:ev2 destroy:ev2", got)
	}
	if evs[2].Attributes["oldName"] != "/ev" {
		t.Errorf("rename attributes %v, want oldName /ev (Docker's)", evs[2].Attributes)
	}
	for _, ev := range recorded(t, e, time.Time{}, before) {
		if ev.ID == string(c.ID) {
			t.Errorf("an event until before it happened: %+v", ev)
		}
	}

	// A line cut short is skipped (rotation: internal/eventlog's tests).
	f, err := os.OpenFile(e.journalPath(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"version":1,"time":"20`)
	f.Close()
	if _, err := e.Create(t.Context(), ContainerConfig{Name: "ev3", Image: "busybox", Cmd: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Journal().Append(t.Context(), eventlog.Event{Type: "network", Action: "create", ID: "n", Name: "net"}); err != nil {
		t.Fatal(err)
	}
	evs = recorded(t, e, before, time.Time{})
	if len(evs) != 6 || evs[4].Name != "ev3" || evs[5].Type != "network" || evs[5].Name != "net" {
		t.Errorf("after a torn line: %+v, want 6 ending with ev3's create and a network's", evs)
	}
}

func TestPatchBundle(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ctrstate.BundleDir), 0o755); err != nil {
		t.Fatal(err)
	}
	old := specs.Spec{Version: specs.Version, Linux: &specs.Linux{Resources: &specs.LinuxResources{
		Devices: defaultDeviceRules(),
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(32 << 20))},
		BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 5}}},
	}}}
	b, _ := json.Marshal(old)
	p := filepath.Join(dir, ctrstate.BundleDir, "config.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	lr, err := updateResources(Resources{MemLimit: 64 << 20, PidsLimit: 50, Blkio: &Blkio{Weight: 300}})
	if err != nil {
		t.Fatal(err)
	}
	if err := patchBundle(dir, lr); err != nil {
		t.Fatal(err)
	}
	var got specs.Spec
	b, _ = os.ReadFile(p)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	r := got.Linux.Resources
	switch {
	case r.Memory == nil || *r.Memory.Limit != 64<<20:
		t.Errorf("memory %+v, want the updated limit", r.Memory)
	case r.Pids == nil || *r.Pids.Limit != 50:
		t.Errorf("pids %+v, want 50", r.Pids)
	case len(r.Devices) != len(old.Linux.Resources.Devices) || len(r.BlockIO.ThrottleReadBpsDevice) != 1 || *r.BlockIO.Weight != 300:
		t.Errorf("devices %d, block I/O %+v: want the devices and throttles kept, the weight updated", len(r.Devices), r.BlockIO)
	}
}

// FollowEvents hands on the journal's events as they are recorded, from
// now (or since) on, containers' named: the shim's die from the record
// of a container created before the follow began; a line is read once
// complete.
func TestFollowEvents(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	early, err := e.Create(t.Context(), ContainerConfig{Name: "early", Image: "busybox", Cmd: []string{"true"}, Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan eventlog.Event, 100)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- e.FollowEvents(ctx, time.Time{}, ready, func(ev eventlog.Event) error { got <- ev; return nil })
	}()
	<-ready
	next := func() eventlog.Event {
		t.Helper()
		select {
		case ev := <-got:
			return ev
		case err := <-done:
			t.Fatalf("FollowEvents ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no event in 10s")
		}
		panic("unreachable")
	}
	if err := e.Journal().Append(t.Context(), eventlog.Event{Type: "container", Action: "die", ID: string(early.ID)}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Action != "die" || ev.ID != string(early.ID) || ev.Name != "early" || ev.Labels["k"] != "v" {
		t.Fatalf("the shim's die: %+v, want it named from the record", ev)
	}
	c, err := e.Create(t.Context(), ContainerConfig{Name: "cur", Image: "busybox", Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Action != "create" || ev.ID != string(c.ID) || ev.Name != "cur" {
		t.Fatalf("after create: %+v", ev)
	}
	// A line being written is handed on once complete.
	f, err := os.OpenFile(e.journalPath(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"version":1,"action":"half"`)
	f.Sync()
	f.WriteString(`,"id":"` + string(c.ID) + `","time":"2026-01-01T00:00:00Z"}` + "\n")
	f.Close()
	if ev := next(); ev.Action != "half" || ev.Name != "cur" {
		t.Fatalf("the completed line: %+v", ev)
	}
	// Other types' events, as they are.
	if err := e.Journal().Append(t.Context(), eventlog.Event{Type: "network", Action: "create", ID: "n", Name: "net"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Type != "network" || ev.ID != "n" || ev.Name != "net" {
		t.Fatalf("a network's event: %+v", ev)
	}
	if err := e.Remove(t.Context(), c.ID, false); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Action != "destroy" || ev.ID != string(c.ID) {
		t.Fatalf("destroy: %+v", ev)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("FollowEvents at its end: %v, want context.Canceled", err)
	}
}
