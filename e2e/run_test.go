//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
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

// httpGet fetches / from 127.0.0.1:port, "" when nothing answers.
func httpGet(port string) string { return ctrHTTPGet("127.0.0.1:" + port) }

// TestRunOneOffOptions: a one-off of a service publishes the service's ports
// only with --service-ports, publishes -p's, answers to the service's name
// only with --use-aliases, and gets the caller's stdin (-i, the default).
func TestRunOneOffOptions(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	webPort, pPort := unusedPort(t, "tcp"), unusedPort(t, "tcp")
	t.Setenv("WEB_PORT", webPort)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })

	// Plain: no port, no alias.
	plain := strings.TrimSpace(h.mustBerth("-f", file, "run", "-d", "web"))
	if id := h.ctrInspectID(plain); len(plain) != 64 || id != plain {
		t.Errorf("run -d printed %q, want the container's ID (inspect: %q)", plain, id)
	}
	time.Sleep(300 * time.Millisecond)
	if got := httpGet(webPort); got != "" {
		t.Errorf("a one-off without --service-ports serves the service's port: %q", got)
	}
	if r := h.berth("-f", file, "run", "--rm", "tool", "nslookup", "web"); r.code == 0 {
		t.Errorf("a one-off without --use-aliases answers to the service's name:\n%s", r.stdout)
	}
	h.mustBerth("container", "rm", "-f", plain)

	h.mustBerth("-f", file, "run", "-d", "--service-ports", "--use-aliases", "web")
	h.eventually("--service-ports publishes the service's port", 10*time.Second, func() bool {
		return strings.Contains(httpGet(webPort), "served")
	})
	if r := h.berth("-f", file, "run", "--rm", "tool", "nslookup", "web"); r.code != 0 {
		t.Errorf("a one-off with --use-aliases does not answer to the service's name: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	h.mustBerth("-f", file, "run", "-d", "-p", "127.0.0.1:"+pPort+":8080", "web")
	h.eventually("-p publishes its port", 10*time.Second, func() bool {
		return strings.Contains(httpGet(pPort), "served")
	})

	// Stdin reaches the command, which sees EOF when it ends.
	// Bounded: without stdin's EOF the command would wait for ever.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, "--root", h.root, "-f", file, "run", "--rm", "-T", "tool", "sh", "-c", "tr a-z A-Z; echo done")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) } // berth stops and removes the container
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
	cmd.Stdin = strings.NewReader("piped in\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run with stdin: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PIPED IN") || !strings.Contains(string(out), "done") {
		t.Errorf("run's output %q: want stdin upper-cased, then done", out)
	}

	h.mustBerth("-f", file, "down", "-v")
	if rows := h.ps(file, "-a"); len(rows) != 0 {
		t.Errorf("down left one-off containers: %+v", rows)
	}
}

// TestUpWatchStreamsLogs: `up --watch` in the foreground streams the
// services' logs, those of a container an edit recreates included, and
// Ctrl-C stops the project with exit code 130.
func TestUpWatchStreamsLogs(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	write := func(color string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(strings.Replace(watchBase, "%s", color, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("red")
	t.Cleanup(func() { h.berthIn(t.TempDir(), "-p", h.project, "down", "-v") })

	up := exec.Command(berthBin, "--root", h.root, "-f", file, "up", "--watch")
	up.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
	var stderr bytes.Buffer
	up.Stderr = &stderr
	stdout, err := up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	done := make(chan error, 1)
	go func() { <-copied; done <- up.Wait() }()
	t.Cleanup(func() {
		if up.ProcessState == nil {
			_ = up.Process.Kill()
			<-done
		}
	})
	shown := func(want string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, l := range lines {
				if strings.HasPrefix(l, "app-1") && strings.HasSuffix(l, want) {
					return true
				}
			}
			return false
		}
	}
	h.eventually("up --watch shows app's first log line", 20*time.Second, shown("| color=red"))
	write("blue")
	h.eventually("the recreated container's log line follows", 20*time.Second, shown("| color=blue"))

	_ = up.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Errorf("up --watch after Ctrl-C: %v, want exit code 130\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("up --watch did not end after Ctrl-C\nstderr:\n%s", stderr.String())
	}
	for _, r := range h.ps(file, "-a") {
		if r.State == "running" {
			t.Errorf("after Ctrl-C %s is still running", r.Name)
		}
	}
}

// TestRunAttachesTerminal: `run` from a terminal gives the container one
// (the caller's keystrokes reach it, raw) and returns its exit code.
func TestRunAttachesTerminal(t *testing.T) {
	h := newHarness(t)
	file := filepath.Join(repoRoot, "e2e", "testdata", "TestRunOneOffOptions", "compose.yaml")
	t.Setenv("WEB_PORT", unusedPort(t, "tcp"))
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	// Typed once the shell has printed its terminal: it reads next.
	out, code := h.ctrInTerminal(t, "/dev/pts/", "typed\r", "-f", file, "run", "--rm", "tool",
		"sh", "-c", "tty; read line; echo got:$line; exit 3")
	if code != 3 {
		t.Fatalf("run in a terminal: exit %d, want 3\n%s", code, out)
	}
	if !strings.Contains(out, "got:typed") {
		t.Errorf("run's terminal output %q: want the typed line", out)
	}
}

// TestNetworkModeBridge: `network_mode: bridge` joins the engine's default
// network (Docker's default bridge), publishes ports there, and the
// network goes with the project's last container.
func TestNetworkModeBridge(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	port := unusedPort(t, "tcp")
	compose := fmt.Sprintf(`services:
  web:
    image: busybox:latest
    init: true
    network_mode: bridge
    ports: ["127.0.0.1:%s:8080"]
    command: ["sh", "-c", "mkdir -p /www && echo bridged > /www/index.html && exec httpd -f -p 8080 -h /www"]
`, port)
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	h.eventually("the service on the default bridge serves its published port", 10*time.Second, func() bool {
		return strings.Contains(httpGet(port), "bridged")
	})
	if out := h.mustBerth("network", "ls"); !strings.Contains(out, "bridge") {
		t.Errorf("network ls lacks the default bridge:\n%s", out)
	}
	h.mustBerth("-f", file, "down", "-v")
	if out := h.mustBerth("network", "ls"); len(strings.Split(strings.TrimSpace(out), "\n")) != 1 {
		t.Errorf("down left networks:\n%s", out)
	}
}
