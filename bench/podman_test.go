package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// podmanLabelProject is the label podman-compose puts on what it makes.
const podmanLabelProject = "io.podman.compose.project"

// podmanMaxNproc is the highest RLIMIT_NPROC a podman 4.3 container gets
// here: conmon, and so runc's init, runs with a hard limit of 32768 whatever
// the host's, and runc fails ("error setting rlimit type 6") above it.
const podmanMaxNproc = 32768

// staticInits are init binaries podman can bind into a busybox container
// for `init: true` (the image has no libc), podman's own first.
var staticInits = []string{"/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/bin/tini-static"}

// setupPodman is podman-compose on a private podman (startPodman) that
// binds a static init in for `init: true`.
func setupPodman(b *testing.B, work, rootfs string) (*tool, error) {
	ctx := b.Context()
	compose, err := exec.LookPath("podman-compose")
	if err != nil {
		return nil, fmt.Errorf("podman-compose not installed (apt-get install podman-compose): %w", errUnavailable)
	}
	initPath := ""
	for _, p := range staticInits {
		if _, err := os.Stat(p); err == nil {
			initPath = p
			break
		}
	}
	if initPath == "" {
		return nil, fmt.Errorf("no static init for `init: true` (apt-get install catatonit): %w", errUnavailable)
	}
	t, pod, err := startPodman(b, work, rootfs, initPath)
	if err != nil {
		return nil, err
	}
	podman, global := pod()[0], pod()[1:]
	// One container with --init, so a podman that cannot run here is
	// skipped with the reason, not failed on the first up.
	if _, _, err := t.run(ctx, pod("run", "--rm", "--init", "--network", "none", "busybox:latest", "true")...); err != nil {
		return nil, fmt.Errorf("podman cannot run a container here: %v: %w", err, errUnavailable)
	}

	podmanVersion, _ := output(ctx, work, t.env, podman, "--version")
	composeOut, _ := output(ctx, work, t.env, compose, "--version")
	composeVersion := "?"
	if m := regexp.MustCompile(`podman-composer? version:?\s+(\S+)`).FindStringSubmatch(composeOut); m != nil {
		composeVersion = m[1]
	}
	t.version = fmt.Sprintf("podman-compose %s on podman %s (runc, CNI)", composeVersion,
		strings.TrimPrefix(podmanVersion, "podman version "))
	if strings.HasPrefix(composeVersion, "1.0.") {
		t.notes = []string{
			"podman-compose " + composeVersion + " has no change detection: `up -d` on an existing project runs " +
				"`podman run` for every service, which fails on the name, then `podman start`s the old container; " +
				"s1 is not recreated after its change.",
			"podman-compose " + composeVersion + " sleeps 1 s after each `podman run`, `podman start` and `podman volume rm`.",
			"podman-compose " + composeVersion + " `down -v` leaves the network; the bench removes it outside the timed region.",
		}
	}

	podmanArgs := strings.Join(global, " ")
	t.argv = func(file, project string, args ...string) []string {
		v := []string{compose, "--podman-args", podmanArgs, "-f", file, "-p", project}
		return append(v, args...)
	}
	filter := func(project string) string { return "label=" + podmanLabelProject + "=" + project }
	t.containers = func(ctx context.Context, _, project string) ([]container, error) {
		out, err := output(ctx, work, t.env, pod("ps", "-a", "--filter", filter(project), "--format", "json")...)
		if err != nil {
			return nil, err
		}
		type psEntry struct {
			Names  []string
			State  string
			Labels map[string]string
		}
		entries, err := jsonLines[psEntry](out)
		if err != nil {
			return nil, fmt.Errorf("podman ps: %w", err)
		}
		cs := make([]container, 0, len(entries))
		for _, e := range entries {
			cs = append(cs, container{
				Name: strings.Join(e.Names, ","), Service: e.Labels["com.docker.compose.service"], State: e.State,
			})
		}
		return cs, nil
	}
	t.leftovers = func(ctx context.Context, _, project string) ([]string, error) {
		var left []string
		for _, what := range [][]string{
			{"ps", "-a", "--format", "{{.Names}}"},
			{"volume", "ls", "--format", "{{.Name}}"},
			{"network", "ls", "--format", "{{.Name}}"},
		} {
			out, err := output(ctx, work, t.env, pod(append(what, "--filter", filter(project))...)...)
			if err != nil {
				return nil, err
			}
			for _, name := range nonEmptyLines(out) {
				left = append(left, what[0]+" "+name)
			}
		}
		return left, nil
	}
	t.afterDown = func(ctx context.Context, project string) error {
		return podmanRemoveNetworks(ctx, t, pod, project)
	}
	return t, nil
}

