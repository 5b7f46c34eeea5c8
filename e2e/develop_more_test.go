//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// developProject writes compose.yaml (and files, by path relative to it)
// into a new directory and returns the Compose file's path; the test's
// cleanup takes the project down.
func (h *harness) developProject(compose string, files map[string]string) string {
	h.t.Helper()
	dir := filepath.Join(h.t.TempDir(), "proj")
	files["compose.yaml"] = compose
	for rel, body := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "compose.yaml")
	h.t.Cleanup(func() { h.berth("-f", file, "down", "-v", "--rmi", "all") })
	return file
}

// containerRoot is the service's first container's root as the host sees
// it (/proc/<its init>/root), to read its files without a process in it.
func (h *harness) containerRoot(file, service string) string {
	h.t.Helper()
	for _, c := range h.ps(file) {
		if c.Service != service {
			continue
		}
		// ps shows the short ID; the directory has the full one.
		dirs, _ := filepath.Glob(filepath.Join(h.root, "containers", c.ID+"*", "init.pid"))
		if len(dirs) != 1 {
			h.t.Fatalf("container %s: init.pid files %q", c.ID, dirs)
		}
		pid, err := os.ReadFile(dirs[0])
		if err != nil {
			h.t.Fatal(err)
		}
		return "/proc/" + strings.TrimSpace(string(pid)) + "/root"
	}
	h.t.Fatalf("no container of %s", service)
	return ""
}

// starts counts the "started" lines of a service's logs: one per start.
func (h *harness) starts(file, service string) int {
	return strings.Count(h.mustBerth("-f", file, "logs", "--no-log-prefix", service), "started\n")
}

