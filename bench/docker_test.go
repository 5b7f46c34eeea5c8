package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dockerLabelProject is the label Docker Compose (v1 and v2) puts on what it makes.
const dockerLabelProject = "com.docker.compose.project"

// setupDocker is Docker Compose on a private dockerd (startDockerd).
func setupDocker(b *testing.B, work, rootfs string) (*tool, error) {
	ctx := b.Context()
	t, cli, err := startDockerd(b, work, rootfs)
	if err != nil {
		return nil, err
	}
	compose, composeVersion, err := dockerCompose(ctx, t, cli)
	if err != nil {
		return nil, err
	}
	if major(composeVersion) < 2 {
		t.notes = append(t.notes, fmt.Sprintf("Docker Compose %s (v1) was measured: no Docker Compose v2 or later "+
			"is installed here (see bench/README.md)", composeVersion))
	}
	t.version = fmt.Sprintf("%s %s on %s",
		strings.Join(append([]string{filepath.Base(compose[0])}, compose[1:]...), " "), composeVersion, t.version)
	t.argv = func(file, project string, args ...string) []string {
		v := append([]string{}, compose...)
		v = append(v, "-f", file, "-p", project)
		return append(v, args...)
	}
	filter := func(project string) string { return "label=" + dockerLabelProject + "=" + project }
	t.containers = func(ctx context.Context, _, project string) ([]container, error) {
		out, err := output(ctx, work, t.env, cli, "ps", "-a", "--filter", filter(project),
			"--format", `{{.ID}}	{{.Names}}	{{.Label "com.docker.compose.service"}}	{{.State}}`)
		if err != nil {
			return nil, err
		}
		var cs []container
		for _, line := range nonEmptyLines(out) {
			f := strings.Split(line, "\t")
			if len(f) != 4 {
				return nil, fmt.Errorf("docker ps: unexpected line %q", line)
			}
			cs = append(cs, container{ID: f[0], Name: f[1], Service: f[2], State: f[3]})
		}
		return cs, nil
	}
	t.leftovers = func(ctx context.Context, _, project string) ([]string, error) {
		var left []string
		for _, what := range [][]string{
			{"container", "ls", "-a", "--format", "{{.Names}}"},
			{"volume", "ls", "--format", "{{.Name}}"},
			{"network", "ls", "--format", "{{.Name}}"},
		} {
			argv := append([]string{cli}, what...)
			argv = append(argv, "--filter", filter(project))
			out, err := output(ctx, work, t.env, argv...)
			if err != nil {
				return nil, err
			}
			for _, name := range nonEmptyLines(out) {
				left = append(left, what[0]+" "+name)
			}
		}
		return left, nil
	}
	return t, nil
}

// startDockerd starts a private dockerd under work, with no NAT, no
// forwarding, no firewall rules and no default bridge, imports the busybox
// image into it, and registers its teardown: SIGTERM by PID, mounts and
// directories removed. It returns the tool with its environment (DOCKER_HOST)
// and the docker client of the package that brought dockerd.
func startDockerd(b *testing.B, work, rootfs string) (*tool, string, error) {
	ctx := b.Context()
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, "", fmt.Errorf("dockerd not installed (apt-get install docker.io): %w", errUnavailable)
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		return nil, "", fmt.Errorf("containerd not installed (apt-get install docker.io): %w", errUnavailable)
	}
	// The client of the package that brought dockerd, if there is one: a
	// docker elsewhere on PATH may be of another version.
	cli := filepath.Join(filepath.Dir(filepath.Dir(dockerd)), "bin", "docker")
	if _, err := os.Stat(cli); err != nil {
		if cli, err = exec.LookPath("docker"); err != nil {
			return nil, "", fmt.Errorf("docker client not installed (apt-get install docker.io): %w", errUnavailable)
		}
	}
	// dockerd runs in a network namespace of its own (unshare -n), where
	// forwarding is off and there is no way out: without its firewall
	// rules Docker cannot cut an internal network off, and the host's
	// forwarding may be on for other reasons.
	var netns []string
	if u, err := exec.LookPath("unshare"); err == nil {
		netns = []string{u, "--net", "--"}
	} else {
		forwarding, err := ipForwardOn()
		if err != nil {
			return nil, "", err
		}
		if forwarding {
			return nil, "", fmt.Errorf("net.ipv4.ip_forward is 1 and there is no unshare to give dockerd a network "+
				"namespace of its own: with --iptables=false its containers would have a path out: %w", errUnavailable)
		}
	}
	nofile, err := hardLimit(unix.RLIMIT_NOFILE)
	if err != nil {
		return nil, "", err
	}

	// Teardown runs in reverse: daemon, then its directory, then what it
	// made outside it.
	err = trackFootprint(b, work, []footprintPath{
		{Path: "/etc/docker/key.json", Private: true}, // dockerd 20.10's trust key
		{Path: "/run/docker"},                         // plugins directory
		{Path: "/run/containerd"},                     // shim sockets
	}, nil)
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, "", err
	}
	b.Cleanup(func() {
		if err := removeTree(work); err != nil {
			b.Errorf("docker: remove %s: %v", work, err)
		}
	})

	sock := filepath.Join(work, "docker.sock")
	logf, err := os.Create(filepath.Join(work, "dockerd.log"))
	if err != nil {
		return nil, "", err
	}
	defer logf.Close()
	args := append(netns, dockerd,
		"--data-root", filepath.Join(work, "data"),
		"--exec-root", filepath.Join(work, "exec"),
		"--pidfile", filepath.Join(work, "dockerd.pid"),
		"-H", "unix://"+sock,
		"--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
		"--default-ulimit", fmt.Sprintf("nofile=%d:%d", nofile, nofile),
		"--default-runtime", "runc",
		"--containerd-namespace", "berth-bench",
		"--containerd-plugins-namespace", "berth-bench-plugins",
	)
	// unshare execs dockerd: the PID is dockerd's.
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start dockerd: %v: %w", err, errUnavailable)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // its exit status says nothing once we sent SIGTERM
		close(exited)
	}()
	b.Logf("docker: dockerd started, pid %d, log %s", cmd.Process.Pid, logf.Name())
	b.Cleanup(func() {
		if err := stopDaemon(cmd.Process, exited, filepath.Join(work, "exec", "containerd", "containerd.pid")); err != nil {
			b.Errorf("docker: stop dockerd: %v", err)
		}
	})

	t := &tool{
		name: "docker",
		work: work,
		env:  []string{"DOCKER_HOST=unix://" + sock},
		cli:  []string{cli},
	}
	if err := waitDockerd(ctx, t, cli, exited); err != nil {
		log, _ := os.ReadFile(logf.Name())
		return nil, "", fmt.Errorf("dockerd did not come up: %v\n%s: %w", err, tail(log, 1500), errUnavailable)
	}

	engineVersion, _ := output(ctx, work, t.env, cli, "version", "--format", "{{.Server.Version}}")
	t.version = fmt.Sprintf("Docker Engine %s (runc)", engineVersion)
	if _, out, err := t.run(ctx, cli, "import", rootfs, "busybox:latest"); err != nil {
		return nil, "", fmt.Errorf("docker import: %v: %s", err, out)
	}
	return t, cli, nil
}

