package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// fakeDev is an in-memory DevelopRuntime: each container's files by path.
type fakeDev struct {
	mu       sync.Mutex // guards the fields below
	ctrs     []*engine.Container
	files    map[engine.ContainerID]map[string]string
	syncs    int // SyncFiles calls
	restarts map[engine.ContainerID]int
	execs    []string
}

func newFakeDev(ids ...string) *fakeDev {
	f := &fakeDev{files: map[engine.ContainerID]map[string]string{}, restarts: map[engine.ContainerID]int{}}
	for _, id := range ids {
		f.add(id)
	}
	return f
}

func (f *fakeDev) add(id string) { f.addTo("web", id) }

// addTo adds a running container id of service.
func (f *fakeDev) addTo(service, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ctrs = append(f.ctrs, &engine.Container{ID: engine.ContainerID(id),
		Config: engine.ContainerConfig{Name: id, Labels: map[string]string{spec.LabelProject: "p", spec.LabelService: service}},
		State:  engine.State{Status: engine.StatusRunning}})
	f.files[engine.ContainerID(id)] = map[string]string{}
}

func (f *fakeDev) setStatus(id string, st engine.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.ctrs {
		if c.ID == engine.ContainerID(id) {
			c.State.Status = st
		}
	}
}

func (f *fakeDev) restartsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restarts[engine.ContainerID(id)]
}

// replace removes every container and makes id: a recreate.
func (f *fakeDev) replace(id string) {
	f.mu.Lock()
	f.ctrs = nil
	f.mu.Unlock()
	f.add(id)
}

func (f *fakeDev) List(_ context.Context, labels map[string]string) ([]*engine.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*engine.Container
	for _, c := range f.ctrs {
		if c.Config.Labels[spec.LabelService] == labels[spec.LabelService] {
			cp := *c
			out = append(out, &cp)
		}
	}
	return out, nil
}

func (f *fakeDev) SyncFiles(_ context.Context, id engine.ContainerID, paths []engine.SyncPath, _ engine.SyncOptions) (engine.SyncResult, error) {
	var res engine.SyncResult
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	for _, p := range paths {
		if filepath.Base(p.Src) == "unreadable.txt" {
			res.Failed = append(res.Failed, fmt.Errorf("%s: permission denied", p.Src))
			continue
		}
		fi, err := os.Lstat(p.Src)
		switch {
		case errors.Is(err, os.ErrNotExist):
			for k := range f.files[id] {
				if k == p.Dst || strings.HasPrefix(k, p.Dst+"/") {
					delete(f.files[id], k)
				}
			}
			res.Removed++
		case err != nil:
			res.Failed = append(res.Failed, err)
		case fi.IsDir():
		default:
			b, err := os.ReadFile(p.Src)
			if err != nil {
				res.Failed = append(res.Failed, err)
				continue
			}
			f.files[id][p.Dst] = string(b)
			res.Copied++
		}
	}
	return res, nil
}

func (f *fakeDev) Exec(_ context.Context, id engine.ContainerID, cfg engine.ExecConfig, stdio engine.ExecIO) (int, error) {
	f.mu.Lock()
	f.execs = append(f.execs, string(id)+": "+strings.Join(cfg.Cmd, " ")+" as "+cfg.User)
	f.mu.Unlock()
	_, _ = io.WriteString(stdio.Stdout, "reloaded\n")
	return 0, nil
}

func (f *fakeDev) Stop(context.Context, engine.ContainerID, time.Duration) error { return nil }

func (f *fakeDev) Start(_ context.Context, id engine.ContainerID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts[id]++
	return nil
}

func (f *fakeDev) file(id, p string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.files[engine.ContainerID(id)][p]
	return v, ok
}

// devHarness runs a Developer over one service's rules.
type devHarness struct {
	t       *testing.T
	dir     string
	rt      *fakeDev
	mu      sync.Mutex // guards the fields below
	reports []string
	errs    []string
	out     strings.Builder
}

