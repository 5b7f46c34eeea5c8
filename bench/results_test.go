package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/testutil"
)

// results gathers every sample of a run and what RESULTS.md says about
// each tool. The benchmarks run one at a time, so it needs no lock.
type results struct {
	order    []string          // tool names, in column order
	titles   map[string]string // column headers
	versions map[string]string
	notes    map[string][]string
	skipped  map[string]string
	failed   map[string][]string
	left     map[string][]string
	samples  map[sampleKey][]time.Duration

	round     int                     // rounds run so far, over every size; rotates the tools' order
	floor     map[int][]time.Duration // bare runc start of n containers, by n
	floorSC   map[int][]time.Duration // the same with Docker's default seccomp profile
	floorNote string                  // what the floor is, or why it is missing
}

type sampleKey struct {
	tool  string
	n     int
	phase string
}

func newResults() *results {
	return &results{
		titles:   make(map[string]string),
		versions: make(map[string]string),
		notes:    make(map[string][]string),
		skipped:  make(map[string]string),
		failed:   make(map[string][]string),
		left:     make(map[string][]string),
		samples:  make(map[sampleKey][]time.Duration),
		floor:    make(map[int][]time.Duration),
		floorSC:  make(map[int][]time.Duration),
	}
}

func (r *results) addFloor(n int, d time.Duration) { r.floor[n] = append(r.floor[n], d) }

func (r *results) addFloorSeccomp(n int, d time.Duration) { r.floorSC[n] = append(r.floorSC[n], d) }

func (r *results) declare(tool, title string) {
	if !slices.Contains(r.order, tool) {
		r.order = append(r.order, tool)
	}
	r.titles[tool] = title
}

func (r *results) describe(tool, version string, notes []string) {
	r.versions[tool] = version
	r.notes[tool] = notes
}

func (r *results) skip(tool, reason string)         { r.skipped[tool] = reason }
func (r *results) fail(tool, msg string)            { r.failed[tool] = append(r.failed[tool], msg) }
func (r *results) leftover(tool string, v []string) { r.left[tool] = v }

func (r *results) add(tool string, n int, phase string, d time.Duration) {
	k := sampleKey{tool, n, phase}
	r.samples[k] = append(r.samples[k], d)
}

// median is the median of v, or false if v is empty.
func median(v []time.Duration) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// cell is "median (min–max)" in seconds, or "—" without samples.
func cell(v []time.Duration) string {
	m, ok := median(v)
	if !ok {
		return "—"
	}
	if len(v) == 1 {
		return seconds(m)
	}
	return fmt.Sprintf("%s (%s–%s)", seconds(m), seconds(slices.Min(v)), seconds(slices.Max(v)))
}

// phaseTitles name the phases in RESULTS.md.
var phaseTitles = map[string]string{
	phaseColdUp:   "cold `up -d`",
	phaseNoopUp:   "no-op `up -d`",
	phaseChangeUp: "`up -d`, one service changed",
	phaseDown:     "`down -v`",
}

// goal is one of the project's targets for berth (issue 16).
type goal struct {
	phase    string
	n        int
	minRatio float64       // fastest peer ÷ berth at least this, if set
	under    time.Duration // berth's median at most this, if set
	floorX   float64       // berth's median at most this many times the floor's, if set
}

var goals = []goal{
	{phase: phaseNoopUp, n: 20, under: 15 * time.Millisecond},
	{phase: phaseNoopUp, n: 20, minRatio: 10},
	{phase: phaseColdUp, n: 20, floorX: 2},
	{phase: phaseColdUp, n: 20, minRatio: 5},
	{phase: phaseChangeUp, n: 20, under: 150 * time.Millisecond},
	{phase: phaseDown, n: 20, under: 400 * time.Millisecond},
	{phase: phaseDown, n: 1, minRatio: 4},
	{phase: phaseDown, n: 5, minRatio: 4},
	{phase: phaseDown, n: 20, minRatio: 4},
}

