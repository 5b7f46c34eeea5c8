package bench

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// envBuildResults names the Markdown file BenchmarkBuild writes.
const envBuildResults = "BERTH_BENCH_BUILD_RESULTS"

// The phases of a build cycle.
const (
	phaseColdBuild   = "cold-build"
	phaseNoopBuild   = "noop-build"
	phaseChangeBuild = "change-one-build"
)

var buildPhases = []string{phaseColdBuild, phaseNoopBuild, phaseChangeBuild}

var buildPhaseTitles = map[string]string{
	phaseColdBuild:   "(a) cold build",
	phaseNoopBuild:   "(b) rebuild, nothing changed",
	phaseChangeBuild: "(c) rebuild, one source file changed",
}

// buildGoals are issue 13's targets for berth beside BuildKit.
var buildGoals = []goal{
	{phase: phaseNoopBuild, minRatio: 5},
	{phase: phaseNoopBuild, under: 30 * time.Millisecond},
	{phase: phaseColdBuild, minRatio: 1.5},
	{phase: phaseChangeBuild, minRatio: 1.5},
}

// benchDockerfile is the 3-stage build every builder runs: a dependency
// stage, a build stage that copies from it and from the context, and a
// final stage that copies the build's output. No step needs a network.
const benchDockerfile = `FROM busybox AS deps
WORKDIR /deps
COPY deps.txt ./
RUN sort deps.txt > deps.sorted && wc -l deps.sorted > deps.count

FROM busybox AS build
WORKDIR /src
COPY --from=deps /deps/deps.sorted /deps/deps.count ./
COPY src/ ./
RUN cat *.txt | tr a-z A-Z > app.out && wc -c app.out > app.size

FROM busybox
COPY --from=build /src/app.out /src/app.size /app/
CMD ["cat", "/app/app.out"]
`

// benchSources are the context's files: 20 small sources and the deps.
func benchSources(rev string) map[string]string {
	files := map[string]string{"Dockerfile": benchDockerfile, "deps.txt": "zlib\nopenssl\ncurl\nbusybox\n"}
	for i := range 20 {
		files[fmt.Sprintf("src/file%02d.txt", i)] = fmt.Sprintf("source file %d\n", i)
	}
	files["src/file07.txt"] = "source file 7, " + rev + "\n"
	return files
}

// builder is one tool's way of building and of forgetting what it built.
type builder struct {
	t *tool
	// build is the command line of a build of dir tagged tag that prints
	// the image ID last.
	build func(dir, tag string) []string
	// rmImage removes the built image (its failure is ignored: there may
	// be none) and prune the whole build cache, untimed, so that the next
	// build is cold; the base image stays.
	rmImage, prune []string
}

const benchTag = "benchbuild:latest"

