package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/internal/topdir"
)

// newUnprivEngine is an engine on a fresh root that never runs a container.
func newUnprivEngine(t *testing.T, runtime string, withBusybox bool) *Engine {
	t.Helper()
	root := t.TempDir()
	images, err := image.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if withBusybox {
		var tar bytes.Buffer
		if err := testimage.BusyboxRootfs(&tar); err != nil {
			t.Skipf("no busybox image: %v", err)
		}
		if _, err := images.Import(t.Context(), &tar, "busybox:latest", image.ImportOptions{Created: testimage.MTime}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Root: root, RunDir: root + "/run", Runtime: runtime, Exe: "/nonexistent/berth"}, images, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The directories holding one tree per container, runtime state, volume
// and layer are marked for ext4's Orlov allocator to spread their
// children (internal/topdir says why).
func TestStateDirsSpread(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", false)
	if _, ok := topdir.Marked(e.opt.Root); !ok {
		t.Skipf("%s keeps no inode flags", e.opt.Root)
	}
	for _, d := range []string{"containers", "run/runc", "volumes", "layers"} {
		if m, _ := topdir.Marked(filepath.Join(e.opt.Root, d)); !m {
			t.Errorf("%s is not marked as a top of directory hierarchies", d)
		}
	}
	if m, _ := topdir.Marked(e.opt.Root); m {
		t.Errorf("the root itself is marked")
	}
}

// Starts beyond the process's slots wait for one, and give up with their
// context; a Start gives its slot back however it ends.
func TestStartSlots(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", false)
	if cap(e.starts) < 2 {
		t.Fatalf("%d start slots", cap(e.starts))
	}
	e.starts = make(chan struct{}, 1)
	missing := ContainerID(strings.Repeat("ab", 32))
	if err := e.Start(t.Context(), missing); !errdefs.IsNotFound(err) {
		t.Fatalf("Start of a missing container = %v, want NotFound", err)
	}
	if n := len(e.starts); n != 0 {
		t.Fatalf("%d slots still taken after the Start", n)
	}
	e.starts <- struct{}{} // every slot taken
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("no slot"))
	if err := e.Start(ctx, missing); err == nil || err.Error() != "no slot" {
		t.Fatalf("Start without a slot = %v, want its context's cause", err)
	}
	<-e.starts
}

func TestCreateUnknownImage(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", false)
	_, err := e.Create(t.Context(), ContainerConfig{Name: "x", Image: "nosuch:1.0", Cmd: []string{"c"}})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), `"nosuch:1.0"`) {
		t.Fatalf("err = %v, want NotFound naming the image", err)
	}
}

