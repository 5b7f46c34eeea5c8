//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a running command writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// watchProc is a berth watch (or up --watch) the test started.
type watchProc struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	done           chan error
	ended          bool
}

// startWatch runs berth -f file ARGS (watch, up --watch) in the
// background, and waits until it watches. The test's cleanup kills it if
// the test did not end it.
func (h *harness) startWatch(file string, args ...string) *watchProc {
	h.t.Helper()
	w := &watchProc{done: make(chan error, 1)}
	w.cmd = exec.Command(berthBin, append([]string{"--root", h.root, "-f", file}, args...)...)
	w.cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
	w.cmd.Stdout, w.cmd.Stderr = &w.stdout, &w.stderr
	if err := w.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	h.t.Cleanup(func() {
		if !w.ended {
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	})
	h.eventually("watch brings the project up and watches", 2*time.Minute, func() bool {
		select {
		case err := <-w.done:
			w.ended = true
			h.t.Fatalf("watch ended: %v\n%s", err, w.stderr.String())
		default:
		}
		return strings.Contains(w.stderr.String(), "Watching ")
	})
	return w
}

// end sends sig to the watch and waits until it has ended.
func (w *watchProc) end(sig os.Signal) {
	if w.ended {
		return
	}
	_ = w.cmd.Process.Signal(sig)
	<-w.done
	w.ended = true
}

// lines counts the lines of the watch's stderr that contain s.
func (w *watchProc) lines(s string) int { return strings.Count(w.stderr.String(), s) }

// TestDevelopWatch: berth watch syncs edits into the running container as
// its user, restarts once for many files, shows a sync+exec command's
// output with the service's prefix, and Ctrl-C leaves the project running.
func TestDevelopWatch(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Join(t.TempDir(), "proj")
	if err := os.CopyFS(dir, os.DirFS("testdata/TestDevelopWatch")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "compose.yaml")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	write := func(rel, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inContainer := func(script string) string {
		r := h.berth("-f", file, "exec", "-T", "web", "sh", "-c", script)
		return strings.TrimSpace(r.stdout)
	}

	w := h.startWatch(file, "watch")
	stdout, stderr := &w.stdout, &w.stderr

	write("src/hello.txt", "hello from the host\n")
	h.eventually("the edit is in the container, owned by its user", 15*time.Second, func() bool {
		return inContainer("cat /app/src/hello.txt; stat -c %u /app/src/hello.txt") == "hello from the host\n1000"
	})
	write("src/scratch.tmp", "x")
	write("src/hello.txt", "edited\n")
	h.eventually("a second edit replaces it", 15*time.Second, func() bool { return inContainer("cat /app/src/hello.txt") == "edited" })
	if got := inContainer("ls /app/src"); got != "hello.txt" {
		t.Errorf("/app/src holds %q; the ignored file must not be synced", got)
	}

	for i := range 30 {
		write(fmt.Sprintf("restart/f%02d.txt", i), "x")
	}
	h.eventually("every file of the burst is synced", 15*time.Second, func() bool {
		return inContainer("ls /app/restart | wc -l") == "30"
	})
	h.eventually("the service restarted", 15*time.Second, func() bool {
		return strings.Contains(stderr.String(), "restarted in ")
	})
	restarts := strings.Count(stderr.String(), "restarted in ")
	if restarts > 2 {
		t.Errorf("%d restarts for one burst of 30 files:\n%s", restarts, stderr.String())
	}
	h.eventually("the restarts are the container's", 15*time.Second, func() bool {
		return strings.Count(h.mustBerth("-f", file, "logs", "web"), "started") == 1+restarts
	})

	write("conf/app.ini", "x=1")
	h.eventually("the exec output is shown with the service's prefix", 15*time.Second, func() bool {
		return strings.Contains(stdout.String(), "web | reloaded x=1 as 0")
	})

	id := h.ps(file)[0].ID
	w.end(syscall.SIGINT)
	ps := h.ps(file)
	if len(ps) != 1 || ps[0].ID != id || ps[0].State != "running" {
		t.Errorf("after Ctrl-C in watch: %+v, want %s still running", ps, id)
	}
}
