//go:build e2e

package e2e

import (
	"bytes"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// secretsNowhere fails the test if any file under the state root holds
// one of the values (layers, cache entries, image configs and history).
func (h *harness) secretsNowhere(values ...string) {
	h.t.Helper()
	err := filepath.WalkDir(h.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, v := range values {
			if bytes.Contains(data, []byte(v)) {
				h.t.Errorf("%s holds a secret", strings.TrimPrefix(p, h.root+"/"))
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// TestImageBuildSecretsAndMounts: --secret from a file and from a variable
// is readable in RUN and nowhere in the image or the state root; a cache
// mount keeps its content between builds; a bind mount reads the context.
func TestImageBuildSecretsAndMounts(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	const fileSecret, envSecret = "file-secret-4f2a9c", "env-secret-8b1e77"
	files := map[string]string{
		"token.txt": fileSecret,
		"src/a":     "from-context\n",
		"Dockerfile": "FROM busybox\n" +
			"RUN --mount=type=secret,id=token,required --mount=type=secret,id=env,env=ENVSECRET,required" +
			" test \"$(sha256sum /run/secrets/token | cut -d' ' -f1)\" = 01f35d868b3420709a9a045086166a22f2c94edf210b3a211b1a17447a5b246f" +
			" && test \"$(printf %s \"$ENVSECRET\" | sha256sum | cut -d' ' -f1)\" = d97579871a6ebba20162caee9c61aa3362458f3167926481504090cd74b69668 && echo ok > /ok\n" +
			"RUN --mount=type=cache,target=/cache echo run >> /cache/runs && cp /cache/runs /runs\n" +
			"RUN --mount=type=bind,source=src,target=/s cp /s/a /a\n",
	}
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("E2E_ENV_SECRET", envSecret)
	build := func(extra ...string) {
		t.Helper()
		args := append([]string{"image", "build", "--network", "none", "-t", "sec:1",
			"--secret", "id=token,src=" + filepath.Join(dir, "token.txt"), "--secret", "id=env,env=E2E_ENV_SECRET"}, extra...)
		h.mustBerth(append(args, dir)...)
	}
	build()
	build("--no-cache")
	t.Cleanup(func() { h.berth("image", "rm", "sec:1") })
	if out := h.mustBerth("container", "run", "--rm", "sec:1", "cat", "/ok", "/runs", "/a"); out != "ok\nrun\nrun\nfrom-context\n" {
		t.Errorf("the image holds %q, want ok, two runs of the cache and the context's file", out)
	}
	if r := h.berth("container", "run", "--rm", "sec:1", "ls", "/run/secrets", "/cache", "/s"); r.code == 0 {
		t.Errorf("mount points are in the image: %s", r.stdout)
	}
	saved := filepath.Join(t.TempDir(), "sec.tar")
	h.mustBerth("image", "save", "-o", saved, "sec:1")
	if data, err := os.ReadFile(saved); err != nil || bytes.Contains(data, []byte(fileSecret)) || bytes.Contains(data, []byte(envSecret)) {
		t.Errorf("image save holds a secret (read error %v)", err)
	}
	h.secretsNowhere(fileSecret, envSecret)
}

// TestImageBuildMountErrors: bad --mount and --secret input is one line
// naming where the problem is, exit 1.
func TestImageBuildMountErrors(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, dockerfile string
		args             []string
		want             string
	}{
		{name: "unknown mount type", dockerfile: "FROM busybox\nRUN --mount=type=nfs,target=/x true\n",
			want: `Dockerfile:2: --mount: unsupported mount type "nfs"`},
		{name: "required secret missing", dockerfile: "FROM busybox\nRUN --mount=type=secret,id=tok,required true\n",
			want: "Dockerfile:2: --mount=type=secret,id=tok: the secret is required but was not given (--secret id=tok,src=PATH)"},
		{name: "bind from a stage that does not exist", dockerfile: "FROM busybox\nRUN --mount=type=bind,from=nosuch,target=/x true\n",
			want: "Dockerfile:2: --mount=type=bind,from=nosuch: no stage of that name, and not an image"},
		{name: "secret file missing", dockerfile: "FROM busybox\n", args: []string{"--secret", "id=tok,src=/nonexistent/tok"},
			want: `--secret "id=tok,src=/nonexistent/tok": /nonexistent/tok is not a file`},
		{name: "unknown network", dockerfile: "FROM busybox\n", args: []string{"--network", "bridge0"},
			want: "--network=bridge0: want default, none or host"},
		{name: "unknown entitlement", dockerfile: "FROM busybox\n", args: []string{"--allow", "device"},
			want: "--allow=device: want network.host or security.insecure"},
		{name: "ssh agent that is not a socket", dockerfile: "FROM busybox\n", args: []string{"--ssh", "default=/etc/hostname"},
			want: `--ssh "default=/etc/hostname": /etc/hostname is not an agent socket (key files are not supported)`},
		{name: "network host without the entitlement", dockerfile: "FROM busybox\nRUN --network=host true\n",
			want: "Dockerfile:2: RUN --network=host needs the network.host entitlement: build with --network host or --allow network.host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(tc.dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			r := h.berth(append(append([]string{"image", "build", "--progress", "quiet", "--network", "none"}, tc.args...), dir)...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and one line with %s", r.code, r.stderr, tc.want)
			}
		})
	}
}

// TestComposeBuildSecrets: build.secrets from a file and from the
// environment reach RUN --mount=type=secret, and neither is in the image;
// build.ssh: [default] forwards SSH_AUTH_SOCK's agent.
func TestComposeBuildSecrets(t *testing.T) {
	h := newHarness(t)
	dir := copyDir(t, filepath.Join(repoRoot, "e2e", "testdata", t.Name()))
	file := filepath.Join(dir, "compose.yaml")
	t.Setenv("E2E_NPM_TOKEN", "env-secret-8b1e77")
	agent, err := net.Listen("unix", filepath.Join(t.TempDir(), "agent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	t.Setenv("SSH_AUTH_SOCK", agent.Addr().String())
	t.Cleanup(func() { h.berth("-f", file, "down", "--rmi", "local") })
	h.mustBerth("-f", file, "build")
	if out := h.mustBerth("container", "run", "--rm", h.project+"-app", "cat", "/ok"); out != "ok\n" {
		t.Errorf("the image's /ok: %q", out)
	}
	h.secretsNowhere("file-secret-4f2a9c", "env-secret-8b1e77")
}

// TestImageBuildRunFlags: docker build's flags for RUN containers reach
// them: --add-host in /etc/hosts, --ulimit in ulimit -n, --memory in the
// step's memory cgroup, --shm-size on /dev/shm; --platform takes the
// host's and refuses another, as FROM --platform does, before anything
// is built.
func TestImageBuildRunFlags(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	write := func(df string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("FROM --platform=$BUILDPLATFORM busybox\n" +
		"RUN grep db.example /etc/hosts > /hosts; ulimit -n > /nofile;" +
		" cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /mem; df -k /dev/shm | tail -1 | awk '{print $2}' > /shm\n")
	h.mustBerth("image", "build", "--network", "none", "-t", "flags:1", "--platform", "linux/amd64",
		"--add-host", "db.example:10.1.2.3", "--ulimit", "nofile=1234:1234", "-m", "64m", "--shm-size", "8m",
		"--rm", "--force-rm", "--compress", "--isolation", "default", "--security-opt", "no-new-privileges", dir)
	t.Cleanup(func() { h.berth("image", "rm", "flags:1") })
	got := strings.Fields(h.mustBerth("container", "run", "--rm", "flags:1", "cat", "/hosts", "/nofile", "/mem", "/shm"))
	if want := []string{"10.1.2.3", "db.example", "1234", "67108864", "8192"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the RUN step saw %q, want %q (hosts entry, open files, memory limit, /dev/shm KiB)", got, want)
	}
	if out := h.mustBerth("container", "run", "--rm", "flags:1", "cat", "/etc/hosts"); strings.Contains(out, "db.example") {
		t.Errorf("--add-host reached the image's own /etc/hosts:\n%s", out)
	}

	before := h.mustBerth("image", "inspect", "flags:1")
	write("FROM busybox\nRUN echo built > /x\n")
	oneLineError(t, h.berth("image", "build", "-t", "flags:1", "--platform", "linux/arm64", dir),
		"--platform of another architecture", `platform "linux/arm64": not this host's platform (linux/amd64)`)
	oneLineError(t, h.berth("image", "build", "-t", "flags:1", "--platform", "windows/amd64", dir),
		"--platform of another OS", `not this host's platform`)
	write("FROM --platform=linux/arm64 busybox\nRUN echo built > /x\n")
	oneLineError(t, h.berth("image", "build", "-t", "flags:1", dir),
		"FROM --platform of another architecture", "Dockerfile:1: FROM --platform=linux/arm64: not this host's platform")
	oneLineError(t, h.berth("image", "build", "-t", "flags:1", "--security-opt", "bogus", dir),
		"an unknown --security-opt", `security_opt "bogus": not supported`)
	oneLineError(t, h.berth("image", "build", "-t", "flags:1", "--cache-from", "type=registry,ref=x", dir),
		"--cache-from", "--cache-from type=registry,ref=x: berth's builder imports no external build cache")
	if after := h.mustBerth("image", "inspect", "flags:1"); after != before {
		t.Errorf("a refused build moved flags:1")
	}
}

// TestImageBuildSquash: --squash makes the image's new layers one over
// busybox's, which runs with what the steps left.
func TestImageBuildSquash(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN echo a > /a && echo b > /b\nRUN rm /a /bin/ls\nCOPY Dockerfile /df\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustBerth("image", "build", "--squash", "--network", "none", "-t", "squashed:1", dir)
	t.Cleanup(func() { h.berth("image", "rm", "squashed:1") })
	base := strings.TrimSpace(h.mustBerth("image", "inspect", "--format", "{{len .RootFS.Layers}}", "busybox"))
	if got := strings.TrimSpace(h.mustBerth("image", "inspect", "--format", "{{len .RootFS.Layers}}", "squashed:1")); got != strconv.Itoa(atoi(t, base)+1) {
		t.Errorf("squashed image has %s layers, busybox %s: want one more", got, base)
	}
	if out := h.mustBerth("container", "run", "--rm", "squashed:1", "sh", "-c", "cat /b; test -e /a || echo no-a; test -e /bin/ls || echo no-ls; head -1 /df"); out != "b\nno-a\nno-ls\nFROM busybox\n" {
		t.Errorf("the squashed image shows %q", out)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}