// dockerCompose finds Docker Compose, v2 or later first: the docker CLI
// plugin, or a docker-compose program that reports v2+. Only when there is
// none does it fall back to v1 (Debian's docker-compose, in Python).
func dockerCompose(ctx context.Context, t *tool, cli string) ([]string, string, error) {
	var found [][]string
	if _, err := output(ctx, t.work, t.env, cli, "compose", "version", "--short"); err == nil {
		found = append(found, []string{cli, "compose"})
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		found = append(found, []string{p})
	}
	var v1, v1Version []string
	for _, c := range found {
		v, err := output(ctx, t.work, t.env, append(slices.Clone(c), "version", "--short")...)
		if err != nil {
			continue
		}
		if major(v) >= 2 {
			return c, v, nil
		}
		if v1 == nil {
			v1, v1Version = c, []string{v}
		}
	}
	if v1 != nil {
		return v1, v1Version[0], nil
	}
	return nil, "", fmt.Errorf("neither the docker compose plugin nor docker-compose is installed "+
		"(see bench/README.md for v2; apt-get install docker-compose for v1): %w", errUnavailable)
}

// major is the major version of "v2.27.0", "2.27.0" or "1.29.2"; 0 if
// there is none.
func major(version string) int {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	m, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(m)
	if err != nil {
		return 0
	}
	return n
}

// waitDockerd waits until the daemon answers, it exits, or a minute passes.
func waitDockerd(ctx context.Context, t *tool, cli string, exited <-chan struct{}) error {
	deadline := time.Now().Add(time.Minute)
	for {
		_, _, err := t.run(ctx, cli, "version", "--format", "{{.Server.Version}}")
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("dockerd exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}

// stopDaemon stops a daemon we started: SIGTERM, up to a minute's wait,
// then SIGKILL. A dockerd that had to be killed leaves its containerd, which
// goes the same way, by the PID in its pid file.
func stopDaemon(p *os.Process, exited <-chan struct{}, containerdPidFile string) error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM pid %d: %w", p.Pid, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(time.Minute):
	}
	err := fmt.Errorf("pid %d did not stop within a minute of SIGTERM; killed", p.Pid)
	_ = p.Kill() // it may exit meanwhile
	<-exited
	if b, rerr := os.ReadFile(containerdPidFile); rerr == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 1 {
			err = errors.Join(err, killOurs(pid, filepath.Dir(containerdPidFile)))
		}
	}
	return err
}

// killOurs sends SIGKILL to pid if it is still there and is ours: its
// command line names mark (the daemon's own directory), so a PID reused
// since is left alone.
func killOurs(pid int, mark string) error {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), mark) {
		return nil //nolint:nilerr // gone, or not ours
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	return nil
}