func startDev(t *testing.T, rt *fakeDev, rules func(dir string) []spec.WatchRule) *devHarness {
	t.Helper()
	return startDevProject(t, rt, func(dir string) *spec.Project {
		return &spec.Project{Name: "p", Services: []spec.Service{{Name: "web", Develop: &spec.Develop{Watch: rules(dir)}}}}
	})
}

// startDevProject runs a Developer over the project project(dir) returns.
func startDevProject(t *testing.T, rt *fakeDev, project func(dir string) *spec.Project) *devHarness {
	t.Helper()
	h := &devHarness{t: t, dir: t.TempDir(), rt: rt}
	p := project(h.dir)
	watching := make(chan struct{})
	d := NewDeveloper(DevelopOptions{
		Runtime:  rt,
		Watching: func() { close(watching) },
		Report: func(s, line string) {
			h.mu.Lock()
			h.reports = append(h.reports, s+": "+line)
			h.mu.Unlock()
		},
		OnError: func(err error) {
			h.mu.Lock()
			h.errs = append(h.errs, err.Error())
			h.mu.Unlock()
		},
		Output: func(string) io.Writer {
			return writerFunc(func(b []byte) { h.mu.Lock(); h.out.Write(b); h.mu.Unlock() })
		},
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, p) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	})
	select {
	case <-watching:
	case <-time.After(5 * time.Second):
		t.Fatal("not watching within 5s")
	}
	return h
}

type writerFunc func([]byte)

func (w writerFunc) Write(b []byte) (int, error) { w(b); return len(b), nil }