func TestMissingRuntime(t *testing.T) {
	e := newUnprivEngine(t, "no-such-runtime", true)
	_, err := e.Create(t.Context(), ContainerConfig{Name: "x", Image: "busybox", Cmd: []string{"true"}})
	if !errdefs.IsFailedPrecondition(err) || err.Error() != `container "x": runtime "no-such-runtime": not found in PATH` {
		t.Fatalf("Create: %v, want FailedPrecondition: runtime not found in PATH", err)
	}

	// A container created while the runtime was there cannot start without it.
	ok := newUnprivEngine(t, "/bin/true", true)
	c, err := ok.Create(t.Context(), ContainerConfig{Name: "y", Image: "busybox", Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	opt := ok.opt
	opt.Runtime = "no-such-runtime"
	bad, err := New(opt, ok.images, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Start(t.Context(), c.ID)
	if !errdefs.IsFailedPrecondition(err) || err.Error() != `container "y": start: runtime "no-such-runtime": not found in PATH` {
		t.Fatalf("Start: %v", err)
	}
}

func TestCreateGetList(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	ctx := t.Context()
	a, err := e.Create(ctx, ContainerConfig{Name: "b-app", Image: "busybox", Cmd: []string{"true"}, Labels: map[string]string{"p": "one", "s": "app"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, ContainerConfig{Name: "a-db", Image: "busybox", Cmd: []string{"true"}, Labels: map[string]string{"p": "one", "s": "db"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, ContainerConfig{Name: "b-app", Image: "busybox", Cmd: []string{"true"}}); !errdefs.IsConflict(err) {
		t.Errorf("duplicate name: %v, want Conflict", err)
	}
	anon, err := e.Create(ctx, ContainerConfig{Image: "busybox", Cmd: []string{"true"}}) // a generated name
	if err != nil || anon.Config.Name != string(anon.ID[:12]) {
		t.Errorf("unnamed create: %+v, %v", anon, err)
	}
	for _, bad := range []ContainerConfig{
		{Name: "bad name", Image: "busybox"},
		{Name: "e", Image: "busybox", Env: []string{"NOEQUALS"}},
		{Name: "s", Image: "busybox", StopSignal: "SIGNOPE"},
		{Name: "h", Image: "busybox", ExtraHosts: []HostEntry{{IP: "not-an-ip", Names: []string{"x"}}}},
		{Name: "h", Image: "busybox", ExtraHosts: []HostEntry{{IP: "fe80::1%x\n10.6.6.6", Names: []string{"x"}}}},
		{Name: "h", Image: "busybox", ExtraHosts: []HostEntry{{IP: "10.1.1.1", Names: []string{"x\n10.6.6.6 evil"}}}},
		{Name: "h", Image: "busybox", Hostname: "a b"},
		{Name: "h", Image: "busybox", Networks: []EndpointConfig{{Network: "n", Aliases: []string{"web#"}}}},
		{Name: "h", Image: "busybox", DNSSearch: []string{"lan\nnameserver 10.6.6.6"}},
		{Name: "m", Image: "busybox", Mounts: []Mount{{Type: "bind", Source: "rel", Target: "/x"}}},
	} {
		if _, err := e.Create(ctx, bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Create(%+v): %v, want InvalidArgument", bad, err)
		}
	}
	for _, ref := range []string{string(a.ID), string(a.ID[:10]), "b-app"} {
		c, err := e.Get(ctx, ref)
		if err != nil || c.ID != a.ID || c.State.Status != StatusCreated || c.ImageID == "" {
			t.Errorf("Get(%q) = %+v, %v", ref, c, err)
		}
	}
	if _, err := e.Get(ctx, "nope"); !errdefs.IsNotFound(err) {
		t.Errorf("Get(nope): %v, want NotFound", err)
	}
	cs, err := e.List(ctx, map[string]string{"p": "one"})
	if err != nil || len(cs) != 2 || cs[0].Config.Name != "a-db" || cs[1].Config.Name != "b-app" {
		t.Errorf("List(p=one) = %d, %v", len(cs), err)
	}
	cs, err = e.List(ctx, map[string]string{"s": "db"})
	if err != nil || len(cs) != 1 {
		t.Errorf("List(s=db) = %d, %v", len(cs), err)
	}
	rec, err := readRecord(e.containerDir(a.ID))
	if err != nil || rec.StopSignal != "SIGTERM" {
		t.Errorf("record: %+v, %v", rec, err)
	}
}

// TestRemoveFinishesInterruptedRemoval: a directory whose record is gone
// (a Remove that died half-way) is invisible to Get and List, and removed
// by Remove of its ID.
func TestRemoveFinishesInterruptedRemoval(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	ctx := t.Context()
	c, err := e.Create(ctx, ContainerConfig{Name: "half", Image: "busybox", Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.containerDir(c.ID), "container.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, "half"); !errdefs.IsNotFound(err) {
		t.Errorf("Get by name: %v, want NotFound", err)
	}
	if cs, err := e.List(ctx, nil); err != nil || len(cs) != 0 {
		t.Errorf("List: %d, %v", len(cs), err)
	}
	if err := e.Remove(ctx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.containerDir(c.ID)); !os.IsNotExist(err) {
		t.Errorf("directory left: %v", err)
	}
	if err := e.Remove(ctx, c.ID, false); !errdefs.IsNotFound(err) {
		t.Errorf("Remove again: %v, want NotFound", err)
	}
}

// TestCorruptRecordIsReported: a corrupt record is an error naming its
// path, not skipped.
func TestCorruptRecordIsReported(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	c, err := e.Create(t.Context(), ContainerConfig{Name: "bad", Image: "busybox", Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.containerDir(c.ID), "container.json")
	if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.List(t.Context(), nil); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), p) {
		t.Errorf("List: %v, want DataLoss naming %s", err, p)
	}
}

// TestCreateSameNameConcurrently: of several Creates racing for one name,
// exactly one wins.
func TestCreateSameNameConcurrently(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.Create(t.Context(), ContainerConfig{Name: "racy", Image: "busybox", Cmd: []string{"true"}})
			errs <- err
		}()
	}
	won := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			won++
		case !errdefs.IsConflict(err):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d Creates won, want 1", won)
	}
	// The losers' directories, made before the name was claimed, are gone.
	if left, _ := filepath.Glob(filepath.Join(e.containersDir(), ".tmp-*")); len(left) != 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

// A Create's directory is made under a temporary name that carries its
// maker: the next Create sweeps those of makers that died (and those that
// name none, from berth before), never a live one's.
func TestCreateSweepsDeadMakersOnly(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	id := strings.Repeat("ab", 32)
	live := filepath.Join(e.containersDir(), ".tmp-"+ctrstate.Self()+"-"+id)
	dead := filepath.Join(e.containersDir(), ".tmp-4194305.1-"+id) // past PID_MAX_LIMIT: never a process
	unnamed := filepath.Join(e.containersDir(), ".tmp-"+id)
	for _, d := range []string{live, dead, unnamed} {
		if err := os.MkdirAll(filepath.Join(d, "upper"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Create(t.Context(), ContainerConfig{Name: "sweeper", Image: "busybox", Cmd: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{live: true, dead: false, unnamed: false} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("after a Create, %s: present %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
	// A Remove sweeps too (a down after a killed up may create nothing),
	// but without the name lock only what names a dead maker.
	for _, d := range []string{dead, unnamed} {
		if err := os.MkdirAll(filepath.Join(d, "upper"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Remove(t.Context(), "sweeper", true); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{live: true, dead: false, unnamed: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("after a Remove, %s: present %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}

func TestExecFlagsPrivileged(t *testing.T) {
	args := execFlags(ExecConfig{Privileged: true}, nil, nil)
	if n := strings.Count(strings.Join(args, " "), "--cap "); n != len(allCapabilities) {
		t.Fatalf("privileged exec adds %d capabilities, want %d: %v", n, len(allCapabilities), args)
	}
	if args := execFlags(ExecConfig{}, nil, nil); len(args) != 0 {
		t.Fatalf("plain exec: %v", args)
	}
}