// startPodman gives podman a private store, run directory and network
// configuration directory under work, with runc and ulimits within the
// host's limits (initPath: the static init it binds in for --init; "" for
// none), imports the busybox image, and registers the teardown: containers,
// networks and volumes removed, store unmounted and removed, and whatever
// podman and its CNI plugins made on the host removed. pod makes a podman
// command line on that store.
func startPodman(b *testing.B, work, rootfs, initPath string) (t *tool, pod func(...string) []string, _ error) {
	ctx := b.Context()
	podman, err := exec.LookPath("podman")
	if err != nil {
		return nil, nil, fmt.Errorf("podman not installed (apt-get install podman): %w", errUnavailable)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, nil, fmt.Errorf("runc not installed (apt-get install runc): %w", errUnavailable)
	}
	nofile, err := hardLimit(unix.RLIMIT_NOFILE)
	if err != nil {
		return nil, nil, err
	}
	nproc, err := hardLimit(unix.RLIMIT_NPROC)
	if err != nil {
		return nil, nil, err
	}
	nproc = min(nproc, podmanMaxNproc)

	home, _ := os.UserHomeDir()
	err = trackFootprint(b, work, []footprintPath{
		{Path: "/var/lib/containers", Private: true}, // blob-info cache, even with --root
		{Path: "/run/containers", Private: true},
		{Path: "/run/libpod", Private: true},
		{Path: "/var/lib/cni", Private: true}, // host-local IPAM state, CNI result cache
		{Path: "/etc/cni", Private: true},
		{Path: filepath.Join(home, ".config", "containers"), Private: true},
		{Path: "/run/netns"}, // bind-mounted on itself by the CNI plugins
		{Path: "/run/runc"},  // runc's default state directory
	}, cniChains)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range []string{"root", "run", "tmp", "cni"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o700); err != nil {
			return nil, nil, err
		}
	}
	b.Cleanup(func() {
		if err := removeTree(work); err != nil {
			b.Errorf("podman: remove %s: %v", work, err)
		}
	})
	conf := filepath.Join(work, "containers.conf")
	if err := os.WriteFile(conf, []byte(podmanConf(work, initPath, nofile, nproc)), 0o644); err != nil {
		return nil, nil, err
	}

	t = &tool{name: "podman", work: work, env: []string{"CONTAINERS_CONF=" + conf}}
	global := []string{
		"--root", filepath.Join(work, "root"),
		"--runroot", filepath.Join(work, "run"),
		"--tmpdir", filepath.Join(work, "tmp"),
	}
	pod = func(args ...string) []string {
		return append(append([]string{podman}, global...), args...)
	}
	t.cli = pod()
	// The store's containers, networks and volumes go before the store.
	b.Cleanup(func() {
		cctx := context.WithoutCancel(ctx)
		if _, _, err := t.run(cctx, pod("rm", "--all", "--force", "--time", "0")...); err != nil {
			b.Errorf("podman: remove containers: %v", err)
		}
		if err := podmanRemoveNetworks(cctx, t, pod, ""); err != nil {
			b.Errorf("podman: remove networks: %v", err)
		}
		if _, _, err := t.run(cctx, pod("volume", "prune", "--force")...); err != nil {
			b.Errorf("podman: remove volumes: %v", err)
		}
	})

	if _, _, err := t.run(ctx, pod("import", rootfs, "busybox:latest")...); err != nil {
		return nil, nil, fmt.Errorf("podman import: %v: %w", err, errUnavailable)
	}
	v, _ := output(ctx, work, t.env, podman, "--version")
	t.version = "podman " + strings.TrimPrefix(v, "podman version ")
	return t, pod, nil
}

// podmanConf is the containers.conf of the bench's podman: runc (crun does
// not work on cgroups v1 hybrid), ulimits no higher than the host's hard
// limits (podman's default nofile of 1048576 makes runc fail), cgroupfs
// and file events (no systemd), CNI with its configuration under work.
func podmanConf(work, initPath string, nofile, nproc uint64) string {
	return fmt.Sprintf(`[containers]
default_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]
init_path = %q

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "cni"
network_config_dir = %q
`, nofile, nofile, nproc, nproc, initPath, filepath.Join(work, "cni"))
}

// podmanRemoveNetworks removes the networks podman-compose made for project
// (for every bench project if project is empty) and their host-local IPAM
// state, which the CNI plugin leaves in /var/lib/cni.
func podmanRemoveNetworks(ctx context.Context, t *tool, pod func(...string) []string, project string) error {
	f := podmanLabelProject
	if project != "" {
		f += "=" + project
	}
	out, err := output(ctx, t.work, t.env, pod("network", "ls", "--filter", "label="+f, "--format", "{{.Name}}")...)
	if err != nil {
		return err
	}
	for _, name := range nonEmptyLines(out) {
		if _, _, err := t.run(ctx, pod("network", "rm", "--force", name)...); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join("/var/lib/cni/networks", name)); err != nil {
			return err
		}
	}
	return nil
}
