//go:build e2e

package testcontainers

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// repoRoot is the berth checkout this module sits in.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// requireRoot fails under CI=true without root, else skips.
func requireRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		return
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal("privileged test running without root in CI")
	}
	t.Skip("requires root")
}

// berth runs the built binary on root.
func berth(t *testing.T, bin, root string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"--root", root}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	delay := 10 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(delay)
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// serve starts berth serve on a socket in root and stops it (SIGINT, by
// its PID) when the test ends; the socket's path once it answers.
func serve(t *testing.T, bin, root string) string {
	sock := filepath.Join(root, "run", "docker.sock")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--root", root, "serve", "-H", "unix://"+sock)
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
	})
	eventually(t, "berth serve answers on "+sock, 20*time.Second, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return sock
}

// TestTestcontainersThroughServe: testcontainers-go, pointed at berth
// serve with DOCKER_HOST, starts a container from the local busybox image,
// waits for its log line and its published port on a network it made,
// copies a file in and out, execs in it, lets a peer reach it by its
// network alias and terminates both; nothing is left.
func TestTestcontainersThroughServe(t *testing.T) {
	requireRoot(t)
	bin := os.Getenv("BERTH_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot(t), "bin", "berth")
	}
	root := t.TempDir()
	tarball := filepath.Join(t.TempDir(), "busybox.tar")
	if out, err := exec.Command("sh", filepath.Join(repoRoot(t), "hack", "busybox-rootfs.sh"), tarball).CombinedOutput(); err != nil {
		t.Fatalf("busybox rootfs: %v\n%s", err, out)
	}
	berth(t, bin, root, "image", "import", tarball, "busybox:latest")
	sock := serve(t, bin, root)
	// Ryuk, testcontainers' reaper, needs an image from a registry: the
	// test terminates what it starts itself.
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	t.Cleanup(func() {
		// Whatever a failure left: removed, so that nothing stays behind.
		if out := berth(t, bin, root, "container", "ls", "-aq"); strings.TrimSpace(out) != "" {
			t.Errorf("containers left: %s", out)
			berth(t, bin, root, "container", "rm", "-f", strings.Fields(out)[0])
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	nw, err := tcnetwork.New(ctx)
	if err != nil {
		t.Fatalf("create a network through testcontainers: %v", err)
	}
	defer func() {
		if err := nw.Remove(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("remove the network: %v", err)
		}
	}()
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:          "busybox:latest",
			Cmd:            []string{"sh", "-c", "mkdir -p /www && echo hello-http > /www/index.html && httpd -f -p 8080 -h /www & trap 'kill $!; exit 0' TERM; echo ready; wait"},
			ExposedPorts:   []string{"8080/tcp"},
			Labels:         map[string]string{"e2e": "testcontainers"},
			WaitingFor:     wait.ForAll(wait.ForLog("ready"), wait.ForListeningPort("8080/tcp")),
			Networks:       []string{nw.Name},
			NetworkAliases: map[string][]string{nw.Name: {"web-alias"}},
		},
		Started: true,
	})
	if err != nil {
		t.Fatalf("start a container through testcontainers: %v", err)
	}
	terminated := false
	defer func() {
		if !terminated {
			_ = ctr.Terminate(context.WithoutCancel(ctx))
		}
	}()

	port, err := ctr.MappedPort(ctx, "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://127.0.0.1:" + port.Port() + "/index.html")
	if err != nil {
		t.Fatalf("the published port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello-http\n" {
		t.Fatalf("GET through the published port: %q", body)
	}

	if err := ctr.CopyToContainer(ctx, []byte("copied in\n"), "/tmp/in.txt", 0o600); err != nil {
		t.Fatalf("copy a file in: %v", err)
	}
	code, out, err := ctr.Exec(ctx, []string{"stat", "-c", "%a %n", "/tmp/in.txt"})
	if err != nil || code != 0 {
		t.Fatalf("exec: %d, %v", code, err)
	}
	got, _ := io.ReadAll(out)
	if !bytes.Contains(got, []byte("600 /tmp/in.txt")) {
		t.Fatalf("the copied file: %q", got)
	}
	rc, err := ctr.CopyFileFromContainer(ctx, "/tmp/in.txt")
	if err != nil {
		t.Fatalf("copy the file out: %v", err)
	}
	back, _ := io.ReadAll(rc)
	rc.Close()
	if string(back) != "copied in\n" {
		t.Fatalf("copied out: %q", back)
	}
	logs, err := ctr.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(logs)
	logs.Close()
	if !bytes.Contains(lb, []byte("ready")) {
		t.Fatalf("logs: %q", lb)
	}

	// A peer on the network reaches it by its alias.
	peer, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:      "busybox:latest",
			Cmd:        []string{"sh", "-c", "wget -q -O - http://web-alias:8080/index.html"},
			Networks:   []string{nw.Name},
			WaitingFor: wait.ForExit(),
		},
		Started: true,
	})
	if err != nil {
		t.Fatalf("start a peer on the network: %v", err)
	}
	peerLogs, err := peer.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(peerLogs)
	peerLogs.Close()
	if err := peer.Terminate(ctx); err != nil {
		t.Fatalf("terminate the peer: %v", err)
	}
	if !bytes.Contains(pb, []byte("hello-http")) {
		t.Fatalf("the peer fetching http://web-alias:8080/: %q", pb)
	}

	// The container is berth's own.
	if names := berth(t, bin, root, "container", "ls", "--filter", "label=e2e=testcontainers", "-q"); strings.TrimSpace(names) == "" {
		t.Fatal("berth container ls does not show the testcontainers container")
	}
	if err := ctr.Terminate(ctx); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	terminated = true
	if out := berth(t, bin, root, "container", "ls", "-aq"); strings.TrimSpace(out) != "" {
		t.Fatalf("containers after terminate: %q", out)
	}
}
