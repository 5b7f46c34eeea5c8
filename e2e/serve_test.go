//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerCLI is the stock docker client the API server is driven with.
const dockerCLI = "/usr/local/bin/docker"

// serve starts `berth serve` on a socket in the test's root and stops it
// (SIGINT) when the test ends (unless the test ended it first); it
// returns the socket's path once the server answers.
func (h *harness) serve() string {
	h.t.Helper()
	sock, _ := h.serveProc()
	return sock
}

// serveProc is serve, with the server's process.
func (h *harness) serveProc() (string, *os.Process) {
	t := h.t
	t.Helper()
	sock := filepath.Join(h.root, "run", "docker.sock")
	var stderr bytes.Buffer
	cmd := exec.Command(berthBin, "--root", h.root, "serve", "-H", "unix://"+sock)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("berth serve did not stop on SIGINT:\n%s", stderr.String())
		}
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("socket %s left behind (%v)", sock, err)
		}
	})
	h.eventually("berth serve answers on "+sock, 20*time.Second, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return sock, cmd.Process
}

// docker runs the docker CLI against the socket.
func (h *harness) docker(sock string, args ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.t.Context()), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+h.t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (h *harness) mustDocker(sock string, args ...string) string {
	h.t.Helper()
	r := h.docker(sock, args...)
	if r.code != 0 {
		h.t.Fatalf("docker %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// TestServeDockerCLI: the stock docker CLI, pointed at `berth serve`,
// runs, lists, execs in, inspects and removes containers, and manages
// networks, volumes and images; what it makes is berth's own.
func TestServeDockerCLI(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	h := newHarness(t)
	sock := h.serve()
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %s: %v, mode %v; want 0660", sock, err, fi.Mode().Perm())
	}

	// run --rm in the foreground: output and exit code, nothing left.
	if out := h.mustDocker(sock, "run", "--rm", "busybox", "echo", "hi"); out != "hi\n" {
		t.Fatalf("docker run --rm: %q, want hi", out)
	}
	if r := h.docker(sock, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"); r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("docker run exit 3: %+v", r)
	}
	h.eventually("run --rm containers removed", 20*time.Second, func() bool { return len(h.ctrNames("-a")) == 0 })

	// A detached container, seen by docker and by berth alike.
	id := strings.TrimSpace(h.mustDocker(sock, "run", "-d", "--name", "x", "--label", "owner=e2e", "busybox", "sh", "-c", "echo started; exec sleep 60"))
	if len(id) != 64 {
		t.Fatalf("docker run -d printed %q, want an ID", id)
	}
	if got := h.mustDocker(sock, "ps", "--filter", "label=owner=e2e", "--format", "{{.Names}} {{.State}}"); got != "x running\n" {
		t.Fatalf("docker ps: %q", got)
	}
	if names := h.ctrNames(); !slices.Equal(names, []string{"x"}) {
		t.Fatalf("berth container ls: %q, want [x]", names)
	}
	h.eventually("docker logs shows the output", 10*time.Second, func() bool {
		return h.mustDocker(sock, "logs", "x") == "started\n"
	})
	if out := h.mustDocker(sock, "exec", "x", "echo", "from-exec"); out != "from-exec\n" {
		t.Fatalf("docker exec: %q", out)
	}
	if r := h.docker(sock, "exec", "x", "sh", "-c", "exit 7"); r.code != 7 {
		t.Fatalf("docker exec exit 7: %+v", r)
	}
	if out := h.mustDocker(sock, "inspect", "-f", "{{.State.Running}}", "x"); out != "true\n" {
		t.Fatalf("docker inspect: %q", out)
	}
	h.mustDocker(sock, "rm", "-f", "x")
	if r := h.docker(sock, "inspect", "x"); r.code == 0 || !strings.Contains(r.stderr, "No such") {
		t.Fatalf("docker inspect after rm: %+v", r)
	}

	// Networks and volumes.
	h.mustDocker(sock, "network", "create", "--label", "k=v", "e2enet")
	if out := h.mustDocker(sock, "network", "ls", "--format", "{{.Name}}"); !strings.Contains(out, "e2enet\n") {
		t.Fatalf("docker network ls: %q", out)
	}
	if out := h.mustDocker(sock, "run", "--rm", "--network", "e2enet", "busybox", "sh", "-c", "ip -o -4 addr show eth0 | wc -l"); strings.TrimSpace(out) != "1" {
		t.Fatalf("a container on e2enet: %q", out)
	}
	h.eventually("the container on e2enet is removed", 20*time.Second, func() bool { return len(h.ctrNames("-a")) == 0 })
	h.mustDocker(sock, "network", "rm", "e2enet")
	h.mustDocker(sock, "volume", "create", "e2evol")
	if out := h.mustDocker(sock, "volume", "ls", "--format", "{{.Name}}"); out != "e2evol\n" {
		t.Fatalf("docker volume ls: %q", out)
	}
	if out := h.mustBerth("volume", "ls", "-q"); strings.TrimSpace(out) != "e2evol" {
		t.Fatalf("berth volume ls: %q", out)
	}
	h.mustDocker(sock, "volume", "rm", "e2evol")

	// Images.
	if out := h.mustDocker(sock, "images", "--format", "{{.Repository}}:{{.Tag}}"); out != "busybox:latest\n" {
		t.Fatalf("docker images: %q", out)
	}
	h.mustDocker(sock, "tag", "busybox", "e2ebox:1")
	h.mustDocker(sock, "rmi", "e2ebox:1")

	// Bad input: 400 and nothing made.
	resp, err := apiClient(sock).Post("http://berth/v1.51/containers/create?name=bad", "application/json", strings.NewReader(`{"Image": "busybox", "Cmd": `))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed JSON: %d, want 400", resp.StatusCode)
	}
	// (Processes are checked once the server, which names the root, stops.)
	h.eventually("no container or network left", 20*time.Second, func() bool {
		return len(h.ctrNames("-a")) == 0 && len(h.ctrNetworks()) == 0
	})
}
