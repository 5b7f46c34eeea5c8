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
)

// The development loop's figures, as the issue names them.
const (
	loopSync        = "sync"         // (a) save → the file in the container
	loopSyncRestart = "sync+restart" // (b) save → the service restarted and running with it
	loopRebuild     = "rebuild"      // (c) save of the dependencies file → the rebuilt service running with it
	loopCompose     = "compose edit" // (d) an edit of one service's environment in compose.yaml → recreated, running with it
)

// loopFigures are the figures in the order they are measured and shown.
var loopFigures = []string{loopSync, loopSyncRestart, loopRebuild, loopCompose}

// composeEditors are the tools that act on an edit of the Compose file
// itself; Docker Compose's watch does not, so figure (d) is berth's alone.
var composeEditors = map[string]bool{"berth": true}

// loopRuns is how many saves each figure takes, unless BERTH_BENCH_RUNS
// says how many for all.
var loopRuns = map[string]int{loopSync: 20, loopSyncRestart: 10, loopRebuild: 5, loopCompose: 10}

// developCompose is the project each tool watches. Every figure is read
// from the host through ./out, bound into the container, the same way for
// every tool: sync writes into /app, which is ./out/app (Docker Compose
// copies through its daemon, berth straight into the container); the
// command copies /dep.txt (built in) and /conf/v.txt (synced; none before
// the first sync) into ./out when it starts, and its environment's V
// (COMPOSE_V is replaced by each edit of figure d). stop_signal KILL: busybox sleep as PID 1 ignores SIGTERM,
// and the grace period would be measured otherwise.
const developCompose = `services:
  app:
    build: ./app
    command: ["sh", "-c", "cp /dep.txt /out/built.tmp; mv /out/built.tmp /out/built; cat /conf/v.txt > /out/seen.tmp; mv /out/seen.tmp /out/seen; echo \"$$V\" > /out/env.tmp; mv /out/env.tmp /out/env; exec sleep 3600"]
    environment:
      V: COMPOSE_V
    stop_signal: SIGKILL
    volumes:
      - ./out:/out
      - ./out/app:/app
    develop:
      watch:
        - {path: ./src, action: sync, target: /app}
        - {path: ./conf, action: sync+restart, target: /conf}
        - {path: ./app/dep.txt, action: rebuild}
`

// BenchmarkDevelop runs berth watch and docker compose watch on the same
// project, both at once, and times save → visible for a sync rule, a
// sync+restart rule and a rebuild rule, the tools taking turns save by
// save. It logs one Markdown table with medians, p95 and the ratios.
func BenchmarkDevelop(b *testing.B) {
	work, rootfs := benchStart(b)
	runs := loopRuns
	if n, err := strconv.Atoi(os.Getenv("BERTH_BENCH_RUNS")); err == nil && n > 0 {
		runs = map[string]int{loopSync: n, loopSyncRestart: n, loopRebuild: n, loopCompose: n}
	}

	var loops []*devLoop
	var skipped []string
	for _, s := range []struct {
		name  string
		setup func(b *testing.B, work, rootfs string) (*tool, error)
	}{{"berth", setupBerth}, {"docker", setupDocker}} {
		t, err := s.setup(b, filepath.Join(work, s.name), rootfs)
		if errors.Is(err, errUnavailable) {
			skipped = append(skipped, fmt.Sprintf("%s: %v", s.name, err))
			continue
		}
		if err != nil {
			b.Fatalf("%s: set-up: %v", s.name, err)
		}
		l, err := startDevLoop(b, t)
		if err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		loops = append(loops, l)
	}
	for range b.N {
		for _, what := range loopFigures {
			for i := range runs[what] {
				for _, l := range loops {
					if what == loopCompose && !composeEditors[l.t.name] {
						continue
					}
					if err := l.save(b.Context(), what, i); err != nil {
						b.Fatalf("%s: %s: %v\n%s", l.t.name, what, err, l.log())
					}
				}
			}
		}
	}
	b.Log("\n" + developTable(loops, skipped))
	for _, l := range loops {
		for what, d := range l.samples {
			b.ReportMetric(devMedian(d).Seconds()*1000, "ms/"+l.t.name+"-"+strings.ReplaceAll(what, " ", "-"))
		}
	}
}

