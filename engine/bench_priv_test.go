package engine

// Privileged start-up benchmarks: the engine's create→running time for one
// container and for twenty at once, the bare runc floor under it, and the
// memory each shim holds.
//
//	go test -run '^$' -bench . -benchtime 3x ./engine/
//
// The shim these benchmarks run is cmd/berth-shim as TestMain's helpers
// build it (as `make build` does), or, with BERTH_TEST_EXE naming a berth
// built by `make build` (`make bench` sets it), the shim that berth
// carries: what berth ships.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/internal/testutil"
)

// newBenchEngine is newPrivEngine for benchmarks: a fresh root with
// busybox:latest imported, no networks, a silent log, and a cleanup that
// removes every container and whatever the runtime left.
func newBenchEngine(b *testing.B) (*Engine, *image.Store) {
	b.Helper()
	testutil.RequirePrivileged(b)
	shim := shimBinary(b)
	root := b.TempDir()
	runDir := filepath.Join(root, "run")
	images, err := image.Open(root, nil)
	if err != nil {
		b.Fatal(err)
	}
	var tar bytes.Buffer
	if err := testimage.BusyboxRootfs(&tar); err != nil {
		b.Fatal(err)
	}
	if _, err := images.Import(context.Background(), &tar, "busybox:latest", image.ImportOptions{Created: testimage.MTime}); err != nil {
		b.Fatalf("import busybox: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	e, err := New(Options{Root: root, RunDir: runDir, Exe: exeBinary(b), Shim: shim, Logger: log}, images, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { benchCleanup(b, e) })
	return e, images
}

// benchCleanup removes the engine's containers, then by brute force what
// may remain: runtime state, mounts under the root, cgroups.
func benchCleanup(b *testing.B, e *Engine) {
	ctx := context.Background()
	ents, _ := os.ReadDir(e.containersDir())
	for _, ent := range ents {
		if isID(ent.Name()) {
			if err := e.Remove(ctx, ContainerID(ent.Name()), true); err != nil {
				b.Logf("cleanup: remove %s: %v", ent.Name(), err)
			}
		}
	}
	rtRoot := ctrstate.RuntimeRoot(e.opt.RunDir)
	out, _ := exec.Command("runc", "--root", rtRoot, "list", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		if err := exec.Command("runc", "--root", rtRoot, "delete", "--force", id).Run(); err != nil {
			b.Logf("cleanup: runc delete %s: %v", id, err)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], e.opt.Root+"/") {
			_ = unix.Unmount(f[4], unix.MNT_DETACH)
		}
	}
	for _, ent := range ents {
		if isID(ent.Name()) {
			_ = removeCgroups(ContainerConfig{}, ContainerID(ent.Name()))
		}
	}
}

// benchConfig is the benchmarked container: busybox sleeping under the
// init, no networks.
func benchConfig(name string) ContainerConfig {
	return ContainerConfig{Name: name, Image: "busybox", Cmd: []string{"sleep", "3600"}, Init: true}
}

// benchCreateStart creates and starts one container.
func benchCreateStart(ctx context.Context, e *Engine, name string) (ContainerID, error) {
	c, err := e.Create(ctx, benchConfig(name))
	if err != nil {
		return "", err
	}
	if err := e.Start(ctx, c.ID); err != nil {
		return c.ID, err
	}
	return c.ID, nil
}

// benchRemoveAll force-removes the containers ids.
func benchRemoveAll(b *testing.B, e *Engine, ids []ContainerID) {
	b.Helper()
	g, ctx := errgroup.WithContext(context.Background())
	for _, id := range ids {
		if id == "" {
			continue
		}
		g.Go(func() error { return e.Remove(ctx, id, true) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStartOne: create→running of one container (ms/op).
func BenchmarkStartOne(b *testing.B) {
	testutil.RequirePrivileged(b)
	e, _ := newBenchEngine(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		id, err := benchCreateStart(ctx, e, "bench-one-"+strconv.Itoa(i))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		benchRemoveAll(b, e, []ContainerID{id})
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
}

// BenchmarkStartTwenty: create→running of twenty containers at once
// (ms/20).
func BenchmarkStartTwenty(b *testing.B) {
	const n = 20
	testutil.RequirePrivileged(b)
	e, _ := newBenchEngine(b)
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		ids := make([]ContainerID, n)
		t0 := time.Now()
		g, ctx := errgroup.WithContext(context.Background())
		for j := range n {
			g.Go(func() error {
				var err error
				ids[j], err = benchCreateStart(ctx, e, fmt.Sprintf("bench-twenty-%d-%d", i, j))
				return err
			})
		}
		err := g.Wait()
		total += time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		benchRemoveAll(b, e, ids)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "ms/20")
}

// BenchmarkRuncFloor: `runc run -d` of a prepared bundle, the bare floor
// under the engine's start (ms/op). The spec is OCISpec's for the same
// container without the init (sleep runs directly), on the unpacked
// busybox layer as a read-only root.
func BenchmarkRuncFloor(b *testing.B) {
	testutil.RequirePrivileged(b)
	_, images := newBenchEngine(b)
	ctx := context.Background()
	img, err := images.Resolve(ctx, "busybox:latest")
	if err != nil {
		b.Fatal(err)
	}
	dirs, err := images.LayerDirs(ctx, img)
	if err != nil || len(dirs) != 1 {
		b.Fatalf("busybox layers: %v, %v", dirs, err)
	}
	rtRoot, bundles := b.TempDir(), b.TempDir()
	var started []string
	b.Cleanup(func() {
		for _, id := range started {
			_ = exec.Command("runc", "--root", rtRoot, "delete", "-f", id).Run()
			for _, p := range append(benchGlob("/sys/fs/cgroup/*/berth-bench/"+id), "/sys/fs/cgroup/berth-bench/"+id) {
				_ = unix.Rmdir(p)
			}
		}
		for _, p := range append(benchGlob("/sys/fs/cgroup/*/berth-bench"), "/sys/fs/cgroup/berth-bench") {
			_ = unix.Rmdir(p)
		}
	})

	bundle := func(id string) string {
		cfg := benchConfig("floor")
		cfg.Init = false
		spec, err := OCISpec(cfg, img.Config, SpecInputs{
			ID:          ContainerID(id),
			Rootfs:      dirs[0],
			HostRlimits: map[string]uint64{"RLIMIT_NOFILE": 20000},
		})
		if err != nil {
			b.Fatal(err)
		}
		spec.Process.Terminal = false
		spec.Process.Args = []string{"/bin/sleep", "3600"}
		for i, r := range spec.Process.Rlimits {
			if r.Type == "RLIMIT_NOFILE" {
				spec.Process.Rlimits[i].Hard, spec.Process.Rlimits[i].Soft = min(r.Hard, 20000), min(r.Soft, 20000)
			}
		}
		spec.Root.Readonly = true
		spec.Linux.CgroupsPath = "/berth-bench/" + id
		data, err := json.Marshal(spec)
		if err != nil {
			b.Fatal(err)
		}
		dir := filepath.Join(bundles, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
			b.Fatal(err)
		}
		return dir
	}

	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		id := fmt.Sprintf("berth-bench-%d-%d", os.Getpid(), i)
		dir := bundle(id)
		cmd := exec.Command("runc", "--root", rtRoot, "run", "-d", "--bundle", dir, "--pid-file", filepath.Join(dir, "init.pid"), id)
		// Stdio must not be a pipe: the detached container inherits it and
		// Run would wait for it to close. Stdin and stdout: /dev/null.
		errPath := filepath.Join(dir, "stderr")
		errFile, err := os.Create(errPath)
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = errFile
		started = append(started, id)
		b.StartTimer()
		err = cmd.Run()
		b.StopTimer()
		_ = errFile.Close()
		if err != nil {
			msg, _ := os.ReadFile(errPath)
			b.Fatalf("runc run: %v: %s", err, msg)
		}
		if out, err := exec.Command("runc", "--root", rtRoot, "kill", id, "KILL").CombinedOutput(); err != nil {
			b.Logf("runc kill %s: %v: %s", id, err, out)
		}
		if out, err := exec.Command("runc", "--root", rtRoot, "delete", "-f", id).CombinedOutput(); err != nil {
			b.Fatalf("runc delete %s: %v: %s", id, err, out)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
}

func benchGlob(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

// BenchmarkShimRSS: the memory each shim of five running containers holds:
// VmRSS (KiB-rss/shim, what the budget is about), and from
// smaps_rollup its proportional set size (KiB-pss/shim) and private pages
// (KiB-private/shim).
func BenchmarkShimRSS(b *testing.B) {
	const n = 5
	testutil.RequirePrivileged(b)
	e, _ := newBenchEngine(b)
	ctx := context.Background()
	var sum procMem
	var count int64
	for i := range b.N {
		ids := make([]ContainerID, 0, n)
		for j := range n {
			id, err := benchCreateStart(ctx, e, fmt.Sprintf("bench-rss-%d-%d", i, j))
			if id != "" {
				ids = append(ids, id)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		for _, id := range ids {
			var sf struct {
				ShimPid int `json:"shim_pid"`
			}
			data, err := os.ReadFile(filepath.Join(ctrstate.Dir(e.opt.Root, string(id)), ctrstate.StateFile))
			if err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(data, &sf); err != nil || sf.ShimPid == 0 {
				b.Fatalf("%s: shim pid: %v (%s)", ctrstate.StateFile, err, data)
			}
			m, err := readProcMem(sf.ShimPid)
			if err != nil {
				b.Fatal(err)
			}
			sum.add(m)
			count++
		}
		benchRemoveAll(b, e, ids)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(sum.rss)/float64(count), "KiB-rss/shim")
	b.ReportMetric(float64(sum.pss)/float64(count), "KiB-pss/shim")
	b.ReportMetric(float64(sum.private)/float64(count), "KiB-private/shim")
}

// procMem is a process's memory, in KiB: VmRSS from status, Pss and
// Private_Clean+Private_Dirty from smaps_rollup.
type procMem struct{ rss, pss, private int64 }

func (m *procMem) add(o procMem) { m.rss += o.rss; m.pss += o.pss; m.private += o.private }

// readProcMem reads procMem of process pid.
func readProcMem(pid int) (procMem, error) {
	var m procMem
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	status, err := os.ReadFile(dir + "status")
	if err != nil {
		return m, err
	}
	rollup, err := os.ReadFile(dir + "smaps_rollup")
	if err != nil {
		return m, err
	}
	fields := map[string]*int64{"VmRSS:": &m.rss, "Pss:": &m.pss, "Private_Clean:": &m.private, "Private_Dirty:": &m.private}
	seen := 0
	for _, line := range strings.Split(string(status)+string(rollup), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if dst, ok := fields[f[0]]; ok {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return m, fmt.Errorf("pid %d: %s: %w", pid, line, err)
			}
			*dst += v
			seen++
		}
	}
	if seen < len(fields) {
		return m, fmt.Errorf("pid %d: memory figures missing from status and smaps_rollup", pid)
	}
	return m, nil
}
