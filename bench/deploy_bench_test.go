package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/swarmtest"
	"github.com/berth-dev/berth/internal/testimage"
)

const (
	envDeployResults = "BERTH_BENCH_DEPLOY_RESULTS" // the Markdown file BenchmarkDeploy writes, if set
	deployServices   = 20
	dockerCLI        = "/usr/bin/docker" // docker.io's client, of the engine's version
)

// The phases of a deploy cycle, each timed until the cluster runs what the
// file says: every service's tasks running at its current spec.
const (
	phaseDeployCold   = "cold"
	phaseDeployNoop   = "noop"
	phaseDeployChange = "change"
)

var deployPhases = []struct{ key, title string }{
	{phaseDeployCold, "deploy onto an empty cluster, until every task runs"},
	{phaseDeployNoop, "redeploy, nothing changed"},
	{phaseDeployChange, "redeploy, one service's environment changed, until it has rolled"},
}

// deployTool is berth deploy or docker stack deploy on the cluster.
type deployTool struct {
	name, title, version string
	stack                string
	// deploy runs the tool's deploy of file and returns when the command
	// does; waits says whether that is once the cluster converged.
	deploy func(ctx context.Context, file string) error
	waits  bool
	rm     func(ctx context.Context) error
}

// BenchmarkDeploy deploys the 20-service bench project onto a Swarm of three
// dockerd on this machine (internal/swarmtest) with `berth deploy` and with
// `docker stack deploy`, interleaved round by round, and writes the medians
// to BERTH_BENCH_DEPLOY_RESULTS. berth's time is its command's (--wait
// returns once every task runs); docker stack deploy returns before, so its
// time runs until polling the cluster finds every task running at the new
// spec, as a user polling `docker service ls` would.
func BenchmarkDeploy(b *testing.B) {
	work, rootfs := benchStart(b)
	ctx := b.Context()
	began := time.Now()
	c := swarmtest.Start(b, 3)
	b.Logf("three-node Swarm up: %s", time.Since(began).Round(time.Millisecond))
	image := c.Registry + "/bb:latest"
	if err := testimage.PushRootfs(image, rootfs); err != nil {
		b.Fatal(err)
	}
	files := [2]string{filepath.Join(work, "deploy-0.yaml"), filepath.Join(work, "deploy-1.yaml")}
	for rev, f := range files {
		if err := os.WriteFile(f, deployYAML(image, deployServices, rev), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	host := c.Nodes[0].Host()
	var tools []*deployTool
	if bin, err := berthBinary(); err == nil {
		root := filepath.Join(work, "berth-root")
		berth := func(ctx context.Context, args ...string) error {
			_, _, err := runCmd(ctx, work, nil, append([]string{bin, "--root", root, "-p", "bbench"}, args...)...)
			return err
		}
		v, _ := output(ctx, work, nil, bin, "version")
		tools = append(tools, &deployTool{
			name: "berth", title: "berth deploy", version: strings.SplitN(v, "\n", 2)[0], stack: "bbench", waits: true,
			deploy: func(ctx context.Context, file string) error {
				return berth(ctx, "-f", file, "deploy", "--host", host, "--wait-timeout", "5m")
			},
			rm: func(ctx context.Context) error { return berth(ctx, "-f", files[0], "deploy", "--host", host, "rm") },
		})
	} else {
		b.Logf("berth: %v", err)
	}
	if _, err := os.Stat(dockerCLI); err == nil {
		docker := func(ctx context.Context, args ...string) error {
			_, _, err := runCmd(ctx, work, nil, append([]string{dockerCLI, "-H", host}, args...)...)
			return err
		}
		v, _ := output(ctx, work, nil, dockerCLI, "-H", host, "version", "--format", "client {{.Client.Version}}, engine {{.Server.Version}}")
		tools = append(tools, &deployTool{
			name: "docker", title: "docker stack deploy", version: v, stack: "dbench",
			deploy: func(ctx context.Context, file string) error {
				return docker(ctx, "stack", "deploy", "-c", file, "dbench")
			},
			rm: func(ctx context.Context) error { return docker(ctx, "stack", "rm", "dbench") },
		})
	} else {
		b.Logf("docker stack deploy not measured: %s missing (apt-get install docker.io)", dockerCLI)
	}
	samples := map[string]map[string][]time.Duration{}
	for _, t := range tools {
		samples[t.name] = map[string][]time.Duration{}
	}
	b.ResetTimer()
	for round := range b.N {
		for i := range tools {
			t := tools[(round+i)%len(tools)]
			for _, step := range []struct{ phase, file string }{
				{phaseDeployCold, files[0]}, {phaseDeployNoop, files[0]}, {phaseDeployChange, files[1]},
			} {
				d, err := timeDeploy(ctx, c, t, step.file, step.file == files[1])
				if err != nil {
					b.Fatalf("%s, %s: %v", t.name, step.phase, err)
				}
				samples[t.name][step.phase] = append(samples[t.name][step.phase], d)
			}
			if err := t.rm(ctx); err != nil {
				b.Fatalf("%s: rm: %v", t.name, err)
			}
			c.Eventually(t.stack+" gone from the cluster", 2*time.Minute, func() bool {
				s, n := c.StackObjects(t.stack)
				return len(s)+len(n) == 0
			})
		}
	}
	b.StopTimer()
	for _, t := range tools {
		for _, p := range deployPhases {
			if m, ok := median(samples[t.name][p.key]); ok {
				b.ReportMetric(m.Seconds(), "s/"+t.name+"-"+p.key)
			}
		}
	}
	if path := os.Getenv(envDeployResults); path != "" {
		if err := atomicfile.WriteFile(path, deployMarkdown(tools, samples, b.N, time.Now()), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("wrote %s", path)
	}
}

// timeDeploy times one deploy of file until the cluster runs it (for a
// tool whose command does not wait, by polling), then checks, untimed, that
// it does: every service converged, and after a change only s1 rolled.
func timeDeploy(ctx context.Context, c *swarmtest.Cluster, t *deployTool, file string, changed bool) (time.Duration, error) {
	before := runningTasks(c, t.stack)
	start := time.Now()
	if err := t.deploy(ctx, file); err != nil {
		return 0, err
	}
	if !t.waits {
		deadline := time.Now().Add(5 * time.Minute)
		for !stackConverged(c, t.stack, deployServices) {
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s not converged after 5 minutes", t.stack)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	d := time.Since(start)
	if !stackConverged(c, t.stack, deployServices) {
		return 0, fmt.Errorf("%s returned before the stack converged", t.name)
	}
	if changed {
		// docker stack deploy updates every service's spec; what counts is
		// which tasks were replaced.
		for name, tasks := range runningTasks(c, t.stack) {
			if replaced := tasks != before[name]; replaced != strings.HasSuffix(name, "_s1") {
				return 0, fmt.Errorf("after changing s1 only, service %s's tasks replaced: %v", name, replaced)
			}
		}
	}
	return d, nil
}

// stackConverged says whether the stack has n services, none updating, each
// with its desired tasks running at its current container spec.
func stackConverged(c *swarmtest.Cluster, stack string, n int) bool {
	var svcs []struct {
		ID   string
		Spec struct {
			TaskTemplate struct{ ContainerSpec json.RawMessage }
			Mode         struct{ Replicated *struct{ Replicas int } }
		}
		UpdateStatus *struct{ State string }
	}
	f := url.QueryEscape(`{"label":["com.docker.stack.namespace=` + stack + `"]}`)
	if c.API(c.Nodes[0], "GET", "/services?filters="+f, nil, &svcs) != nil || len(svcs) != n {
		return false
	}
	for _, s := range svcs {
		if u := s.UpdateStatus; u != nil && u.State != "completed" {
			return false
		}
		var tasks []struct {
			Spec   struct{ ContainerSpec json.RawMessage }
			Status struct{ State string }
		}
		tf := url.QueryEscape(`{"service":["` + s.ID + `"],"desired-state":["running"]}`)
		if c.API(c.Nodes[0], "GET", "/tasks?filters="+tf, nil, &tasks) != nil {
			return false
		}
		running := 0
		for _, t := range tasks {
			if t.Status.State == "running" && bytes.Equal(t.Spec.ContainerSpec, s.Spec.TaskTemplate.ContainerSpec) {
				running++
			}
		}
		if r := s.Spec.Mode.Replicated; r == nil || running != r.Replicas {
			return false
		}
	}
	return true
}

// runningTasks maps the stack's service names to the IDs of their running
// tasks.
func runningTasks(c *swarmtest.Cluster, stack string) map[string]string {
	var svcs []struct {
		ID   string
		Spec struct{ Name string }
	}
	f := url.QueryEscape(`{"label":["com.docker.stack.namespace=` + stack + `"]}`)
	_ = c.API(c.Nodes[0], "GET", "/services?filters="+f, nil, &svcs)
	out := map[string]string{}
	for _, s := range svcs {
		var tasks []struct {
			ID     string
			Status struct{ State string }
		}
		tf := url.QueryEscape(`{"service":["` + s.ID + `"],"desired-state":["running"]}`)
		_ = c.API(c.Nodes[0], "GET", "/tasks?filters="+tf, nil, &tasks)
		for _, t := range tasks {
			if t.Status.State == "running" {
				out[s.Spec.Name] += t.ID + " "
			}
		}
	}
	return out
}

// deployYAML is the bench project for a cluster: n busybox services behind
// an init on one overlay network; rev changes s1's environment. The version
// line is for docker stack deploy 20.10, which refuses a file without one.
func deployYAML(image string, n, rev int) []byte {
	var s strings.Builder
	s.WriteString("version: \"3.8\"\nservices:\n")
	for i := 1; i <= n; i++ {
		r := 0
		if i == 1 {
			r = rev
		}
		fmt.Fprintf(&s, "  s%d:\n    image: %s\n    command: [\"sleep\", \"3600\"]\n    init: true\n", i, image)
		fmt.Fprintf(&s, "    stop_grace_period: 1s\n    environment:\n      BENCH_REV: \"%d\"\n    networks: [net]\n", r)
	}
	s.WriteString("networks:\n  net: {}\n")
	return []byte(s.String())
}

func deployMarkdown(tools []*deployTool, samples map[string]map[string][]time.Duration, rounds int, now time.Time) []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "# berth deploy beside docker stack deploy\n\n")
	fmt.Fprintf(&s, "Written by `hack/bench-deploy.sh` (`BenchmarkDeploy` in `bench/`) on %s, on %s, %s, load average %s at the end. "+
		"A Swarm of three Debian dockerd on this machine, each in its own network, mount and UTS namespace, joined through a bridge "+
		"(`internal/swarmtest`); images from a registry on the host's address in that subnet. The project: %d busybox services "+
		"behind an init, one overlay network, one replica each. The tools run interleaved, %d round(s); each cell is the median in "+
		"seconds (fastest–slowest). berth's time is its command's (`--wait` returns once every task runs at the new spec); "+
		"`docker stack deploy` returns before its services run, so its time runs until polling the cluster (every 100 ms) finds "+
		"every task running at the new spec. Correctness is checked untimed after each phase: every service converged, and after "+
		"the change exactly `s1` rolled.\n\n",
		now.UTC().Format("2006-01-02 15:04 UTC"), kernel(), cpuModel(), loadAverage(), deployServices, rounds)
	s.WriteString("| tool | version |\n| --- | --- |\n")
	for _, t := range tools {
		fmt.Fprintf(&s, "| %s | %s |\n", t.title, oneLine(t.version))
	}
	s.WriteString("\n| phase | berth deploy (s) | docker stack deploy (s) | docker ÷ berth |\n| --- | --: | --: | --: |\n")
	for _, p := range deployPhases {
		bm, bok := median(samples["berth"][p.key])
		dm, dok := median(samples["docker"][p.key])
		ratio := "—"
		if bok && dok && bm > 0 {
			ratio = fmt.Sprintf("%.1fx", dm.Seconds()/bm.Seconds())
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s |\n", p.title, cell(samples["berth"][p.key]), cell(samples["docker"][p.key]), ratio)
	}
	return []byte(s.String())
}

// berthBinary is the berth binary the benchmarks run: BERTH_BENCH_BERTH,
// or ../bin/berth.
func berthBinary() (string, error) {
	bin := os.Getenv(envBerth)
	if bin == "" {
		bin = filepath.Join("..", "bin", "berth")
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s not built (make build): %w", bin, errUnavailable)
	}
	return bin, nil
}