// devLoop is one tool's watch on its copy of the project.
type devLoop struct {
	t       *tool
	dir     string
	logFile string
	samples map[string][]time.Duration
}

// startDevLoop writes the project, starts the tool's watch (which brings
// it up) and waits until the watch has begun and the service runs. Its
// teardown stops the watch by PID and takes the project down.
func startDevLoop(b *testing.B, t *tool) (*devLoop, error) {
	l := &devLoop{t: t, dir: filepath.Join(t.work, "develop"), samples: map[string][]time.Duration{}}
	l.logFile = filepath.Join(t.work, "watch.log")
	files := map[string]string{
		"compose.yaml":   composeWithV("compose-0"),
		"app/Dockerfile": "FROM busybox:latest\nCOPY dep.txt /dep.txt\n",
		"app/dep.txt":    "dep-0\n",
		"conf/v.txt":     "conf-0\n",
		"src/f.txt":      "src-0\n",
		"out/app/.keep":  "",
	}
	for rel, body := range files {
		if err := writeBenchFile(filepath.Join(l.dir, rel), body); err != nil {
			return nil, err
		}
	}
	file := filepath.Join(l.dir, "compose.yaml")
	project := "benchdev" + t.name
	log, err := os.Create(l.logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	argv := t.argv(file, project, "watch")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = l.dir
	cmd.Env = append(os.Environ(), t.env...)
	cmd.Stdout, cmd.Stderr = log, log
	// A group of its own: docker compose watch is the docker CLI and its
	// plugin, a child that outlives a CLI that got the signal alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		if err := stopGroup(cmd.Process.Pid, exited); err != nil {
			b.Errorf("%s: stop the watch: %v", t.name, err)
		}
		if err := removeComposeLock(project); err != nil {
			b.Errorf("%s: %v", t.name, err)
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(b.Context()), 2*time.Minute)
		defer cancel()
		if _, out, err := t.run(ctx, t.argv(file, project, "down", "-v", "--rmi", "all")...); err != nil {
			b.Errorf("%s: down: %v\n%s", t.name, err, out)
		}
	})
	// Up, built and watching: the marker lines of berth and Docker Compose.
	err = waitFor(2*time.Minute, exited, func() bool {
		out := l.log()
		return (strings.Contains(out, "Watching ") || strings.Contains(out, "Watch enabled")) &&
			fileIs(filepath.Join(l.dir, "out", "built"), "dep-0\n")
	})
	if err != nil {
		return nil, fmt.Errorf("watch did not start: %v\n%s", err, l.log())
	}
	return l, nil
}

// stopGroup ends the process group pgid (a watch the bench started, the
// group's leader, which closes exited when it is gone) as Ctrl-C does, and
// waits until none of the group is left; after 30 seconds it kills them.
func stopGroup(pgid int, exited <-chan struct{}) error {
	_ = syscall.Kill(-pgid, syscall.SIGINT)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
				return nil
			}
		default:
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
			return fmt.Errorf("process group %d did not end within 30s of SIGINT; killed", pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeComposeLock removes the lock docker compose watch keeps for
// project (<docker config dir>/docker-compose/<project>.pid), which it
// leaves behind when it ends on SIGINT, and the directory if that is
// empty then. Called once the watch has ended.
func removeComposeLock(project string) error {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return err
		}
		dir = filepath.Join(home, ".docker")
	}
	dir = filepath.Join(dir, "docker-compose")
	if err := os.Remove(filepath.Join(dir, project+".pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 0 {
		return os.Remove(dir)
	}
	return nil
}

