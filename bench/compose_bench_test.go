package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Environment variables the benchmarks read.
const (
	envEnable    = "BERTH_BENCH"            // "1" runs BenchmarkCompose
	envBerth     = "BERTH_BENCH_BERTH"      // the berth binary; default ../bin/berth
	envBerthSkip = "BERTH_BENCH_BERTH_SKIP" // a reason not to run berth (set by the script when the build failed)
	envDir       = "BERTH_BENCH_DIR"        // working directory; default a new one under $TMPDIR
	envResults   = "BERTH_BENCH_RESULTS"    // the Markdown file to write, if set
	envPodman    = "BERTH_BENCH_PODMAN"     // "1" adds podman-compose (about 15 minutes more)
	envSizes     = "BERTH_BENCH_SIZES"      // the project sizes, comma-separated; default 1,5,20,100
)

// The phases of one cycle, in order, as they appear in metric names.
const (
	phaseColdUp   = "cold-up"
	phaseNoopUp   = "noop-up"
	phaseChangeUp = "change-one-up"
	phaseDown     = "down-v"
)

// sizes are the numbers of services of the projects measured: 1, 5 and
// 20 for the goals, 100 for how each figure grows (BERTH_BENCH_SIZES).
var sizes = benchSizes(os.Getenv(envSizes))