// fastestPeer is the peer with the lowest median for (n, phase).
func (r *results) fastestPeer(n int, phase string) (string, time.Duration, bool) {
	best, bestD, found := "", time.Duration(0), false
	for _, tool := range r.order {
		if tool == "berth" {
			continue
		}
		if d, ok := median(r.samples[sampleKey{tool, n, phase}]); ok && (!found || d < bestD) {
			best, bestD, found = tool, d, true
		}
	}
	return best, bestD, found
}

// cycles is how many samples each cell's median is taken over (the
// smallest count, if they differ).
func (r *results) cycles() int {
	c := 0
	for _, v := range r.samples {
		if c == 0 || len(v) < c {
			c = len(v)
		}
	}
	return c
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// markdown renders the results as of now.
func (r *results) markdown(now time.Time) []byte {
	var w bytes.Buffer
	writeHeading(&w, "Compose projects", "hack/bench-compose.sh", "BenchmarkCompose", now)
	fmt.Fprintf(&w, "The tools run interleaved, round by round "+
		"(each round every tool runs one cycle, starting with a different tool), %d rounds per size "+
		"(`-benchtime Nx` runs each size once, then N times; every round counts). Each cell is the "+
		"median in seconds, with the fastest and slowest run, of: cold `up -d` until every service runs, "+
		"no-op `up -d`, `up -d` after changing one environment variable of `s1`, `down -v`. Projects: "+
		"N busybox services `sleep 3600` with `init: true`, a named volume each, one `internal` network; "+
		"the same image in every tool. Each phase's Compose file is written before its command, untimed, and the "+
		"bench waits until the clock is past the file's timestamps, as for a file saved before a command is typed. "+
		"After each phase, untimed, the bench checks that N containers run "+
		"(and after the change that exactly `s1` was recreated), or that nothing of the project is left.\n\n",
		r.cycles())

	r.writeVersions(&w, "tool")
	if r.floorNote != "" {
		fmt.Fprintf(&w, "| floor | %s |\n", oneLine(r.floorNote))
	}
	w.WriteString("\n")

	w.WriteString("| phase | services |")
	for _, tool := range r.order {
		fmt.Fprintf(&w, " %s (s) |", r.titles[tool])
	}
	w.WriteString(" fastest peer ÷ berth |\n| --- | --: |")
	for range r.order {
		w.WriteString(" --: |")
	}
	w.WriteString(" --: |\n")
	for _, ph := range cycle {
		for _, n := range sizes {
			fmt.Fprintf(&w, "| %s | %d |", phaseTitles[ph.name], n)
			for _, tool := range r.order {
				fmt.Fprintf(&w, " %s |", cell(r.samples[sampleKey{tool, n, ph.name}]))
			}
			fmt.Fprintf(&w, " %s |\n", r.ratioCell(n, ph.name))
		}
	}
	if len(r.floor) > 0 {
		w.WriteString("\nThe floor: N bare `runc run -d` of prepared bundles (`runc spec`'s, one read-only " +
			"busybox root, `sleep 3600`), as many at once as there are CPUs, measured in the same rounds; " +
			"beside it the same bundles with Docker's default seccomp profile, which berth (as Docker) " +
			"gives every container and runc compiles for each one it starts. The goal is measured " +
			"against the first.\n\n| services | floor (s) | berth cold `up -d` ÷ floor | floor with seccomp (s) | " +
			"berth ÷ floor with seccomp |\n| --: | --: | --: | --: | --: |\n")
		bx := func(n int, floor map[int][]time.Duration) string {
			fd, fok := median(floor[n])
			bd, bok := median(r.samples[sampleKey{"berth", n, phaseColdUp}])
			if fok && bok && fd > 0 {
				return fmt.Sprintf("%.1fx", bd.Seconds()/fd.Seconds())
			}
			return "—"
		}
		for _, n := range sizes {
			fmt.Fprintf(&w, "| %d | %s | %s | %s | %s |\n", n, cell(r.floor[n]), bx(n, r.floor), cell(r.floorSC[n]), bx(n, r.floorSC))
		}
	}

	r.writeScale(&w)

	w.WriteString("\nGoals for berth (issue 16):\n\n")
	for _, g := range goals {
		fmt.Fprintf(&w, "- %s, %d services, %s: %s\n", phaseTitles[g.phase], g.n, g.target(), r.goalStatus(g))
	}

	var notes []string
	for _, tool := range r.order {
		for _, f := range r.failed[tool] {
			notes = append(notes, fmt.Sprintf("%s failed: %s", r.titles[tool], fence(f)))
		}
		for _, n := range r.notes[tool] {
			notes = append(notes, n)
		}
		if len(r.left[tool]) > 0 {
			notes = append(notes, fmt.Sprintf("after %s's teardown the host had, new (possibly another user's): %s",
				r.titles[tool], strings.Join(r.left[tool], "; ")))
		}
	}
	if len(notes) > 0 {
		w.WriteString("\nNotes:\n\n")
		for _, n := range notes {
			fmt.Fprintf(&w, "- %s\n", n)
		}
	}
	return w.Bytes()
}

// writeHeading writes a results file's title and where and when it was
// measured.
func writeHeading(w *bytes.Buffer, what, script, bench string, now time.Time) {
	fmt.Fprintf(w, "# berth beside its peers: %s\n\n", what)
	fmt.Fprintf(w, "Written by `%s` (`%s` in `bench/`) on %s, on %s, %s, %d CPUs, load average %s at the end. ",
		script, bench, now.UTC().Format("2006-01-02 15:04 UTC"), kernel(), cpuModel(), runtime.NumCPU(), loadAverage())
}

// benchStart skips unless BERTH_BENCH=1, requires root, and returns the
// working directory and the busybox rootfs tarball every tool imports.
func benchStart(b *testing.B) (work, rootfs string) {
	if os.Getenv(envEnable) != "1" {
		b.Skipf("set %s=1 to run (as root; see bench/README.md)", envEnable)
	}
	testutil.RequirePrivileged(b)
	work = workDir(b)
	rootfs = filepath.Join(work, "busybox-rootfs.tar")
	buildRootfs(b, rootfs)
	return work, rootfs
}

// writeVersions writes the table of what was measured of each tool
// (first column headed what).
func (r *results) writeVersions(w *bytes.Buffer, what string) {
	fmt.Fprintf(w, "| %s | version |\n| --- | --- |\n", what)
	for _, tool := range r.order {
		v := r.versions[tool]
		switch {
		case r.skipped[tool] != "":
			v = "not run: " + oneLine(r.skipped[tool])
		case v == "" && len(r.failed[tool]) > 0:
			v = "set-up failed"
		case v == "":
			v = "not run (left out by -bench)"
		}
		fmt.Fprintf(w, "| %s | %s |\n", r.titles[tool], v)
	}
}

// setUp declares tool name (shown as title), and sets it up unless it is
// opt-in (optIn, an environment variable, is not "1") or unavailable here,
// which RESULTS.md then says. A nil result means: go on without it.
func setUp[T any](b *testing.B, r *results, name, title, optIn string, setup func() (T, string, []string, error)) (T, bool) {
	var zero T
	r.declare(name, title)
	if optIn != "" && os.Getenv(optIn) != "1" {
		r.skip(name, fmt.Sprintf("left out (set %s=1 to run it)", optIn))
		return zero, false
	}
	v, version, notes, err := setup()
	if errors.Is(err, errUnavailable) {
		r.skip(name, err.Error())
		b.Logf("%s skipped: %v", name, err)
		return zero, false
	}
	if err != nil {
		r.fail(name, err.Error())
		b.Fatalf("%s: set-up: %v", name, err)
	}
	r.describe(name, version, notes)
	for _, n := range notes {
		b.Logf("%s: %s", name, n)
	}
	return v, true
}

// target says what g asks.
func (g goal) target() string {
	switch {
	case g.under > 0:
		return fmt.Sprintf("at most %s s", seconds(g.under))
	case g.floorX > 0:
		return fmt.Sprintf("within %.0fx of the floor", g.floorX)
	default:
		return fmt.Sprintf("at least %.0fx faster than the fastest peer", g.minRatio)
	}
}

// ratioCell is "4.2x (Docker Compose)": the fastest peer's median over berth's.
func (r *results) ratioCell(n int, phase string) string {
	peer, pd, ok := r.fastestPeer(n, phase)
	bd, bok := median(r.samples[sampleKey{"berth", n, phase}])
	if !ok || !bok || bd <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1fx (%s)", pd.Seconds()/bd.Seconds(), r.titles[peer])
}

func (r *results) goalStatus(g goal) string {
	bd, ok := median(r.samples[sampleKey{"berth", g.n, g.phase}])
	if !ok {
		return "not measured"
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	switch {
	case g.under > 0:
		return fmt.Sprintf("%s s, %s", seconds(bd), met(bd <= g.under))
	case g.floorX > 0:
		fd, fok := median(r.floor[g.n])
		if !fok || fd <= 0 {
			return fmt.Sprintf("%s s, no floor measured", seconds(bd))
		}
		x := bd.Seconds() / fd.Seconds()
		return fmt.Sprintf("%.1fx the floor, %s", x, met(x <= g.floorX))
	}
	_, pd, pok := r.fastestPeer(g.n, g.phase)
	if !pok || bd <= 0 {
		return fmt.Sprintf("%s s, no peer measured", seconds(bd))
	}
	ratio := pd.Seconds() / bd.Seconds()
	return fmt.Sprintf("%.1fx, %s", ratio, met(ratio >= g.minRatio))
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAverage is the first three fields of /proc/loadavg: other work on
// the machine slows every tool alike, but widens the spread.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// writeMarkdown writes the results to path, atomically.
func (r *results) writeMarkdown(path string, now time.Time) error {
	return atomicfile.WriteFile(path, r.markdown(now), 0o644)
}

// kernel is "Linux 6.1.0" or "Linux".
func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "Linux"
	}
	return "Linux " + strings.TrimSpace(string(b))
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.ReplaceAll(s, "|", `\|`)
}

// fence puts a multi-line message in a code block under its list item.
func fence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "\n") {
		return "`" + strings.ReplaceAll(s, "`", "'") + "`"
	}
	return "\n\n  ```\n  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n  ```\n"
}

