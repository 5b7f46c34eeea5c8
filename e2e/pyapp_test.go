//go:build e2e

package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pyappBase imports the pyapp example's base image into the test's root.
// examples/pyapp/base.sh makes it with debootstrap from the Debian mirror
// once (a few minutes; hack/e2e.sh runs it before the tests so the tests'
// timeout does not pay for it) and prints the cached tarball after that.
func (h *harness) pyappBase() {
	h.t.Helper()
	h.importMadeImage(filepath.Join(repoRoot, "examples", "pyapp", "base.sh"), "pyapp-base:bookworm")
}

// importMadeImage runs script, which prints the path of a rootfs tarball
// it made (or had cached), and imports that tarball as ref.
func (h *harness) importMadeImage(script, ref string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), 15*time.Minute)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("%s: %v\n%s", filepath.Base(script), err, stderr.String())
	}
	h.mustBerth("image", "import", strings.TrimSpace(string(out)), ref)
}

// pageAt fetches url, "" when nothing answers or the answer is not a 200.
func pageAt(url string) string {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(b)
}

// TestPyappExample: examples/pyapp, built by berth from its Dockerfile,
// serves its page through Redis, PostgreSQL and the worker; under berth
// watch an edit of the code is served at once from the same container
// (sync), an edit of the worker's config reaches it through sync+exec, an
// edit of requirements.txt rebuilds and recreates web alone, once; down -v
// --rmi all leaves nothing.
func TestPyappExample(t *testing.T) {
	h := newHarness(t)
	h.pyappBase()
	dir := copyDir(t, filepath.Join(repoRoot, "examples", "pyapp"))
	file := filepath.Join(dir, "compose.yaml")
	port := unusedPort(t, "tcp")
	t.Setenv("PYAPP_PORT", port)
	url := "http://127.0.0.1:" + port
	t.Cleanup(func() { h.berth("-f", file, "down", "-v", "--rmi", "all") })
	ids := func() map[string]string {
		m := map[string]string{}
		for _, r := range h.ps(file) {
			m[r.Service] = r.ID
		}
		return m
	}

	w := h.startWatch(file, "watch")
	var page string
	h.eventually("the page counts the visits the worker stored in PostgreSQL", time.Minute, func() bool {
		page = pageAt(url + "/")
		return strings.Contains(page, "Hello from berth\n") && !strings.Contains(page, "visits stored by the worker: 0\n")
	})
	if !strings.HasPrefix(page, "berth pyapp\n") {
		t.Errorf("page %q: want the title from config/app.ini first", page)
	}
	before := ids()

	views := filepath.Join(dir, "app", "views.py")
	src, err := os.ReadFile(views)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `GREETING = "Hello from berth"`, `GREETING = "Edited while it runs"`, 1)
	if edited == string(src) {
		t.Fatal("app/views.py has no GREETING line to edit")
	}
	if err := os.WriteFile(views, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	h.eventually("the edit is served", 15*time.Second, func() bool {
		return strings.Contains(pageAt(url+"/"), "Edited while it runs\n")
	})
	if got := ids(); got["web"] != before["web"] {
		t.Errorf("a synced edit recreated web: %v → %v", before, got)
	}

	// The worker restarted for the edit (its rule: sync+restart of ./app);
	// its PID file is there once it handles SIGHUP.
	h.eventually("the worker restarted and handles SIGHUP", time.Minute, func() bool {
		return w.lines("worker: synced 1 file, restarted") == 1 &&
			h.berth("-f", file, "exec", "-T", "worker", "test", "-f", "/tmp/worker.pid").code == 0
	})
	ini := filepath.Join(dir, "config", "worker.ini")
	if err := os.WriteFile(ini, []byte("[worker]\nlabel = an edited visit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.eventually("the worker reads its synced config on the exec's signal", 30*time.Second, func() bool {
		return strings.Contains(w.stdout.String(), "worker | told the worker to reload") &&
			strings.Contains(h.mustBerth("-f", file, "logs", "worker"), "config loaded: label = an edited visit")
	})
	if got := ids(); got["worker"] != before["worker"] {
		t.Errorf("sync+exec recreated the worker: %v → %v", before, got)
	}

	req := filepath.Join(dir, "requirements.txt")
	f, err := os.OpenFile(req, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("json\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	h.eventually("the rebuilt web lists the new dependency", 2*time.Minute, func() bool {
		return strings.Contains(pageAt(url+"/deps"), "json ")
	})
	after := ids()
	if after["web"] == before["web"] {
		t.Error("web was not recreated by the rebuild")
	}
	for _, s := range []string{"worker", "redis", "db"} {
		if after[s] != before[s] {
			t.Errorf("the rebuild of web recreated %s", s)
		}
	}
	if n := w.lines("web: rebuilt and recreated in "); n != 1 {
		t.Errorf("%d rebuilds for one edit:\n%s", n, w.stderr.String())
	}
	if !strings.Contains(pageAt(url+"/"), "Edited while it runs\n") {
		t.Error("the rebuilt image does not serve the edited code")
	}
	w.end(syscall.SIGINT)
}