func (l *devLoop) log() string {
	b, _ := os.ReadFile(l.logFile)
	return tail(b, 3000)
}

// save makes the edit of figure what, number i, and times it until its
// effect shows in ./out.
func (l *devLoop) save(ctx context.Context, what string, i int) error {
	var edit, seen, want string
	switch what {
	case loopSync:
		edit, seen = "src/f.txt", "out/app/f.txt"
	case loopSyncRestart:
		edit, seen = "conf/v.txt", "out/seen"
	case loopRebuild:
		edit, seen = "app/dep.txt", "out/built"
	case loopCompose:
		edit, seen = "compose.yaml", "out/env"
	}
	want = fmt.Sprintf("%s-%d\n", strings.ReplaceAll(what, " ", "-"), i+1)
	body := want
	if what == loopCompose {
		body = composeWithV(strings.TrimSuffix(want, "\n"))
	}
	// A quiet tree before each save, as when a developer saves.
	time.Sleep(600 * time.Millisecond)
	start := time.Now()
	if err := os.WriteFile(filepath.Join(l.dir, edit), []byte(body), 0o644); err != nil {
		return err
	}
	p := filepath.Join(l.dir, seen)
	for !fileIs(p, want) {
		if time.Since(start) > time.Minute {
			return fmt.Errorf("save %d of %s not visible in %s within a minute", i+1, edit, seen)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	l.samples[what] = append(l.samples[what], time.Since(start))
	return nil
}

// composeWithV is the project's Compose file with the service's V set to v.
func composeWithV(v string) string { return strings.Replace(developCompose, "COMPOSE_V", v, 1) }

func fileIs(p, want string) bool {
	b, err := os.ReadFile(p)
	return err == nil && string(b) == want
}

func writeBenchFile(p, body string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(body), 0o644)
}

// waitFor polls cond until it holds, the process exits or timeout passes.
func waitFor(timeout time.Duration, exited <-chan struct{}, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-exited:
			return errors.New("it exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// devMedian is the median of d (results.go's median), 0 without samples.
func devMedian(d []time.Duration) time.Duration {
	m, _ := median(d)
	return m
}

// quantile is the q-quantile of d (nearest rank), 0 without samples.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// developTable is the figures as a Markdown table: a row per figure, the
// tools' median and p95, and how many times berth's median the other's is.
func developTable(loops []*devLoop, skipped []string) string {
	var sb strings.Builder
	sb.WriteString("| save → visible | ")
	for _, l := range loops {
		fmt.Fprintf(&sb, "%s median | %s p95 | ", l.t.name, l.t.name)
	}
	sb.WriteString("ratio | saves |\n|---|")
	sb.WriteString(strings.Repeat("---|", 2*len(loops)+2) + "\n")
	for _, what := range loopFigures {
		fmt.Fprintf(&sb, "| %s | ", what)
		for _, l := range loops {
			if len(l.samples[what]) == 0 {
				sb.WriteString("— (does not act on it) | — | ")
				continue
			}
			fmt.Fprintf(&sb, "%s | %s | ", ms(devMedian(l.samples[what])), ms(quantile(l.samples[what], 0.95)))
		}
		ratio := "—"
		if len(loops) == 2 && devMedian(loops[0].samples[what]) > 0 && devMedian(loops[1].samples[what]) > 0 {
			ratio = fmt.Sprintf("%.1fx", float64(devMedian(loops[1].samples[what]))/float64(devMedian(loops[0].samples[what])))
		}
		fmt.Fprintf(&sb, "%s | %d |\n", ratio, len(loops[0].samples[what]))
	}
	for _, l := range loops {
		fmt.Fprintf(&sb, "\n%s: %s", l.t.name, l.t.version)
	}
	for _, s := range skipped {
		fmt.Fprintf(&sb, "\nnot measured: %s", s)
	}
	return sb.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
