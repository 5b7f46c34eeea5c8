//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelloExample is the foundation's whole path: examples/hello comes up,
// the client reaches web by its service name over the project's bridge, and
// down -v leaves nothing at all.
func TestHelloExample(t *testing.T) {
	h := newHarness(t)
	file := filepath.Join(repoRoot, "examples", "hello", "compose.yaml")
	network := h.project + "_default"

	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") }) // no-op when the test got there

	rows := h.ps(file)
	if len(rows) != 2 {
		t.Fatalf("ps shows %d containers, want 2: %+v", len(rows), rows)
	}
	for _, r := range rows {
		if r.State != "running" {
			t.Errorf("container %s is %s, want running", r.Name, r.State)
		}
		if r.Name != h.project+"-"+r.Service+"-1" {
			t.Errorf("container name %q, want %s-%s-1", r.Name, h.project, r.Service)
		}
	}

	bridge := h.bridgeOf(network)
	if err := exec.Command("ip", "link", "show", "dev", bridge).Run(); err != nil {
		t.Fatalf("bridge %s of network %s does not exist while up: %v", bridge, network, err)
	}
	volume := filepath.Join(h.root, "volumes", h.project+"_site", "_data")
	h.eventually("web writes its page into the named volume", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(volume, "index.html"))
		return err == nil && strings.Contains(string(b), "Hello from berth")
	})
	h.eventually("the client's log holds the page fetched from http://web:8080/", 20*time.Second, func() bool {
		return strings.Contains(h.mustBerth("-f", file, "logs", "client"), "<h1>Hello from berth</h1>")
	})
	if logs := h.mustBerth("-f", file, "logs", "--no-log-prefix", "web"); !strings.Contains(logs, "response:200") {
		t.Errorf("web's log does not show the client's request:\n%s", logs)
	}

	h.mustBerth("-f", file, "down", "-v")
	if err := exec.Command("ip", "link", "show", "dev", bridge).Run(); err == nil {
		t.Errorf("bridge %s still exists after down", bridge)
	}
	if _, err := os.Stat(filepath.Dir(volume)); !os.IsNotExist(err) {
		t.Errorf("volume %s_site still exists after down -v (%v)", h.project, err)
	}
	if rows := h.ps(file, "-a"); len(rows) != 0 {
		t.Errorf("ps -a after down shows %+v", rows)
	}
}

// TestUpTwiceIsNoop: a second up with an unchanged file touches no container.
func TestUpTwiceIsNoop(t *testing.T) {
	h := newHarness(t)
	file := filepath.Join(repoRoot, "examples", "hello", "compose.yaml")
	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.mustBerth("-f", file, "down", "-v") })
	first := h.ps(file)

	r := h.berth("-f", file, "up", "-d")
	if r.code != 0 {
		t.Fatalf("second up: exit %d: %s", r.code, r.stderr)
	}
	second := h.ps(file)
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("containers: first %d, second %d; want 2 and 2", len(first), len(second))
	}
	for i := range first {
		if first[i].ID != second[i].ID {
			t.Errorf("container %s was replaced by a no-op up (%s → %s)", first[i].Name, first[i].ID, second[i].ID)
		}
	}
	for _, word := range []string{"Creat", "Start", "Recreat", "Remov"} {
		if strings.Contains(r.stderr, word) {
			t.Errorf("second up reported %q:\n%s", word, r.stderr)
		}
	}
	if dry := h.mustBerth("-f", file, "up", "-d", "--dry-run"); strings.Contains(dry, ". ") {
		t.Errorf("the plan of a no-op up has steps:\n%s", dry)
	}
}

// TestMalformedFileIsOneLine: a broken Compose file gives exit 1 and one line
// naming the file, and nothing is made.
func TestMalformedFileIsOneLine(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  web:\n    image: busybox\n    ports: 5\n   bad-indent: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.berthIn(dir, "up", "-d")
	if r.code != 1 {
		t.Fatalf("exit code %d, want 1 (stderr %q)", r.code, r.stderr)
	}
	msg := strings.TrimSpace(r.stderr)
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "compose.yaml") {
		t.Errorf("error is not one line naming the file:\n%s", msg)
	}
}

// bridgeOf reads the bridge name of a network from berth's own record.
func (h *harness) bridgeOf(network string) string {
	h.t.Helper()
	var nets []struct{ Options map[string]string } // Docker's document
	if err := json.Unmarshal([]byte(h.mustBerth("network", "inspect", network)), &nets); err != nil || len(nets) != 1 {
		h.t.Fatalf("network inspect %s: %v", network, err)
	}
	return nets[0].Options["com.docker.network.bridge.name"]
}

// TestConcurrentUpsSerialise: two up -d of one project at once both succeed
// and make one set of containers; the project lock serialises them.
func TestConcurrentUpsSerialise(t *testing.T) {
	h := newHarness(t)
	file := filepath.Join(repoRoot, "examples", "hello", "compose.yaml")
	t.Cleanup(func() { h.mustBerth("-f", file, "down", "-v") })
	results := make(chan result, 2)
	for range 2 {
		go func() { results <- h.berth("-f", file, "up", "-d") }()
	}
	for range 2 {
		if r := <-results; r.code != 0 {
			t.Errorf("a concurrent up failed: exit %d: %s", r.code, r.stderr)
		}
	}
	if rows := h.ps(file); len(rows) != 2 {
		t.Fatalf("%d containers after two concurrent ups, want 2: %+v", len(rows), rows)
	}
}

// TestUpSeesEveryChangeOfInput: an up answered from the model cache still
// sees a variable changed in the caller's environment, an edited file and a
// .env created beside it; an unchanged project is a no-op each time.
func TestUpSeesEveryChangeOfInput(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "services:\n  app:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n    init: true\n"+
		"    environment:\n      REV: ${REV:-0}\n  other:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n    init: true\n")
	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.mustBerth("-f", file, "down", "-v") })
	ids := func() map[string]string {
		m := map[string]string{}
		for _, e := range h.ps(file) {
			m[e.Service] = e.ID
		}
		return m
	}
	prev := ids()
	step := func(what string, changed bool) {
		t.Helper()
		h.mustBerth("-f", file, "up", "-d")
		now := ids()
		if (now["app"] != prev["app"]) != changed || now["other"] != prev["other"] {
			t.Errorf("%s: app %s → %s, other %s → %s; want app replaced: %v, other kept",
				what, prev["app"], now["app"], prev["other"], now["other"], changed)
		}
		prev = now
	}
	step("unchanged", false)
	step("unchanged again", false)
	t.Setenv("REV", "1")
	step("REV=1 in the environment", true)
	step("REV=1 unchanged", false)
	t.Setenv("REV", "2")
	step("REV=2 in the environment", true)
	os.Unsetenv("REV")
	write(".env", "REV=3\n")
	step(".env created", true)
	write(".env", "REV=4\n")
	step(".env edited", true)
	write("compose.yaml", strings.Replace(mustRead(t, file), "${REV:-0}", "edited-${REV:-0}", 1))
	step("compose.yaml edited", true)
	step("unchanged at the end", false)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
