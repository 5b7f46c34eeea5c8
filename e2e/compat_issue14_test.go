//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestComposeCompatMore: umask, use_service_name_alias: false,
// aux_addresses, bind.recursive, volume.labels and the non-blocking log
// mode run with Docker's meaning.
func TestComposeCompatMore(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	// A bind source with a sub-mount, to tell the recursion modes apart.
	src := filepath.Join(dir, "src")
	sub := filepath.Join(src, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(sub, "marker"), []byte("in-the-submount"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "compose.yaml")
	bind := func(target, recursive string) string {
		return "      - {type: bind, source: " + src + ", target: " + target + ", read_only: true, bind: {recursive: " + recursive + "}}\n"
	}
	yaml := `services:
  web:
    image: busybox:latest
    init: true
    umask: "0027"
    command: ["sh", "-c", "umask > /tmp/umask; echo hello-from-web > /tmp/index.html; echo logged-line; exec httpd -f -p 8080 -h /tmp"]
    logging:
      options: {mode: non-blocking, max-buffer-size: 1m}
    networks:
      front:
        use_service_name_alias: false
        aliases: [www]
    volumes:
` + bind("/enabled", "enabled") + bind("/disabled", "disabled") + bind("/writable", "writable") + bind("/readonly", "readonly") +
		"      - " + src + ":/default:ro\n" +
		`      - {type: volume, target: /anon, volume: {labels: {org.example.owner: web}}}
  client:
    image: busybox:latest
    init: true
    command: ["sleep", "3600"]
    networks: [front]
networks:
  front:
    enable_ipv4: true
    ipam:
      driver: default
      config:
        - subnet: 10.217.44.0/24
          aux_addresses: {router: 10.217.44.2, nas: 10.217.44.3}
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")

	exec := func(svc, script string) result {
		return h.berth("-f", file, "exec", "-T", svc, "sh", "-c", script)
	}
	if r := exec("web", "cat /tmp/umask"); r.code != 0 || strings.TrimSpace(r.stdout) != "0027" {
		t.Errorf("web's umask: exit %d %q, want 0027", r.code, r.stdout)
	}
	// Aux addresses are never handed out: web and client get .4 and .5.
	for _, svc := range []string{"web", "client"} {
		r := exec(svc, "ip -4 -o addr show eth0")
		if r.code != 0 || strings.Contains(r.stdout, "10.217.44.2/") || strings.Contains(r.stdout, "10.217.44.3/") || !strings.Contains(r.stdout, "10.217.44.") {
			t.Errorf("%s's address: exit %d %q, want one of 10.217.44.0/24 other than the aux addresses", svc, r.code, r.stdout)
		}
	}
	h.eventually("client reaches web by its alias www", 15*time.Second, func() bool {
		r := exec("client", "timeout 3 wget -q -O - http://www:8080/")
		return r.code == 0 && strings.Contains(r.stdout, "hello-from-web")
	})
	if r := exec("client", "timeout 3 wget -q -O - http://web:8080/"); r.code == 0 {
		t.Errorf("client reaches web by its service name with use_service_name_alias: false:\n%s", r.stdout)
	}

	// bind.recursive: enabled (the default) and readonly mount the
	// sub-mount read-only (this kernel is newer than 5.12),
	// writable leaves it writable, disabled does not mount it.
	for target, want := range map[string]string{"/default": "ro", "/enabled": "ro", "/readonly": "ro", "/writable": "rw", "/disabled": "absent"} {
		r := exec("web", "cat "+target+"/sub/marker 2>/dev/null && echo || echo absent; touch "+target+"/sub/x 2>/dev/null && echo rw || echo ro")
		got := strings.Fields(r.stdout)
		switch {
		case want == "absent" && (len(got) < 1 || got[0] != "absent"):
			t.Errorf("%s/sub: %q, want the sub-mount absent", target, r.stdout)
		case want != "absent" && (len(got) != 2 || got[0] != "in-the-submount" || got[1] != want):
			t.Errorf("%s/sub: %q, want the sub-mount %s", target, r.stdout, want)
		}
	}
	if _, err := os.Stat(filepath.Join(sub, "x")); err != nil {
		t.Errorf("the write through the writable mount did not reach the sub-mount: %v", err)
	}

	// The anonymous volume (the only volume of the test's root) carries
	// volume.labels.
	vol := strings.TrimSpace(h.mustBerth("volume", "ls", "-q"))
	if vol == "" || strings.Contains(vol, "\n") {
		t.Fatalf("volumes %q, want the one anonymous volume", vol)
	}
	if out := h.mustBerth("volume", "inspect", vol); !strings.Contains(out, `"org.example.owner": "web"`) {
		t.Errorf("volume %s lacks volume.labels:\n%s", vol, out)
	}
	h.eventually("the non-blocking log holds web's output", 10*time.Second, func() bool {
		return strings.Contains(h.berth("-f", file, "logs", "web").stdout, "logged-line")
	})
}

// TestComposeBuildRunOptions: build.extra_hosts, shm_size and ulimits are
// those of the containers RUN steps run in, and entitlements let a RUN
// step use the host's network.
func TestComposeBuildRunOptions(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	yaml := `services:
  app:
    build:
      context: .
      network: none
      extra_hosts: ["registry.internal=10.1.2.3"]
      shm_size: 32m
      ulimits: {nofile: {soft: 1234, hard: 1234}}
      entitlements: [network.host]
      dockerfile_inline: |
        FROM busybox:latest
        RUN grep registry.internal /etc/hosts > /hosts && df -k /dev/shm | tail -1 > /shm && ulimit -n > /nofile
        RUN --network=host echo host-network > /net
    init: true
    command: ["sleep", "600"]
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v", "--rmi", "local") })
	h.mustBerth("-f", file, "up", "-d")
	r := h.berth("-f", file, "exec", "-T", "app", "cat", "/hosts", "/shm", "/nofile", "/net")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 4 {
		t.Fatalf("app's files: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if f := strings.Fields(lines[0]); len(f) < 2 || f[0] != "10.1.2.3" || f[1] != "registry.internal" {
		t.Errorf("RUN's /etc/hosts line %q, want 10.1.2.3 registry.internal", lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) < 2 || f[1] != "32768" {
		t.Errorf("RUN's /dev/shm: %q, want 32768 KiB", lines[1])
	}
	if lines[2] != "1234" || lines[3] != "host-network" {
		t.Errorf("RUN's nofile %q, want 1234; RUN --network=host wrote %q", lines[2], lines[3])
	}
}

// TestComposeBuildNoCacheFilter: the stages no_cache_filter names are
// built again by every build; the others come from the cache.
func TestComposeBuildNoCacheFilter(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	yaml := `services:
  app:
    build:
      context: .
      network: none
      no_cache_filter: [gen]
      dockerfile_inline: |
        FROM busybox:latest AS kept
        RUN cat /proc/sys/kernel/random/uuid > /kept
        FROM busybox:latest AS gen
        RUN cat /proc/sys/kernel/random/uuid > /gen
        FROM busybox:latest
        COPY --from=kept /kept /kept
        COPY --from=gen /gen /gen
    init: true
    command: ["sleep", "600"]
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v", "--rmi", "local") })
	read := func() []string {
		r := h.berth("-f", file, "exec", "-T", "app", "cat", "/kept", "/gen")
		f := strings.Fields(r.stdout)
		if r.code != 0 || len(f) != 2 {
			t.Fatalf("app's files: exit %d %q %s", r.code, r.stdout, r.stderr)
		}
		return f
	}
	h.mustBerth("-f", file, "up", "-d")
	first := read()
	h.mustBerth("-f", file, "up", "-d", "--build")
	second := read()
	if second[0] != first[0] {
		t.Errorf("stage kept was built again: %s → %s", first[0], second[0])
	}
	if second[1] == first[1] {
		t.Errorf("stage gen came from the cache despite no_cache_filter: %s", second[1])
	}
}

// TestComposeBuildAdditionalContexts: a directory, an image and another
// service's image (built first) as named build contexts.
func TestComposeBuildAdditionalContexts(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	for _, d := range []string{"app", "lib", "shared"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "shared", "greeting.txt"), []byte("from-shared\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "compose.yaml")
	yaml := `services:
  app:
    build:
      context: ./app
      network: none
      additional_contexts:
        shared: ./shared
        base: docker-image://busybox:latest
        lib: service:lib
      dockerfile_inline: |
        FROM base
        COPY --from=shared greeting.txt /greeting.txt
        COPY --from=lib /lib.txt /lib.txt
        RUN --mount=type=bind,from=shared,target=/s cat /s/greeting.txt > /mounted.txt
    init: true
    command: ["sleep", "600"]
  lib:
    build:
      context: ./lib
      network: none
      dockerfile_inline: |
        FROM busybox:latest
        RUN echo from-lib > /lib.txt
    init: true
    command: ["sleep", "600"]
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v", "--rmi", "local") })
	h.mustBerth("-f", file, "up", "-d")
	r := h.berth("-f", file, "exec", "-T", "app", "cat", "/greeting.txt", "/lib.txt", "/mounted.txt")
	if want := "from-shared\nfrom-lib\nfrom-shared\n"; r.code != 0 || r.stdout != want {
		t.Errorf("app's files: exit %d %q, want %q\n%s", r.code, r.stdout, want, r.stderr)
	}
}

// TestUseAPISocketNeedsTheSocket: use_api_socket mounts the engine's
// socket as Docker Compose does; without one at /var/run/docker.sock, up
// fails with one line naming it and leaves nothing.
func TestUseAPISocketNeedsTheSocket(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		t.Skip("this machine has a socket at /var/run/docker.sock")
	}
	h := newHarness(t)
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  tool:\n    image: busybox:latest\n    use_api_socket: true\n    command: [\"true\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	r := h.berth("-f", file, "up", "-d")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if last := lines[len(lines)-1]; r.code != 1 || !strings.Contains(last, "bind source /var/run/docker.sock does not exist") {
		t.Errorf("up: exit %d, last line %q; want exit 1 naming the socket\n%s", r.code, last, r.stderr)
	}
	if ps := h.ps(file, "-a"); len(ps) != 0 {
		t.Errorf("a failed up left containers: %+v", ps)
	}
}

// TestUseAPISocketThroughServe: use_api_socket mounts the engine's socket
// as Docker Compose does, DOCKER_HOST's: with berth serve listening on a
// socket of the test's choosing, the stock docker CLI (bind-mounted into a
// busybox container) reaches the API over /var/run/docker.sock, pings it
// and lists the container it runs in; the docker config's credentials are
// in the container as DOCKER_CONFIG's config.json.
func TestUseAPISocketThroughServe(t *testing.T) {
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("no docker CLI at %s", dockerCLI)
	}
	h := newHarness(t)
	sock := h.serve()
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"auths": {"registry.example:5000": {"auth": "dXNlcjpwYXNz"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `services:
  tool:
    image: busybox:latest
    init: true
    use_api_socket: true
    command: ["sleep", "600"]
    volumes: ["` + dockerCLI + `:/usr/local/bin/docker:ro"]
`
	file, ctr := h.upOne(yaml)
	exec := func(script string) result {
		return h.berth("-f", file, "exec", "-T", "tool", "sh", "-c", script)
	}
	if r := exec("test -S /var/run/docker.sock && echo $DOCKER_CONFIG"); r.code != 0 || strings.TrimSpace(r.stdout) != "/run/secrets/docker" {
		t.Errorf("socket and DOCKER_CONFIG in the container: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	// docker version pings the API (/_ping) before it asks for /version.
	if r := exec("unset DOCKER_HOST; docker version --format '{{.Server.Os}}'"); r.code != 0 || strings.TrimSpace(r.stdout) != "linux" {
		t.Errorf("docker version over the socket: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	if r := exec("docker ps --format '{{.Names}}'"); r.code != 0 || !slices.Contains(strings.Fields(r.stdout), ctr.Name) {
		t.Errorf("docker ps over the socket: exit %d %q, want %s among them\n%s", r.code, r.stdout, ctr.Name, r.stderr)
	}
	if r := exec("cat /run/secrets/docker/config.json"); r.code != 0 || !strings.Contains(r.stdout, "registry.example:5000") {
		t.Errorf("credentials in the container: exit %d %q", r.code, r.stdout)
	}
}

// TestLoggingAttrs: json-file's labels, env and tag options give each
// line the attributes docker logs --details shows, through berth's CLI.
func TestLoggingAttrs(t *testing.T) {
	h := newHarness(t)
	yaml := `services:
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo detailed-line; exec sleep 600"]
    labels: {team: core}
    environment: {APP_ENV: test}
    logging:
      driver: json-file
      options: {labels: team, env: APP_ENV, tag: "{{.Name}}"}
`
	file, ctr := h.upOne(yaml)
	want := "APP_ENV=test,tag=" + ctr.Name + ",team=core detailed-line"
	h.eventually("logs --details shows the attributes", 10*time.Second, func() bool {
		return strings.Contains(h.berth("container", "logs", "--details", ctr.Name).stdout, want)
	})
	if out := h.berth("-f", file, "logs", "--no-log-prefix", "web").stdout; strings.Contains(out, "team=core") {
		t.Errorf("logs without --details shows the attributes:\n%s", out)
	}
}

// TestPreStart: pre_start containers run to completion, in turn, before
// the service starts, with the service's image, environment and named
// volumes; they are removed once done and do not run again while the
// service runs. One that fails keeps the service from starting, with
// Docker Compose's message, and is kept for inspection.
func TestPreStart(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	yaml := `services:
  web:
    image: busybox:latest
    init: true
    environment: {GREETING: hello}
    command: ["sh", "-c", "cat /data/seed > /tmp/seen; exec sleep 600"]
    volumes: [data:/data]
    pre_start:
      - command: ["sh", "-c", "echo \"$$GREETING first\" > /data/seed"]
      - command: ["sh", "-c", "echo second >> /data/seed; echo ran >> /data/runs"]
volumes:
  data: {}
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	if r := h.berth("-f", file, "exec", "-T", "web", "cat", "/tmp/seen"); r.code != 0 || r.stdout != "hello first\nsecond\n" {
		t.Errorf("web saw %q (exit %d), want the hooks' output in order", r.stdout, r.code)
	}
	if ps := h.ps(file, "-a"); len(ps) != 1 {
		t.Errorf("containers after up: %+v, want web's alone", ps)
	}
	// A second up with web running runs no hook.
	h.mustBerth("-f", file, "up", "-d")
	if r := h.berth("-f", file, "exec", "-T", "web", "cat", "/data/runs"); r.stdout != "ran\n" {
		t.Errorf("hooks ran %q times, want once while web runs", r.stdout)
	}

	// A failing hook: web is not started, the hook container is kept. (A
	// running web whose hooks changed keeps running when they fail: the
	// hooks run before its replacement is made.)
	h.mustBerth("-f", file, "down", "-v")
	bad := strings.Replace(yaml, `echo second >> /data/seed; echo ran >> /data/runs`, `exit 3`, 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.berth("-f", file, "up", "-d")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if last := lines[len(lines)-1]; r.code == 0 || !strings.Contains(last, `service "web" pre_start[1] exited with code 3`) {
		t.Errorf("up with a failing hook: exit %d, last line %q\n%s", r.code, last, r.stderr)
	}
	for _, c := range h.ps(file, "-a") {
		if c.Service == "web" && c.State == "running" && !strings.Contains(c.Name, "pre_start") {
			t.Errorf("web runs despite its failed pre_start: %+v", c)
		}
	}
	if out := h.mustBerth("container", "ls", "-a"); !strings.Contains(out, "pre_start-1") {
		t.Errorf("the failed hook container is not kept:\n%s", out)
	}
}

// TestLoggingCompress: json-file's compress gzips the rotated files as
// Docker does (container.log.N.gz), and logs still shows every line, in
// order.
func TestLoggingCompress(t *testing.T) {
	h := newHarness(t)
	yaml := `services:
  chatty:
    image: busybox:latest
    command: ["sh", "-c", "i=0; while [ $$i -lt 200 ]; do echo \"line $$i padding-padding-padding\"; i=$$((i+1)); done"]
    logging:
      driver: json-file
      options: {max-size: 2k, max-file: "20", compress: "true"}
`
	file, ctr := h.upOne(yaml)
	// Exited: the shim has waited for the last compression.
	h.eventually("chatty exits", 20*time.Second, func() bool {
		return h.inspectOne(ctr.Name, "{{.State.Status}}") == "exited"
	})
	logPath := h.inspectOne(ctr.Name, "{{.LogPath}}")
	rotated, _ := filepath.Glob(logPath + ".*")
	if len(rotated) < 3 {
		t.Fatalf("rotated files %q, want several (200 lines of ~80 bytes in files of 2k)", rotated)
	}
	for _, p := range rotated {
		b, err := os.ReadFile(p)
		if !strings.HasSuffix(p, ".gz") || err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: not a gzipped rotated file (%v)", filepath.Base(p), err)
		}
	}
	lines := strings.Split(strings.TrimSpace(h.mustBerth("-f", file, "logs", "--no-log-prefix", "chatty")), "\n")
	if len(lines) != 200 {
		t.Fatalf("logs shows %d lines, want 200", len(lines))
	}
	for i, l := range lines {
		if want := "line " + strconv.Itoa(i) + " padding-padding-padding"; l != want {
			t.Fatalf("logs line %d: %q, want %q", i, l, want)
		}
	}
}

// upOne writes yaml as a Compose file of its own, runs up -d (down -v when
// the test ends) and returns the file and the one container it made.
func (h *harness) upOne(yaml string) (string, psEntry) {
	h.t.Helper()
	file := filepath.Join(h.t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	ps := h.ps(file, "-a")
	if len(ps) != 1 {
		h.t.Fatalf("containers: %+v", ps)
	}
	return file, ps[0]
}
