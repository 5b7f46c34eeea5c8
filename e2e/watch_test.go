//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const watchBase = `services:
  app:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo color=$$COLOR; sleep 3600"]
    environment:
      COLOR: %s
  side:
    image: busybox:latest
    init: true
    command: ["sleep", "3600"]
`

// TestWatchAppliesEdits: berth up --watch recreates only the edited service,
// reports an invalid edit without touching what runs, and removes a service
// deleted from the file.
func TestWatchAppliesEdits(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(watchBase, "%s", "red", 1))
	// By name: the file may be invalid when the test ends.
	t.Cleanup(func() { h.berthIn(t.TempDir(), "-p", h.project, "down", "-v") })

	var stderr bytes.Buffer
	// up --watch: without develop rules, berth watch refuses (as docker
	// compose watch does); up --watch converges on Compose edits alone.
	w := exec.Command(berthBin, "--root", h.root, "-f", file, "up", "-d", "--watch")
	w.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
	w.Stderr = &stderr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	t.Cleanup(func() {
		_ = w.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = w.Process.Kill()
			<-done
		}
	})
	ids := func() map[string]string {
		m := map[string]string{}
		for _, r := range h.psByName() {
			m[r.Service] = r.ID
		}
		return m
	}
	h.eventually("watch brings the project up", 15*time.Second, func() bool { return len(ids()) == 2 })
	before := ids()

	write(strings.Replace(watchBase, "%s", "blue", 1))
	h.eventually("the edited service is recreated with the new value", 15*time.Second, func() bool {
		return ids()["app"] != before["app"] && strings.Contains(h.mustBerth("-f", file, "logs", "app"), "color=blue")
	})
	if ids()["side"] != before["side"] {
		t.Errorf("the unedited service was recreated")
	}

	after := ids()
	write("services: [this is not valid\n")
	h.eventually("the invalid edit is reported", 15*time.Second, func() bool {
		return strings.Contains(stderr.String(), "nothing was changed")
	})
	if got := ids(); got["app"] != after["app"] || got["side"] != after["side"] {
		t.Errorf("an invalid edit changed running containers: %v → %v", after, got)
	}

	write(strings.SplitN(strings.Replace(watchBase, "%s", "blue", 1), "  side:", 2)[0])
	h.eventually("the deleted service is removed", 15*time.Second, func() bool {
		_, ok := ids()["side"]
		return !ok
	})
}

// TestConfigFileEditRecreates: a config's file is copied into the container
// when it starts, so `up` recreates the service when the file's content
// changed, and only then.
func TestConfigFileEditRecreates(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	conf := filepath.Join(dir, "app.conf")
	compose := "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"3600\"]\n    configs: [app]\nconfigs:\n  app: {file: ./app.conf}\n"
	for name, body := range map[string]string{file: compose, conf: "v1\n"} {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	id := func() string { return h.ps(file)[0].ID }
	first := id()
	if got := h.mustBerth("-f", file, "exec", "-T", "app", "cat", "/app"); got != "v1\n" {
		t.Fatalf("/app = %q, want v1", got)
	}
	h.mustBerth("-f", file, "up", "-d")
	if id() != first {
		t.Fatal("up with the config file unchanged recreated the service")
	}
	if err := os.WriteFile(conf, []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustBerth("-f", file, "up", "-d")
	if id() == first {
		t.Fatal("up after the config file changed kept the old container")
	}
	if got := h.mustBerth("-f", file, "exec", "-T", "app", "cat", "/app"); got != "v2\n" {
		t.Errorf("/app = %q after the edit, want v2", got)
	}
}