// BenchmarkBuild times, round by round with the builders interleaved, a
// cold build of a 3-stage Dockerfile on busybox, a rebuild with nothing
// changed and a rebuild after one source file changed, with berth's
// builder, BuildKit (docker build with DOCKER_BUILDKIT=1 on a private
// dockerd) and, with BERTH_BENCH_PODMAN=1, podman build. Each phase is a
// metric ("s/berth-noop-build", …); every sample goes to the Markdown file
// BERTH_BENCH_BUILD_RESULTS names, as medians with their spread and the
// ratios to BuildKit.
func BenchmarkBuild(b *testing.B) {
	work, rootfs := benchStart(b)
	res := newResults()
	quiet := func(dir, tag string) []string { return []string{"build", "--network", "none", "-q", "-t", tag, dir} }
	setups := []struct {
		name, title, optIn string
		setup              func(b *testing.B, work, rootfs string) (*builder, error)
	}{
		{"berth", "berth", "", func(b *testing.B, work, rootfs string) (*builder, error) {
			t, err := setupBerth(b, work, rootfs)
			if err != nil {
				return nil, err
			}
			return &builder{t: t,
				build: func(dir, tag string) []string {
					return append(slices.Clone(t.cli), append([]string{"image"}, quiet(dir, tag)...)...)
				},
				rmImage: append(slices.Clone(t.cli), "image", "rm", "-f", benchTag),
				prune:   append(slices.Clone(t.cli), "builder", "prune", "-a", "-f"),
			}, nil
		}},
		{"buildkit", "BuildKit (docker build)", "", func(b *testing.B, work, rootfs string) (*builder, error) {
			t, _, err := startDockerd(b, work, rootfs)
			if err != nil {
				return nil, err
			}
			t.name = "buildkit"
			t.env = append(t.env, "DOCKER_BUILDKIT=1")
			cv, _ := output(b.Context(), work, t.env, t.cli[0], "version", "--format", "{{.Client.Version}}")
			t.version = fmt.Sprintf("docker build %s (DOCKER_BUILDKIT=1) on %s", cv, t.version)
			return &builder{t: t,
				build:   func(dir, tag string) []string { return append(slices.Clone(t.cli), quiet(dir, tag)...) },
				rmImage: append(slices.Clone(t.cli), "rmi", "-f", benchTag),
				prune:   append(slices.Clone(t.cli), "builder", "prune", "-a", "-f"),
			}, nil
		}},
		{"podman", "podman build", envPodman, func(b *testing.B, work, rootfs string) (*builder, error) {
			t, pod, err := startPodman(b, work, rootfs, "")
			if err != nil {
				return nil, err
			}
			t.version += " (buildah, runc)"
			return &builder{t: t,
				build: func(dir, tag string) []string { return pod(quiet(dir, tag)...) },
				// The build cache is the intermediate images, dangling once
				// the image is gone.
				rmImage: pod("rmi", "-f", benchTag), prune: pod("image", "prune", "-f"),
			}, nil
		}},
	}
	var builders []*builder
	for _, s := range setups {
		bl, ok := setUp(b, res, s.name, s.title, s.optIn, func() (*builder, string, []string, error) {
			bl, err := s.setup(b, filepath.Join(work, s.name), rootfs)
			if err != nil {
				return nil, "", nil, err
			}
			return bl, bl.t.version, bl.t.notes, nil
		})
		if ok {
			builders = append(builders, bl)
		}
	}
	sums := map[string]time.Duration{}
	for i := 0; i < b.N; i++ {
		res.round++
		for j := range builders {
			bl := builders[(j+res.round)%len(builders)]
			for phase, d := range buildCycle(b, bl, res) {
				sums[bl.t.name+"-"+phase] += d
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sums)) {
		b.ReportMetric(sums[k].Seconds()/float64(b.N), "s/"+k)
	}
	b.ReportMetric(0, "ns/op")
	if path := os.Getenv(envBuildResults); path != "" {
		if err := atomicfile.WriteFile(path, res.buildMarkdown(time.Now()), 0o644); err != nil {
			b.Fatalf("results: %v", err)
		}
		b.Logf("wrote %s", path)
	}
}

// buildCycle runs one cycle of bl on a fresh context: cold, no-op and
// one-change builds, and checks, untimed, that each made an image: the
// no-op the same as the cold one, the change a new one.
func buildCycle(b *testing.B, bl *builder, res *results) map[string]time.Duration {
	ctx := b.Context()
	dir := filepath.Join(b.TempDir(), bl.t.name)
	write := func(rev string) {
		for p, data := range benchSources(rev) {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	fail := func(msg string) {
		res.fail(bl.t.name, msg)
		b.Fatalf("%s: %s", bl.t.name, msg)
	}
	_, _, _ = bl.t.run(ctx, bl.rmImage...)
	if _, _, err := bl.t.run(ctx, bl.prune...); err != nil {
		fail(fmt.Sprintf("prune the build cache: %v", err))
	}
	write("first")
	times := map[string]time.Duration{}
	ids := map[string]string{}
	for _, phase := range buildPhases {
		if phase == phaseChangeBuild {
			write(fmt.Sprintf("changed in round %d", res.round))
		}
		d, out, err := bl.t.run(ctx, bl.build(dir, benchTag)...)
		if err != nil {
			fail(fmt.Sprintf("%s: %v", phase, err))
		}
		lines := nonEmptyLines(string(out))
		if len(lines) == 0 {
			fail(fmt.Sprintf("%s: no image ID printed", phase))
		}
		ids[phase] = strings.TrimPrefix(lines[len(lines)-1], "sha256:")
		times[phase] = d
		res.add(bl.t.name, 0, phase, d)
	}
	if ids[phaseNoopBuild] != ids[phaseColdBuild] || ids[phaseChangeBuild] == ids[phaseColdBuild] {
		fail(fmt.Sprintf("image IDs cold %s, no-op %s, changed %s: want the no-op's the cold one's and the change's new",
			ids[phaseColdBuild], ids[phaseNoopBuild], ids[phaseChangeBuild]))
	}
	return times
}

// buildRatio is tool's median over berth's for phase.
func (r *results) buildRatio(tool, phase string) (float64, bool) {
	pd, pok := median(r.samples[sampleKey{tool, 0, phase}])
	bd, bok := median(r.samples[sampleKey{"berth", 0, phase}])
	if !pok || !bok || bd <= 0 {
		return 0, false
	}
	return pd.Seconds() / bd.Seconds(), true
}

// buildMarkdown renders BenchmarkBuild's results.
func (r *results) buildMarkdown(now time.Time) []byte {
	var w bytes.Buffer
	writeHeading(&w, "image builds", "hack/bench-build.sh", "BenchmarkBuild", now)
	fmt.Fprintf(&w, "The builders run interleaved, round by round (each round every builder runs "+
		"one cycle, starting with a different one), %d rounds (`-benchtime Nx` runs once, then N times; every "+
		"round counts). A cycle, on a new context: the image and the whole build cache removed (untimed), then "+
		"(a) a cold build, (b) the same build again, (c) a build after one of the 21 source files changed. The "+
		"Dockerfile has 3 stages on the same busybox image in every builder (2 RUN, 5 COPY, two of them "+
		"`--from` a stage); every build runs with `--network none -q`. Each cell is the median in seconds, with the "+
		"fastest and slowest run, from the command's start to its exit. Untimed, the bench checks that (b) made the "+
		"image (a) made and (c) a new one.\n\n", r.cycles())
	r.writeVersions(&w, "builder")
	w.WriteString("\n| phase |")
	for _, tool := range r.order {
		fmt.Fprintf(&w, " %s (s) |", r.titles[tool])
	}
	w.WriteString(" BuildKit ÷ berth | podman ÷ berth |\n| --- |")
	for range r.order {
		w.WriteString(" --: |")
	}
	w.WriteString(" --: | --: |\n")
	for _, ph := range buildPhases {
		fmt.Fprintf(&w, "| %s |", buildPhaseTitles[ph])
		for _, tool := range r.order {
			fmt.Fprintf(&w, " %s |", cell(r.samples[sampleKey{tool, 0, ph}]))
		}
		for _, peer := range []string{"buildkit", "podman"} {
			if x, ok := r.buildRatio(peer, ph); ok {
				fmt.Fprintf(&w, " %.1fx |", x)
			} else {
				w.WriteString(" — |")
			}
		}
		w.WriteString("\n")
	}
	w.WriteString("\nGoals for berth (issue 13):\n\n")
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	for _, g := range buildGoals {
		status := "not measured"
		bd, ok := median(r.samples[sampleKey{"berth", 0, g.phase}])
		switch {
		case ok && g.under > 0:
			status = fmt.Sprintf("%.1f ms, %s", bd.Seconds()*1000, met(bd <= g.under))
		case ok && g.minRatio > 0:
			if x, ok := r.buildRatio("buildkit", g.phase); ok {
				status = fmt.Sprintf("%.1fx, %s", x, met(x >= g.minRatio))
			}
		}
		target := fmt.Sprintf("at least %gx faster than BuildKit", g.minRatio)
		if g.under > 0 {
			target = fmt.Sprintf("under %d ms", g.under.Milliseconds())
		}
		fmt.Fprintf(&w, "- %s, %s: %s\n", buildPhaseTitles[g.phase], target, status)
	}
	var notes []string
	for _, tool := range r.order {
		for _, f := range r.failed[tool] {
			notes = append(notes, fmt.Sprintf("%s failed: %s", r.titles[tool], fence(f)))
		}
		notes = append(notes, r.notes[tool]...)
	}
	if len(notes) > 0 {
		w.WriteString("\nNotes:\n\n")
		for _, n := range notes {
			fmt.Fprintf(&w, "- %s\n", n)
		}
	}
	return w.Bytes()
}