func (h *devHarness) write(rel, content string) {
	h.t.Helper()
	p := filepath.Join(h.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// eventually waits until cond holds, for up to 10s.
func (h *devHarness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.t.Fatalf("%s: not within 10s; reports %q, errors %q", what, h.reports, h.errs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *devHarness) snapshot() (reports, errs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reports...), append([]string(nil), h.errs...)
}

func syncRule(action string) func(dir string) []spec.WatchRule {
	return func(dir string) []spec.WatchRule {
		return []spec.WatchRule{{Path: filepath.Join(dir, "src"), Action: action, Target: "/app", Ignore: []string{"tmp"}}}
	}
}

func TestDevelopSyncsEditsAndDeletions(t *testing.T) {
	rt := newFakeDev("web-1", "web-2")
	h := startDev(t, rt, syncRule(spec.WatchSync))
	h.write("src/a/b.txt", "one")
	h.eventually("a new file in a new directory is synced to both containers", func() bool {
		a, _ := rt.file("web-1", "/app/a/b.txt")
		b, _ := rt.file("web-2", "/app/a/b.txt")
		return a == "one" && b == "one"
	})
	h.write("src/a/b.txt", "two")
	h.write("src/tmp/ignored.txt", "x")
	h.eventually("an edit is synced", func() bool { v, _ := rt.file("web-1", "/app/a/b.txt"); return v == "two" })
	if err := os.Rename(filepath.Join(h.dir, "src/a/b.txt"), filepath.Join(h.dir, "src/c.txt")); err != nil {
		t.Fatal(err)
	}
	h.eventually("a rename moves the file", func() bool {
		_, old := rt.file("web-1", "/app/a/b.txt")
		v, _ := rt.file("web-1", "/app/c.txt")
		return !old && v == "two"
	})
	if _, ok := rt.file("web-1", "/app/tmp/ignored.txt"); ok {
		t.Error("an ignored file was synced")
	}
	reports, errs := h.snapshot()
	if len(errs) > 0 || !strings.HasPrefix(reports[0], "web: synced 1 file in ") {
		t.Errorf("reports %q, errors %q", reports, errs)
	}
}

func TestDevelopRestartsOncePerBatch(t *testing.T) {
	rt := newFakeDev("web-1")
	h := startDev(t, rt, syncRule(spec.WatchSyncRestart))
	// Written in one go: the first change at once, the rest of the burst
	// in one more batch; one restart each. A busy machine may pause the
	// writer longer than a burst's quiet period: each such pause may begin
	// one more batch, and no other may.
	pauses := 0
	last := time.Now()
	for i := range 200 {
		h.write(fmt.Sprintf("src/f%03d.txt", i), "x")
		if now := time.Now(); now.Sub(last) >= burstSettle {
			pauses++
		}
		last = time.Now()
	}
	h.eventually("every file synced", func() bool { _, ok := rt.file("web-1", "/app/f199.txt"); return ok })
	h.eventually("restarted", func() bool { rt.mu.Lock(); defer rt.mu.Unlock(); return rt.restarts["web-1"] > 0 })
	reports, _ := h.snapshot()
	rt.mu.Lock()
	restarts := rt.restarts["web-1"]
	rt.mu.Unlock()
	if restarts != len(reports) || restarts > 2+pauses {
		t.Errorf("%d restarts for %d batches (the writer paused %d times): %q", restarts, len(reports), pauses, reports)
	}
	if last := reports[len(reports)-1]; !strings.Contains(last, "restarted in ") {
		t.Errorf("report %q", last)
	}
}

func TestDevelopSyncExec(t *testing.T) {
	rt := newFakeDev("web-1")
	h := startDev(t, rt, func(dir string) []spec.WatchRule {
		return []spec.WatchRule{{Path: filepath.Join(dir, "conf"), Action: spec.WatchSyncExec, Target: "/etc/app",
			Exec: &spec.WatchExec{Command: []string{"reload"}, User: "root"}}}
	})
	h.write("conf/app.ini", "x=1")
	h.eventually("the command ran after the sync", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.out.String() == "reloaded\n"
	})
	if v, _ := rt.file("web-1", "/etc/app/app.ini"); v != "x=1" {
		t.Errorf("synced %q", v)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.execs) != 1 || rt.execs[0] != "web-1: reload as root" {
		t.Errorf("execs %q", rt.execs)
	}
}

func TestDevelopInitialSync(t *testing.T) {
	rt := newFakeDev("web-1")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "x", "old.txt"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startDev(t, rt, func(string) []spec.WatchRule {
		return []spec.WatchRule{{Path: filepath.Join(dir, "src"), Action: spec.WatchSync, Target: "/app", InitialSync: true}}
	})
	h.eventually("the existing file is synced at start", func() bool { v, _ := rt.file("web-1", "/app/x/old.txt"); return v == "before" })
}

func TestDevelopFaults(t *testing.T) {
	t.Run("the container is recreated: sync goes to the new one", func(t *testing.T) {
		rt := newFakeDev("old")
		h := startDev(t, rt, syncRule(spec.WatchSync))
		h.write("src/a.txt", "1")
		h.eventually("synced into the first", func() bool { _, ok := rt.file("old", "/app/a.txt"); return ok })
		rt.replace("new")
		h.write("src/b.txt", "2")
		h.eventually("synced into the new one", func() bool { _, ok := rt.file("new", "/app/b.txt"); return ok })
	})
	t.Run("an unreadable file is one line and the batch goes on", func(t *testing.T) {
		rt := newFakeDev("web-1")
		h := startDev(t, rt, syncRule(spec.WatchSync))
		h.write("src/unreadable.txt", "1")
		h.write("src/fine.txt", "2")
		h.eventually("the readable one is synced", func() bool { _, ok := rt.file("web-1", "/app/fine.txt"); return ok })
		h.eventually("the other reported", func() bool { _, errs := h.snapshot(); return len(errs) == 1 })
		_, errs := h.snapshot()
		if strings.Contains(errs[0], "\n") || !strings.Contains(errs[0], "unreadable.txt") {
			t.Errorf("error %q", errs[0])
		}
	})
	t.Run("the watched directory is deleted and made again", func(t *testing.T) {
		rt := newFakeDev("web-1")
		h := startDev(t, rt, syncRule(spec.WatchSync))
		h.write("src/a.txt", "1")
		h.eventually("synced", func() bool { _, ok := rt.file("web-1", "/app/a.txt"); return ok })
		if err := os.RemoveAll(filepath.Join(h.dir, "src")); err != nil {
			t.Fatal(err)
		}
		h.eventually("the deletion propagates", func() bool { _, ok := rt.file("web-1", "/app/a.txt"); return !ok })
		h.write("src/sub/b.txt", "2")
		h.eventually("the new tree is watched and synced", func() bool { v, _ := rt.file("web-1", "/app/sub/b.txt"); return v == "2" })
		h.write("src/sub/c.txt", "3")
		h.eventually("and edits in it too", func() bool { v, _ := rt.file("web-1", "/app/sub/c.txt"); return v == "3" })
	})
	t.Run("10,000 files at once are one batch", func(t *testing.T) {
		rt := newFakeDev("web-1")
		h := startDev(t, rt, func(dir string) []spec.WatchRule {
			return []spec.WatchRule{{Path: filepath.Join(dir, "src"), Action: spec.WatchSync, Target: "/app"}}
		})
		// Made outside the tree and moved in: one change of a quiet tree.
		staging := filepath.Join(h.dir, "staging")
		for i := range 10000 {
			h.write(fmt.Sprintf("staging/d%02d/f%04d.txt", i%100, i), "x")
		}
		if err := os.Rename(staging, filepath.Join(h.dir, "src")); err != nil {
			t.Fatal(err)
		}
		h.eventually("all synced", func() bool { _, ok := rt.file("web-1", "/app/d99/f9999.txt"); return ok })
		rt.mu.Lock()
		n, syncs := len(rt.files["web-1"]), rt.syncs
		rt.mu.Unlock()
		if n != 10000 || syncs != 1 {
			t.Errorf("%d files in %d SyncFiles calls, want 10000 in 1", n, syncs)
		}
	})
}

func TestDevelopRestartsDependents(t *testing.T) {
	rt := newFakeDev("web-1")
	for _, s := range []string{"worker", "cache", "api"} {
		rt.addTo(s, s+"-1")
	}
	h := startDevProject(t, rt, func(dir string) *spec.Project {
		return &spec.Project{Name: "p", Services: []spec.Service{
			{Name: "api", DependsOn: []spec.Dependency{{Service: "worker", Restart: true}}},
			{Name: "cache", DependsOn: []spec.Dependency{{Service: "web"}}},
			{Name: "web", Develop: &spec.Develop{Watch: syncRule(spec.WatchSyncRestart)(dir)}},
			{Name: "worker", DependsOn: []spec.Dependency{{Service: "web", Restart: true}}},
		}}
	})
	h.write("src/a.txt", "1")
	h.eventually("reported", func() bool { r, _ := h.snapshot(); return len(r) == 1 })
	got := map[string]int{}
	for _, id := range []string{"web-1", "worker-1", "api-1", "cache-1"} {
		got[id] = rt.restartsOf(id)
	}
	want := map[string]int{"web-1": 1, "worker-1": 1, "api-1": 1, "cache-1": 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restarts %v, want %v (restart: true, transitively; not cache)", got, want)
	}
	if r, _ := h.snapshot(); !strings.Contains(r[0], "restarted, restarted its dependents worker, api in ") {
		t.Errorf("report %q", r[0])
	}
}

func TestDevelopStoppedContainerGetsFilesOnceRunning(t *testing.T) {
	rt := newFakeDev("web-1")
	rt.setStatus("web-1", engine.StatusExited)
	h := startDev(t, rt, syncRule(spec.WatchSync))
	h.write("src/a.txt", "1")
	h.eventually("the wait is reported", func() bool {
		r, _ := h.snapshot()
		return len(r) == 1 && strings.Contains(r[0], "stopped; the files are synced once it runs")
	})
	h.write("src/b.txt", "2")
	if _, ok := rt.file("web-1", "/app/a.txt"); ok {
		t.Fatal("synced into a stopped container")
	}
	rt.setStatus("web-1", engine.StatusRunning)
	h.eventually("both files are synced once it runs", func() bool {
		a, _ := rt.file("web-1", "/app/a.txt")
		b, _ := rt.file("web-1", "/app/b.txt")
		return a == "1" && b == "2"
	})
	if r, _ := h.snapshot(); len(r) != 2 {
		t.Errorf("reports %q, want the wait once and the sync", r)
	}
}