// writeScale writes how each of berth's figures grows from the largest
// goal size (20) to the largest size measured: the ratio of the medians
// beside the ratio of the sizes. A figure grows at most linearly when the
// first is not above the second.
func (r *results) writeScale(w *bytes.Buffer) {
	from, to := 20, slices.Max(sizes)
	if to <= from || !slices.Contains(sizes, from) {
		return
	}
	fmt.Fprintf(w, "\nScale: each figure at %d services ÷ the same at %d (%.0fx the services; "+
		"above that is faster than linear).\n\n| phase |", to, from, float64(to)/float64(from))
	for _, tool := range r.order {
		fmt.Fprintf(w, " %s |", r.titles[tool])
	}
	w.WriteString("\n| --- |")
	for range r.order {
		w.WriteString(" --: |")
	}
	w.WriteString("\n")
	for _, ph := range cycle {
		fmt.Fprintf(w, "| %s |", phaseTitles[ph.name])
		for _, tool := range r.order {
			a, aok := median(r.samples[sampleKey{tool, from, ph.name}])
			b, bok := median(r.samples[sampleKey{tool, to, ph.name}])
			if !aok || !bok || a <= 0 {
				w.WriteString(" — |")
				continue
			}
			x := b.Seconds() / a.Seconds()
			mark := ""
			if x > float64(to)/float64(from) {
				mark = " (faster than linear)"
			}
			fmt.Fprintf(w, " %.1fx%s |", x, mark)
		}
		w.WriteString("\n")
	}
}