// benchSizes parses a comma-separated list of project sizes; empty or
// malformed gives the default.
func benchSizes(v string) []int {
	def := []int{1, 5, 20, 100}
	if v == "" {
		return def
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return def
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// phaseSpec is one timed step of a cycle.
type phaseSpec struct {
	name string
	rev  int      // BENCH_REV of service s1 in the file the step runs on
	args []string // the Compose command
	up   bool     // afterwards every service runs; otherwise nothing of the project is left
}

// cycle is what one benchmark iteration does to a project.
var cycle = []phaseSpec{
	{name: phaseColdUp, rev: 0, args: []string{"up", "-d"}, up: true},
	{name: phaseNoopUp, rev: 0, args: []string{"up", "-d"}, up: true},
	{name: phaseChangeUp, rev: 1, args: []string{"up", "-d"}, up: true},
	{name: phaseDown, rev: 1, args: []string{"down", "-v"}, up: false},
}

// cmdTimeout bounds one command. podman-compose 1.0.3 sleeps a second after
// each podman command, so its no-op up of 20 services takes about a minute.
const cmdTimeout = 10 * time.Minute

// errUnavailable marks a tool that is not installed or cannot start here:
// its benchmarks are skipped, with the reason, rather than failed.
var errUnavailable = errors.New("unavailable")

// BenchmarkCompose times, for each project size, rounds in which every
// tool in turn runs a full cycle of cold `up -d`, no-op `up -d`, `up -d`
// after changing s1, and `down -v`, and the floor starts the same number of
// containers with bare runc. Interleaving the tools round by round makes
// what the machine does meanwhile fall on all of them alike. Each phase is
// reported as a metric in seconds ("s/berth-cold-up", …); every sample also
// goes to RESULTS.md (BERTH_BENCH_RESULTS), as medians with their spread.
func BenchmarkCompose(b *testing.B) {
	work, rootfs := benchStart(b)

	res := newResults()
	setups := []struct {
		name  string
		title string
		optIn string // an environment variable that must be "1", if set
		setup func(b *testing.B, work, rootfs string) (*tool, error)
	}{
		{"berth", "berth", "", setupBerth},
		{"docker", "Docker Compose", "", setupDocker},
		{"podman", "podman-compose", envPodman, setupPodman},
	}
	// Registered first, so it runs after every tool's teardown.
	before := snapshotHost()
	var tools []*tool
	b.Cleanup(func() {
		after := snapshotHost().newSince(before)
		for _, t := range tools {
			if extra := attributable(t.name, after); len(extra) > 0 {
				b.Logf("%s: on the host after teardown, not there before (may be another user's): %s",
					t.name, strings.Join(extra, "; "))
				res.leftover(t.name, extra)
			}
		}
	})
	for _, s := range setups {
		t, ok := setUp(b, res, s.name, s.title, s.optIn, func() (*tool, string, []string, error) {
			t, err := s.setup(b, filepath.Join(work, s.name), rootfs)
			if err != nil {
				return nil, "", nil, err
			}
			return t, t.version, t.notes, nil
		})
		if ok {
			tools = append(tools, t)
		}
	}
	fl, err := setupFloor(b, filepath.Join(work, "floor"), rootfs, slices.Max(sizes))
	if err != nil {
		res.floorNote = "not measured: " + err.Error()
		b.Logf("floor: %v", err)
	} else {
		res.floorNote = fl.version
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("%dsvc", n), func(b *testing.B) { runRounds(b, tools, fl, n, res) })
	}
	if path := os.Getenv(envResults); path != "" {
		if err := res.writeMarkdown(path, time.Now()); err != nil {
			b.Fatalf("results: %v", err)
		}
		b.Logf("wrote %s", path)
	}
}

// project is one tool's Compose project of one size.
type project struct {
	t    *tool
	file string
	name string
}

// runRounds runs b.N rounds on projects of n services: in each, every
// tool runs one cycle, starting with a different tool each round, and the
// floor is measured once.
func runRounds(b *testing.B, tools []*tool, fl *floor, n int, res *results) {
	ctx := b.Context()
	var projects []project
	for _, t := range tools {
		dir := filepath.Join(b.TempDir(), t.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		p := project{t: t, file: filepath.Join(dir, "compose.yaml"), name: fmt.Sprintf("bbench%dn%d", os.Getpid(), n)}
		projects = append(projects, p)
		b.Cleanup(func() {
			// After a failure part of the project may still be up.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmdTimeout)
			defer cancel()
			if err := t.purge(cctx, p.file, p.name); err != nil {
				b.Errorf("%s: clean up project %s: %v", t.name, p.name, err)
			}
		})
	}

	sums := make(map[string]time.Duration)
	for i := 0; i < b.N; i++ {
		res.round++
		for j := range projects {
			p := projects[(j+res.round)%len(projects)]
			for phase, d := range runCycle(b, p, n, res) {
				sums[p.t.name+"-"+phase] += d
			}
		}
		if fl != nil {
			for _, withSeccomp := range []bool{false, true} {
				d, err := fl.run(ctx, n, withSeccomp)
				if err != nil {
					res.floorNote = "failed: " + err.Error()
					b.Fatalf("floor: %v", err)
				}
				if withSeccomp {
					res.addFloorSeccomp(n, d)
					sums["floor-seccomp-"+phaseColdUp] += d
				} else {
					res.addFloor(n, d)
					sums["floor-"+phaseColdUp] += d
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sums)) {
		b.ReportMetric(sums[k].Seconds()/float64(b.N), "s/"+k)
	}
	b.ReportMetric(0, "ns/op") // the whole round's time says nothing: the phases do
}

// writeSettled writes a phase's Compose file, then waits until the kernel's
// coarse clock, with which it stamps a change, is past the file's stamps:
// the file is then as a file saved before a command is typed, not one
// changed in the clock tick the command starts in. berth keeps a loaded
// project in its model cache only when its files last changed before the
// load began (a change during the load must not be recorded beside a model
// made from the bytes before it); without the wait, whether the cold and
// changed ups could keep theirs, and so whether the no-op up and the down
// after them load the project again, came down to the tick the write fell
// in. It changes nothing for a tool without such a cache.
func writeSettled(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	stamp := max(time.Unix(st.Mtim.Unix()).UnixNano(), time.Unix(st.Ctim.Unix()).UnixNano())
	for deadline := time.Now().Add(time.Second); ; {
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &now); err != nil {
			return err
		}
		if time.Unix(now.Unix()).UnixNano() > stamp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: its timestamp is still not past after a second", path)
		}
		time.Sleep(time.Millisecond)
	}
}

// runCycle runs one cycle of p and checks, outside the timed region, what
// each phase left: after an up every service runs; after the change
// exactly s1 has a new container; after down -v nothing is left.
func runCycle(b *testing.B, p project, n int, res *results) map[string]time.Duration {
	ctx := b.Context()
	times := make(map[string]time.Duration)
	rev := -1
	var ids map[string]string // service → container ID after the last up
	for _, ph := range cycle {
		if ph.rev != rev {
			rev = ph.rev
			if err := writeSettled(p.file, composeYAML(n, rev)); err != nil {
				b.Fatal(err)
			}
		}
		d, _, err := p.t.run(ctx, p.t.argv(p.file, p.name, ph.args...)...)
		var now map[string]string
		if err == nil {
			now, err = p.t.check(ctx, p.file, p.name, n, ph.up)
		}
		if err == nil && ph.name == phaseChangeUp {
			err = recreatedOnly(ids, now, "s1")
		}
		if err != nil {
			msg := fmt.Sprintf("%dsvc %s: %v", n, ph.name, err)
			res.fail(p.t.name, msg)
			b.Fatalf("%s: %s", p.t.name, msg)
		}
		ids = now
		times[ph.name] = d
		res.add(p.t.name, n, ph.name, d)
	}
	return times
}

// recreatedOnly checks that, between before and after (service → container
// ID), exactly service's container changed. A tool whose ps gives no IDs
// is not checked.
func recreatedOnly(before, after map[string]string, service string) error {
	var bad []string
	for s, id := range after {
		if id == "" || before[s] == "" {
			return nil
		}
		if changed := before[s] != id; changed != (s == service) {
			bad = append(bad, fmt.Sprintf("%s recreated: %v", s, changed))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("after changing %s alone: %s", service, strings.Join(bad, ", "))
	}
	return nil
}

// composeYAML is the project of n busybox services s1…sN, each with its own
// named volume at /data, all on one internal network (no tool sets up a way
// out). rev is the value of s1's BENCH_REV; changing it changes s1 alone.
func composeYAML(n, rev int) []byte {
	var s strings.Builder
	s.WriteString("services:\n")
	for i := 1; i <= n; i++ {
		r := 0
		if i == 1 {
			r = rev
		}
		fmt.Fprintf(&s, "  s%d:\n", i)
		s.WriteString("    image: busybox:latest\n")
		s.WriteString("    command: [\"sleep\", \"3600\"]\n")
		// busybox sleep as PID 1 ignores SIGTERM; behind an init every tool
		// stops it at once instead of after the grace period.
		s.WriteString("    init: true\n")
		fmt.Fprintf(&s, "    environment:\n      BENCH_REV: \"%d\"\n", r)
		fmt.Fprintf(&s, "    volumes:\n      - v%d:/data\n", i)
		s.WriteString("    networks:\n      - net\n")
	}
	s.WriteString("networks:\n  net:\n    internal: true\n")
	s.WriteString("volumes:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&s, "  v%d:\n", i)
	}
	return []byte(s.String())
}

// tool is one Compose implementation, set up for this run.
type tool struct {
	name    string   // the sub-benchmark's name: berth, docker, podman
	version string   // what RESULTS.md says was measured
	notes   []string // how its behaviour differs from the others', for RESULTS.md
	work    string   // its working directory
	env     []string // added to the environment of every command
	cli     []string // its own command line up to the verb: berth --root …, docker, podman --root …

	// argv is the Compose command args on file and project.
	argv func(file, project string, args ...string) []string
	// containers lists the project's containers, running or not.
	containers func(ctx context.Context, file, project string) ([]container, error)
	// leftovers lists what of the project is still there after down -v
	// and afterDown: containers, volumes, networks.
	leftovers func(ctx context.Context, file, project string) ([]string, error)
	// afterDown, if set, removes (untimed) what the tool's down -v leaves
	// by design, so that the next cold up starts from nothing.
	afterDown func(ctx context.Context, project string) error
}

// container is one line of a tool's ps.
type container struct {
	ID      string // empty when the tool's ps does not give it
	Name    string
	Service string
	State   string
}

// check verifies the state a phase must leave: with up, one running
// container for each of the n services, returned as service → container
// ID; without, nothing of the project.
func (t *tool) check(ctx context.Context, file, project string, n int, up bool) (map[string]string, error) {
	if !up {
		if t.afterDown != nil {
			if err := t.afterDown(ctx, project); err != nil {
				return nil, fmt.Errorf("after down: %w", err)
			}
		}
		left, err := t.leftovers(ctx, file, project)
		if err != nil {
			return nil, err
		}
		if len(left) > 0 {
			return nil, fmt.Errorf("left after down -v: %s", strings.Join(left, ", "))
		}
		return nil, nil
	}
	cs, err := t.containers(ctx, file, project)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]string)
	running := make(map[string]bool)
	var bad []string
	for _, c := range cs {
		if c.State == "running" {
			running[c.Service] = true
			ids[c.Service] = c.ID
		} else {
			bad = append(bad, fmt.Sprintf("%s is %s", c.Name, c.State))
		}
	}
	for i := 1; i <= n; i++ {
		if s := fmt.Sprintf("s%d", i); !running[s] {
			bad = append(bad, "no running container for "+s)
		}
	}
	if len(bad) > 0 || len(cs) != n {
		return nil, fmt.Errorf("after up, %d containers: %s", len(cs), strings.Join(bad, "; "))
	}
	return ids, nil
}

// purge takes the project down if anything of it is left, best effort
// with the tool's own down -v.
func (t *tool) purge(ctx context.Context, file, project string) error {
	if _, err := os.Stat(file); err != nil {
		return nil // no cycle started
	}
	left, err := t.leftovers(ctx, file, project)
	if err == nil && len(left) == 0 {
		return nil
	}
	_, _, err = t.run(ctx, t.argv(file, project, "down", "-v")...)
	if t.afterDown != nil {
		err = errors.Join(err, t.afterDown(ctx, project))
	}
	return err
}

// run runs argv with the tool's environment and returns how long it took,
// from start to exit. Output goes to a file, not a pipe: a daemon that
// inherited it cannot hold the command's return back.
func (t *tool) run(ctx context.Context, argv ...string) (time.Duration, []byte, error) {
	return runCmd(ctx, t.work, t.env, argv...)
}

func runCmd(ctx context.Context, work string, env []string, argv ...string) (time.Duration, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	f, err := os.CreateTemp(work, "out-")
	if err != nil {
		return 0, nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	out, rerr := os.ReadFile(f.Name())
	if err != nil {
		return d, out, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, tail(out, 2000))
	}
	return d, out, rerr
}

// output runs argv and returns its output, trimmed.
func output(ctx context.Context, work string, env []string, argv ...string) (string, error) {
	_, out, err := runCmd(ctx, work, env, argv...)
	return strings.TrimSpace(string(out)), err
}

// tail is the end of out, at most n bytes.
func tail(out []byte, n int) string {
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.TrimSpace(string(out))
}

// jsonLines decodes one JSON object per line (docker compose's and berth's
// ps --format json) or one JSON array (podman's).
func jsonLines[T any](out string) ([]T, error) {
	out = strings.TrimSpace(out)
	if out == "" {
		return nil, nil
	}
	if strings.HasPrefix(out, "[") {
		var v []T
		err := json.Unmarshal([]byte(out), &v)
		return v, err
	}
	var v []T
	for line := range strings.Lines(out) {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var x T
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		v = append(v, x)
	}
	return v, nil
}

// nonEmptyLines are the lines of out with something on them, trimmed.
func nonEmptyLines(out string) []string {
	var v []string
	for line := range strings.Lines(out) {
		if line = strings.TrimSpace(line); line != "" {
			v = append(v, line)
		}
	}
	return slices.Clip(v)
}

// workDir is BERTH_BENCH_DIR or a new directory that goes at the end.
func workDir(b *testing.B) string {
	if d := os.Getenv(envDir); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := unmountUnder(d); err != nil {
			b.Errorf("unmount %s: %v", d, err)
		}
		if err := os.RemoveAll(d); err != nil {
			b.Errorf("remove %s: %v", d, err)
		}
	})
	return d
}

// buildRootfs makes the busybox rootfs tarball every tool imports as busybox:latest.
func buildRootfs(b *testing.B, out string) {
	script, err := filepath.Abs(filepath.Join("..", "hack", "busybox-rootfs.sh"))
	if err != nil {
		b.Fatal(err)
	}
	if o, err := exec.CommandContext(b.Context(), "sh", script, out).CombinedOutput(); err != nil {
		b.Fatalf("busybox rootfs: %v\n%s", err, o)
	}
}
