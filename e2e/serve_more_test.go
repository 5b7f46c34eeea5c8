//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// apiClient is an HTTP client of the server on sock.
func apiClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

// dockerBackground starts a long-running docker command (events) against
// sock; it is ended (by its PID) when the test ends.
func (h *harness) dockerBackground(sock string, args ...string) *lockedBuffer {
	t := h.t
	out := &lockedBuffer{}
	cmd := exec.Command(dockerCLI, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+t.TempDir())
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return out
}

// TestServeDockerCLICopyEventsStats: through berth serve, docker cp copies
// into and out of running and created containers (never outside them),
// docker top, stats and rename work, and docker events reports what was
// done.
func TestServeDockerCLICopyEventsStats(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	h := newHarness(t)
	sock := h.serve()
	// --since: the server replays what happened since, so the stream
	// misses nothing made before it connected.
	since := strconv.FormatInt(time.Now().Unix()-1, 10)
	evs := h.dockerBackground(sock, "events", "--since", since, "--filter", "type=container", "--format", "{{.Action}} {{.Actor.Attributes.name}}")

	h.mustDocker(sock, "run", "-d", "--name", "cp1", "busybox", "sleep", "60")
	src := filepath.Join(t.TempDir(), "greeting.txt")
	if err := os.WriteFile(src, []byte("hello from the host\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	h.mustDocker(sock, "cp", src, "cp1:/tmp/")
	if out := h.mustDocker(sock, "exec", "cp1", "stat", "-c", "%a %s", "/tmp/greeting.txt"); out != "640 20\n" {
		t.Fatalf("the copied file in the container: %q, want mode 640, 20 bytes", out)
	}
	dst := t.TempDir()
	h.mustDocker(sock, "cp", "cp1:/etc/passwd", filepath.Join(dst, "passwd"))
	if b, err := os.ReadFile(filepath.Join(dst, "passwd")); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Fatalf("copied out /etc/passwd: %q (%v)", b, err)
	}
	h.mustDocker(sock, "cp", "cp1:/etc", filepath.Join(dst, "etc"))
	if _, err := os.Stat(filepath.Join(dst, "etc", "group")); err != nil {
		t.Fatalf("copied out /etc: %v", err)
	}
	// -L through a chain of links (one relative, one through a linked
	// directory): the file at its end.
	h.mustDocker(sock, "exec", "cp1", "sh", "-c", "ln -s /etc /tmp/etcdir && ln -s /tmp/etcdir/passwd /tmp/l1 && ln -s l1 /tmp/l2")
	h.mustDocker(sock, "cp", "-L", "cp1:/tmp/l2", filepath.Join(dst, "followed"))
	if b, err := os.ReadFile(filepath.Join(dst, "followed")); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Fatalf("docker cp -L of a chain of links: %q (%v)", b, err)
	}
	if r := h.docker(sock, "cp", "cp1:/nope", dst); r.code == 0 || !strings.Contains(r.stderr, "Could not find the file /nope") {
		t.Fatalf("docker cp of a missing path: %+v", r)
	}

	// An archive whose entries climb out, and a link pointing out, stay
	// inside the container.
	marker := "berth-e2e-escape-" + h.project
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range []tar.Header{
		{Name: "../../../" + marker, Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
		{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "/"},
		{Name: "out/tmp/" + marker + "-link", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
	} {
		if err := tw.WriteHeader(&e); err != nil {
			t.Fatal(err)
		}
		if e.Size > 0 {
			_, _ = tw.Write([]byte("pwn"))
		}
	}
	tw.Close()
	req, _ := http.NewRequest("PUT", "http://berth/v1.51/containers/cp1/archive?path=/tmp", &tb)
	resp, err := apiClient(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT archive: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/" + marker, "/tmp/" + marker, "/tmp/" + marker + "-link"} {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			t.Fatalf("PUT archive wrote %s on the host", p)
		}
	}
	if out := h.mustDocker(sock, "exec", "cp1", "cat", "/tmp/"+marker, "/tmp/"+marker+"-link"); out != "pwnpwn" {
		t.Fatalf("the climbing entries in the container: %q", out)
	}

	// A created container: copied into its writable layer, seen once it runs.
	h.mustDocker(sock, "create", "--name", "cp0", "busybox", "cat", "/greeting.txt")
	h.mustDocker(sock, "cp", src, "cp0:/")
	if out := h.mustDocker(sock, "start", "-a", "cp0"); out != "hello from the host\n" {
		t.Fatalf("a file copied into a created container: %q", out)
	}
	h.mustDocker(sock, "rm", "cp0")

	if out := h.mustDocker(sock, "top", "cp1"); !strings.Contains(out, "sleep 60") {
		t.Fatalf("docker top: %q", out)
	}
	if out := h.mustDocker(sock, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "cp1"); out != "cp1 1\n" {
		t.Fatalf("docker stats: %q, want cp1 1", out)
	}
	// --rm: removed after its run, by the server (attached) or its shim
	// (detached).
	h.mustDocker(sock, "run", "--rm", "--name", "rm1", "busybox", "true")
	h.mustDocker(sock, "run", "-d", "--rm", "--name", "rm2", "busybox", "true")
	h.mustDocker(sock, "rename", "cp1", "cp2")
	if names := h.ctrNames("-a"); len(names) != 1 || names[0] != "cp2" {
		t.Fatalf("berth container ls after rename: %q", names)
	}
	h.mustDocker(sock, "rm", "-f", "cp2")

	for _, want := range []string{"create cp1", "start cp1", "create cp0", "die cp0", "destroy cp0", "rename cp2", "die cp2", "destroy cp2", "die rm1", "destroy rm1", "die rm2", "destroy rm2"} {
		h.eventually("docker events shows "+want, 20*time.Second, func() bool {
			return strings.Contains(evs.String(), want+"\n")
		})
	}
	h.eventually("no container left", 20*time.Second, func() bool { return len(h.ctrNames("-a")) == 0 })
}

// composePlugin finds the stock docker compose plugin, which is not part
// of berth nor on every machine: "" when there is none.
func composePlugin() string {
	home, _ := os.UserHomeDir()
	for _, p := range []string{
		filepath.Join(home, ".docker", "cli-plugins", "docker-compose"),
		"/usr/local/lib/docker/cli-plugins/docker-compose",
		"/usr/libexec/docker/cli-plugins/docker-compose",
		"/usr/lib/docker/cli-plugins/docker-compose",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// TestServeDockerCompose: the stock docker compose plugin, pointed at
// berth serve, brings the hello example up, lists it, and takes it down
// with its volume; berth sees the same project. It runs only where the
// plugin is installed (it is no part of berth and not on a new machine).
func TestServeDockerCompose(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	plugin := composePlugin()
	if plugin == "" {
		t.Skip("no docker compose plugin installed (~/.docker/cli-plugins/docker-compose): not run")
	}
	h := newHarness(t)
	sock := h.serve()
	cfg := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfg, "cli-plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(plugin, filepath.Join(cfg, "cli-plugins", "docker-compose")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(repoRoot, "examples", "hello", "compose.yaml")
	compose := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, dockerCLI, append([]string{"compose", "-f", file, "-p", h.project}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+cfg)
		began := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("docker compose %s: %s", strings.Join(args, " "), time.Since(began))
		if err != nil {
			t.Fatalf("docker compose %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		if len(h.ctrNames("-a")) > 0 {
			h.berth("-f", file, "down", "-v")
		}
	})

	compose("up", "-d")
	if out := compose("ps", "--format", "{{.Service}} {{.State}}"); out != "client running\nweb running\n" {
		t.Fatalf("docker compose ps: %q", out)
	}
	ps := h.ps(file)
	if len(ps) != 2 || ps[0].State != "running" || ps[1].State != "running" {
		t.Fatalf("berth ps of the project docker compose started: %+v", ps)
	}
	h.eventually("the client fetches the page by service name", 30*time.Second, func() bool {
		return strings.Contains(compose("logs", "client"), "Hello from berth")
	})
	if out := compose("exec", "-T", "web", "cat", "/www/index.html"); !strings.Contains(out, "Hello from berth") {
		t.Fatalf("docker compose exec: %q", out)
	}
	compose("down", "-v")
	if names := h.ctrNames("-a"); len(names) != 0 {
		t.Fatalf("containers after docker compose down: %q", names)
	}
	if vols := strings.TrimSpace(h.mustBerth("volume", "ls", "-q")); vols != "" {
		t.Fatalf("volumes after docker compose down -v: %q", vols)
	}
	h.eventually("no network left", 20*time.Second, func() bool { return len(h.ctrNetworks()) == 0 })
}

// TestServeDockerCLIImagesAndPrune: through berth serve, docker build
// (the classic endpoint) builds with berth's builder, docker save and load
// round-trip an image, docker push sends one to a registry on 127.0.0.1
// and docker pull brings it back, and volume and network prune remove
// what no container uses.
func TestServeDockerCLIImagesAndPrune(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	h := newHarness(t)
	sock := h.serve()

	ctxDir := t.TempDir()
	for name, content := range map[string]string{
		"Dockerfile": "FROM busybox\nARG MSG=unset\nCOPY a.txt /a.txt\nRUN echo \"msg=$MSG\" && cat /a.txt > /b.txt\nCMD [\"cat\", \"/b.txt\"]\n",
		"a.txt":      "content of a\n",
	} {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := h.mustDocker(sock, "build", "-t", "built:1", "--build-arg", "MSG=hello", "--label", "l=v", ctxDir)
	if !strings.Contains(out, "msg=hello\n") || !strings.Contains(out, "Successfully tagged built:1") {
		t.Fatalf("docker build output: %q", out)
	}
	if out := h.mustDocker(sock, "run", "--rm", "built:1"); out != "content of a\n" {
		t.Fatalf("the built image runs: %q", out)
	}
	if out := h.mustDocker(sock, "inspect", "-f", "{{.Config.Labels.l}}", "built:1"); out != "v\n" {
		t.Fatalf("the built image's label: %q", out)
	}
	if out := h.mustDocker(sock, "build", "-t", "built:1", "--build-arg", "MSG=hello", "--label", "l=v", ctxDir); !strings.Contains(out, "Using cache") {
		t.Fatalf("a second build uses the cache: %q", out)
	}
	if r := h.docker(sock, "build", "-f", "nope.Dockerfile", ctxDir); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "nope.Dockerfile") {
		t.Fatalf("docker build with a missing Dockerfile: %+v", r)
	}
	// The RUN containers' options docker build sends reach the builder.
	runDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(runDir, "Dockerfile"), []byte("FROM busybox\n"+
		"RUN grep -w db.internal /etc/hosts && echo nofile=$(ulimit -n) && df -k /dev/shm | tail -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = h.mustDocker(sock, "build", "--no-cache", "--add-host", "db.internal:10.9.8.7", "--ulimit", "nofile=1234:1234",
		"--shm-size", "8m", "-t", "runopts:1", runDir)
	for _, want := range []string{"10.9.8.7", "db.internal", "nofile=1234", " 8192 "} {
		if !strings.Contains(out, want) {
			t.Fatalf("docker build --add-host --ulimit --shm-size: %q lacks %q", out, want)
		}
	}
	if r := h.docker(sock, "build", "--platform", "linux/arm64", runDir); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "linux/arm64") {
		t.Fatalf("docker build --platform linux/arm64: %+v", r)
	}
	h.mustDocker(sock, "rmi", "runopts:1")

	// save, rmi, load: the same image back.
	id := h.mustDocker(sock, "inspect", "-f", "{{.Id}}", "built:1")
	archive := filepath.Join(t.TempDir(), "built.tar")
	h.mustDocker(sock, "save", "-o", archive, "built:1")
	h.mustDocker(sock, "rmi", "built:1")
	if out := h.mustDocker(sock, "load", "-i", archive); !strings.Contains(out, "Loaded image: built:1") {
		t.Fatalf("docker load: %q", out)
	}
	if got := h.mustDocker(sock, "inspect", "-f", "{{.Id}}", "built:1"); got != id {
		t.Fatalf("loaded image %s, saved %s", got, id)
	}

	// push to a registry on 127.0.0.1, then pull it back.
	reg := strings.SplitN(serveRegistry(t, "base"), "/", 2)[0]
	pushed := reg + "/e2e/built:1"
	h.mustDocker(sock, "tag", "built:1", pushed)
	if out := h.mustDocker(sock, "push", pushed); !strings.Contains(out, "1: digest: sha256:") {
		t.Fatalf("docker push: %q", out)
	}
	h.mustDocker(sock, "rmi", pushed, "built:1")
	h.mustDocker(sock, "pull", pushed)
	if out := h.mustDocker(sock, "run", "--rm", pushed); out != "content of a\n" {
		t.Fatalf("the image pulled back runs: %q", out)
	}

	// Prune: what a container uses stays.
	t.Cleanup(func() {
		// What a failure left: removed, so that nothing stays behind.
		h.berth("container", "rm", "-f", "user", "joiner", "runner")
		h.berth("volume", "rm", "used", "unused")
		h.berth("network", "rm", "usednet", "unusednet")
	})
	h.mustDocker(sock, "volume", "create", "unused")
	h.mustDocker(sock, "volume", "create", "used")
	h.mustDocker(sock, "network", "create", "unusednet")
	h.mustDocker(sock, "network", "create", "usednet")
	h.mustDocker(sock, "create", "--name", "user", "-v", "used:/data", "--network", "usednet", "busybox", "true")
	// network connect: a created container gets the network at its start;
	// a running one at once.
	h.mustDocker(sock, "create", "--name", "joiner", "busybox", "sh", "-c", "ip -o -4 addr show | grep -c eth")
	h.mustDocker(sock, "network", "connect", "--alias", "j", "usednet", "joiner")
	if out := h.mustDocker(sock, "start", "-a", "joiner"); out != "2\n" {
		t.Fatalf("a container connected to a second network before its start: %q interfaces", out)
	}
	h.mustDocker(sock, "network", "disconnect", "usednet", "joiner")
	if out := h.mustDocker(sock, "start", "-a", "joiner"); out != "1\n" {
		t.Fatalf("after network disconnect: %q interfaces", out)
	}
	h.mustDocker(sock, "rm", "joiner")
	h.mustDocker(sock, "run", "-d", "--name", "runner", "busybox", "sleep", "60")
	h.mustDocker(sock, "network", "connect", "usednet", "runner")
	if out := h.mustDocker(sock, "exec", "runner", "sh", "-c", "ip -o -4 addr show | grep -c eth"); out != "2\n" {
		t.Fatalf("a running container connected to a second network: %q interfaces", out)
	}
	h.mustDocker(sock, "network", "disconnect", "usednet", "runner")
	h.mustDocker(sock, "rm", "-f", "runner")
	lines := func(out string) []string { return strings.Fields(out) }
	if out := lines(h.mustDocker(sock, "volume", "prune", "-af")); !slices.Contains(out, "unused") || slices.Contains(out, "used") {
		t.Fatalf("docker volume prune: %q", out)
	}
	if out := h.mustDocker(sock, "volume", "ls", "-q"); out != "used\n" {
		t.Fatalf("volumes after prune: %q", out)
	}
	if out := lines(h.mustDocker(sock, "network", "prune", "-f")); !slices.Contains(out, "unusednet") || slices.Contains(out, "usednet") {
		t.Fatalf("docker network prune: %q", out)
	}
	if out := lines(h.mustDocker(sock, "network", "ls", "--format", "{{.Name}}")); !slices.Contains(out, "usednet") || slices.Contains(out, "unusednet") {
		t.Fatalf("networks after prune: %q", out)
	}
	h.mustDocker(sock, "rm", "user")
	h.mustDocker(sock, "volume", "rm", "used")
	h.mustDocker(sock, "network", "rm", "usednet")
	h.eventually("no container or network left", 20*time.Second, func() bool {
		return len(h.ctrNames("-a")) == 0 && len(h.ctrNetworks()) == 0
	})
}