func (h *harness) serviceIDs(file string) map[string]string {
	m := map[string]string{}
	for _, r := range h.ps(file) {
		m[r.Service] = r.ID
	}
	return m
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncCompose is a service app whose ./src is synced to /app, with
// more of the rule's fields in place of %s.
const syncCompose = `services:
  app:
    image: busybox:latest
    init: true
    command: [sleep, "3600"]
    develop:
      watch:
        - {path: ./src, action: sync, target: /app%s}
`

const rebuildCompose = `services:
  app:
    build: ./app
    init: true
    develop:
      watch:
        - {path: ./app/dep.txt, action: rebuild}
        - {path: ./conf, action: sync+restart, target: /conf}
  dependent:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo started; exec sleep 3600"]
    depends_on:
      app: {condition: service_started, restart: true}
  bystander:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo started; exec sleep 3600"]
    depends_on: [app]
`

// TestDevelopRebuildAndDependents: an edit covered by a rebuild rule
// rebuilds the image and recreates the service once per batch; the service
// that depends on it with restart: true is restarted with it (by a rebuild
// and by a sync+restart), the one without restart: true is left alone.
func TestDevelopRebuildAndDependents(t *testing.T) {
	h := newHarness(t)
	file := h.developProject(rebuildCompose, map[string]string{
		"app/Dockerfile": "FROM busybox:latest\nCOPY dep.txt /dep.txt\nCMD [\"sh\", \"-c\", \"echo started; exec sleep 3600\"]\n",
		"app/dep.txt":    "v1\n",
		"conf/a.conf":    "a\n",
	})
	dir := filepath.Dir(file)
	w := h.startWatch(file, "watch")
	before := h.serviceIDs(file)

	// Three saves in a row: one batch, one rebuild.
	for i := 2; i <= 4; i++ {
		writeFile(t, filepath.Join(dir, "app", "dep.txt"), fmt.Sprintf("v%d\n", i))
	}
	h.eventually("app runs the rebuilt image", 2*time.Minute, func() bool {
		return w.lines("app: rebuilt and recreated") > 0 &&
			h.berth("-f", file, "exec", "-T", "app", "cat", "/dep.txt").stdout == "v4\n"
	})
	after := h.serviceIDs(file)
	if after["app"] == before["app"] || after["dependent"] != before["dependent"] || after["bystander"] != before["bystander"] {
		t.Errorf("containers %v → %v: want app recreated, the others kept", before, after)
	}
	if n := w.lines("app: rebuilt and recreated"); n != 1 {
		t.Errorf("%d rebuilds for one burst of saves:\n%s", n, w.stderr.String())
	}
	h.eventually("the dependent with restart: true restarted", 15*time.Second, func() bool { return h.starts(file, "dependent") == 2 })
	if !strings.Contains(w.stderr.String(), "restarted its dependents dependent") {
		t.Errorf("the batch's line does not name the restarted dependent:\n%s", w.stderr.String())
	}

	writeFile(t, filepath.Join(dir, "conf", "a.conf"), "b\n")
	h.eventually("a sync+restart of app restarts the dependent too", 30*time.Second, func() bool {
		return h.starts(file, "app") == 2 && h.starts(file, "dependent") == 3
	})
	if n := h.starts(file, "bystander"); n != 1 {
		t.Errorf("the service without restart: true started %d times, want 1", n)
	}
	w.end(syscall.SIGINT)
}

// TestDevelopKilledMidBatch: berth watch killed with SIGKILL while it
// syncs a large batch leaves no half-written file in the container, and
// the next watch (initial_sync) brings it up to date.
func TestDevelopKilledMidBatch(t *testing.T) {
	h := newHarness(t)
	file := h.developProject(fmt.Sprintf(syncCompose, ", initial_sync: true"), map[string]string{"src/.keep": ""})
	dir := filepath.Dir(file)
	const n, size = 3000, 16 << 10
	body := strings.Repeat("x", size-1) + "\n"
	// Made beside the tree and moved in: one batch of n files.
	for i := range n {
		writeFile(t, filepath.Join(dir, "staging", fmt.Sprintf("f%04d", i)), body)
	}
	w := h.startWatch(file, "watch")
	root := h.containerRoot(file, "app")
	if err := os.Rename(filepath.Join(dir, "staging"), filepath.Join(dir, "src", "big")); err != nil {
		t.Fatal(err)
	}
	h.eventually("the batch has begun", 30*time.Second, func() bool {
		entries, _ := os.ReadDir(filepath.Join(root, "app", "big"))
		return len(entries) > 0
	})
	w.end(syscall.SIGKILL)

	check := func() (complete int, bad []string) {
		entries, err := os.ReadDir(filepath.Join(root, "app", "big"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			fi, err := e.Info()
			switch {
			case err != nil:
				bad = append(bad, e.Name()+": "+err.Error())
			case !strings.HasPrefix(e.Name(), "f") || fi.Size() != size:
				bad = append(bad, fmt.Sprintf("%s (%d bytes)", e.Name(), fi.Size()))
			default:
				complete++
			}
		}
		return complete, bad
	}
	got, bad := check()
	if len(bad) > 0 {
		t.Errorf("after SIGKILL mid-batch the container holds half-written or temporary files: %q", bad)
	}
	if got == n {
		t.Logf("the batch had finished before the kill: %d files", got)
	}

	w = h.startWatch(file, "watch")
	h.eventually("the next watch syncs the rest", time.Minute, func() bool { got, _ := check(); return got == n })
	if _, bad := check(); len(bad) > 0 {
		t.Errorf("after the next watch: %q", bad)
	}
	w.end(syscall.SIGINT)
}

// TestDevelopStoppedContainer: an edit made while the service's container
// is stopped is in it once it is started again.
func TestDevelopStoppedContainer(t *testing.T) {
	h := newHarness(t)
	file := h.developProject(fmt.Sprintf(syncCompose, ""), map[string]string{"src/a.txt": "1\n"})
	dir := filepath.Dir(file)
	w := h.startWatch(file, "watch")
	h.mustBerth("-f", file, "stop", "app")
	writeFile(t, filepath.Join(dir, "src", "a.txt"), "while stopped\n")
	h.eventually("watch says it waits for the container", 15*time.Second, func() bool {
		return w.lines("app: its container is stopped") == 1
	})
	h.mustBerth("-f", file, "start", "app")
	h.eventually("the edit is in the started container", 15*time.Second, func() bool {
		return h.berth("-f", file, "exec", "-T", "app", "cat", "/app/a.txt").stdout == "while stopped\n"
	})
	w.end(syscall.SIGINT)
}

// TestDevelopRulesFromAnEdit: a develop section added to the Compose file
// while berth watch runs takes effect without restarting the watch.
func TestDevelopRulesFromAnEdit(t *testing.T) {
	h := newHarness(t)
	base := fmt.Sprintf(syncCompose, "") + `  other:
    image: busybox:latest
    init: true
    command: [sleep, "3600"]
`
	file := h.developProject(base, map[string]string{"src/a.txt": "1\n", "other/b.txt": "1\n"})
	dir := filepath.Dir(file)
	w := h.startWatch(file, "watch")
	writeFile(t, file, base+`    develop:
      watch:
        - {path: ./other, action: sync, target: /other}
`)
	h.eventually("the edit is converged", 30*time.Second, func() bool { return w.lines("Change detected") > 0 })
	writeFile(t, filepath.Join(dir, "other", "b.txt"), "2\n")
	h.eventually("the new rule syncs", 15*time.Second, func() bool {
		return h.berth("-f", file, "exec", "-T", "other", "cat", "/other/b.txt").stdout == "2\n"
	})
	w.end(syscall.SIGINT)
}

// TestWatchWithoutDevelopIsAnError: berth watch on a project where no
// selected service has a develop section fails as docker compose watch
// does, in one line, and makes nothing.
func TestWatchWithoutDevelopIsAnError(t *testing.T) {
	h := newHarness(t)
	file := h.developProject(`services:
  app:
    image: busybox:latest
    command: [sleep, "3600"]
  web:
    image: busybox:latest
    command: [sleep, "3600"]
    develop:
      watch:
        - {path: ./src, action: sync, target: /app}
`, map[string]string{})
	r := h.berth("-f", file, "watch", "app")
	want := "none of the selected services is configured for watch, consider setting a 'develop' section"
	if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("watch app: exit %d, stderr %q; want 1 and one line with %q", r.code, r.stderr, want)
	}
	if ps := h.ps(file, "-a"); len(ps) != 0 {
		t.Errorf("the refused watch made containers: %+v", ps)
	}
}
