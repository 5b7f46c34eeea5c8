//go:build e2e

package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gatedRun is a RUN step that says "waiting-at-42" and then waits until the
// test opens its gate (creates /gate in the step's container with exec);
// the gate is gone from the layer.
const gatedRun = `RUN echo waiting-at-$((6*7)) && while [ ! -e /gate ]; do sleep 0.05; done && rm /gate && echo passed > /passed`

// bgBuild is a berth image build running in the background, its progress
// read line by line.
type bgBuild struct {
	cmd    *exec.Cmd
	lines  chan string   // the build's stderr, closed at its end
	exited chan struct{} // closed once it exited; err is then set
	err    error
	out    strings.Builder
}

func (h *harness) startBuild(args ...string) *bgBuild {
	h.t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", h.root, "image", "build", "--progress", "plain"}, args...)...)
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
	pr, err := cmd.StderrPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	b := &bgBuild{cmd: cmd, lines: make(chan string, 1<<16), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
		b.err = cmd.Wait()
		close(b.exited)
	}()
	h.t.Cleanup(func() {
		select {
		case <-b.exited:
		default:
			_ = cmd.Process.Kill()
			<-b.exited
		}
	})
	return b
}

// waitLine waits until the build prints a line containing s; the build
// ending first, or a minute passing, fails the test.
func (b *bgBuild) waitLine(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				t.Fatalf("the build ended before printing %q:\n%s", s, b.out.String())
			}
			b.out.WriteString(l + "\n")
			if strings.Contains(l, s) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q from the build within a minute:\n%s", s, b.out.String())
		}
	}
}

// wait waits for the build's exit and returns its code.
func (b *bgBuild) wait(t *testing.T) int {
	t.Helper()
	for l := range b.lines {
		b.out.WriteString(l + "\n")
	}
	<-b.exited
	err := b.err
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// buildContainers are the IDs of the root's RUN containers.
func (h *harness) buildContainers() []string {
	h.t.Helper()
	return nonEmpty(strings.Split(h.mustBerth("container", "ls", "-a", "-q", "--filter", "label=berth.build=1"), "\n"))
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// openGate lets the one gated RUN step that runs go on.
func (h *harness) openGate() {
	h.t.Helper()
	ids := h.buildContainers()
	if len(ids) != 1 {
		h.t.Fatalf("%d RUN containers, want 1", len(ids))
	}
	h.mustBerth("container", "exec", ids[0], "touch", "/gate")
}

// checkBuildCacheWhole fails if the build cache holds a half-made layer: a
// scratch file or one whose content does not match its name.
func (h *harness) checkBuildCacheWhole() {
	h.t.Helper()
	dir := filepath.Join(h.root, "build")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), ".run-") {
			h.t.Errorf("left in the build cache: %s", e.Name())
		}
	}
	layers, _ := filepath.Glob(filepath.Join(dir, "layers", "*"))
	for _, l := range layers {
		f, err := os.Open(l)
		if err != nil {
			h.t.Fatal(err)
		}
		sum := sha256.New()
		_, err = io.Copy(sum, f)
		_ = f.Close()
		if err != nil {
			h.t.Fatal(err)
		}
		if got := hex.EncodeToString(sum.Sum(nil)); got != filepath.Base(l) {
			h.t.Errorf("layer %s holds content of digest %s: half made", filepath.Base(l), got)
		}
	}
}

// TestBuildInterrupted: a build killed (SIGKILL) or interrupted (SIGINT)
// during a RUN, or killed while it writes a COPY's layer, leaves no half
// layer; an interrupted build removes its RUN container itself, and what a
// killed one left (its container, its scratch files) goes with the next
// build, which reuses every step the first one finished.
func TestBuildInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		copy bool // interrupt while the COPY's layer is written, not during a RUN
		// the RUN binds an image: an overlay mounted under the build's
		// scratch directory on the host, which the next build unmounts
		mount bool
	}{
		{"SIGKILL during RUN", syscall.SIGKILL, false, false},
		{"SIGINT during RUN", syscall.SIGINT, false, false},
		{"SIGKILL during COPY", syscall.SIGKILL, true, false},
		{"SIGKILL during RUN with a bind mount", syscall.SIGKILL, false, true},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			h := newHarness(t)
			dir := t.TempDir()
			df := "FROM busybox\nRUN echo one > /one\n"
			if tc.copy {
				// Big enough that writing its layer takes a while.
				f, err := os.Create(filepath.Join(dir, "big"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.CopyN(f, zeroReader{}, 256<<20); err != nil {
					t.Fatal(err)
				}
				_ = f.Close()
				df += "COPY big /big\n"
			} else if tc.mount {
				df += strings.Replace(gatedRun, "RUN ", "RUN --mount=type=bind,from=busybox,target=/b,rw ", 1) + "\n"
			} else {
				df += gatedRun + "\n"
			}
			writeFile(t, filepath.Join(dir, "Dockerfile"), df)
			b := h.startBuild("--network", "none", "-t", "app:1", dir)
			if tc.copy {
				h.waitScratchLayer(b)
			} else {
				b.waitLine(t, "waiting-at-42")
			}
			if err := b.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			if code := b.wait(t); code == 0 {
				t.Fatalf("the interrupted build succeeded:\n%s", b.out.String())
			}
			if tc.sig == syscall.SIGINT {
				// Interrupted, not killed: it cleaned up itself.
				if ids := h.buildContainers(); len(ids) != 0 {
					t.Errorf("RUN containers left by the interrupted build: %q", ids)
				}
				h.checkBuildCacheWhole()
			}
			if r := h.berth("image", "inspect", "app:1"); r.code == 0 {
				t.Errorf("the interrupted build named app:1")
			}

			// The next build (the gated step made a plain one) works and
			// reuses the finished step.
			next := strings.Replace(df, gatedRun, "RUN echo passed > /passed", 1)
			next = strings.Replace(next, gatedRun[len("RUN "):], "echo passed > /passed", 1)
			writeFile(t, filepath.Join(dir, "Dockerfile"), next)
			r := h.berth("image", "build", "--progress", "plain", "--network", "none", "-t", "app:1", dir)
			if r.code != 0 {
				t.Fatalf("the next build: exit %d\n%s", r.code, r.stderr)
			}
			// The gated RUN never finished; the COPY most likely did not (a
			// scheduler's delay may let it finish before the kill lands).
			ran := ranSteps(r.stderr)
			if len(ran) > 1 || (len(ran) == 0 && !tc.copy) || (len(ran) == 1 && strings.Contains(ran[0], "echo one")) {
				t.Errorf("the next build ran %q, want only the step the first did not finish", ran)
			}
			if ids := h.buildContainers(); len(ids) != 0 {
				t.Errorf("RUN containers left after the next build: %q", ids)
			}
			h.checkBuildCacheWhole()
			h.mustBerth("image", "rm", "app:1")
		})
	}
}

// waitScratchLayer waits until the build writes the big COPY's layer into
// its scratch file in the cache (a file of more than a MiB: the RUN's
// layer before it is a few hundred bytes). The layer is written in a few
// hundred milliseconds, so the cache is looked at every 2 ms, not with
// eventually's growing delay, which could step over the whole write.
func (h *harness) waitScratchLayer(b *bgBuild) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		ents, _ := os.ReadDir(filepath.Join(h.root, "build"))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), ".tmp-") && fi.Mode().IsRegular() && fi.Size() > 1<<20 {
				return
			}
		}
		select {
		case <-b.exited:
			h.t.Fatalf("the build ended before it wrote the layer:\n%s", b.out.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("not within a minute: the build writes the COPY's layer")
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestBuildSameTagTwice: two builds of one tag at once both succeed, and
// the tag names one of the two images.
func TestBuildSameTagTwice(t *testing.T) {
	h := newHarness(t)
	var builds []*bgBuild
	var iids []string
	for i := range 2 {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "Dockerfile"), fmt.Sprintf("FROM busybox\nRUN echo %d > /which\n", i))
		iid := filepath.Join(t.TempDir(), "iid")
		iids = append(iids, iid)
		builds = append(builds, h.startBuild("--network", "none", "-t", "same:1", "--iidfile", iid, dir))
	}
	ids := map[string]bool{}
	for i, b := range builds {
		if code := b.wait(t); code != 0 {
			t.Fatalf("build %d: exit %d\n%s", i, code, b.out.String())
		}
		id, err := os.ReadFile(iids[i])
		if err != nil {
			t.Fatal(err)
		}
		ids[string(id)] = true
	}
	if len(ids) != 2 {
		t.Fatalf("two different builds made %d images", len(ids))
	}
	got := strings.TrimSpace(h.mustBerth("image", "inspect", "--format", "{{.Id}}", "same:1"))
	if !ids[got] {
		t.Errorf("same:1 is %s, neither build's image (%v)", got, ids)
	}
	h.mustBerth("image", "rm", "same:1")
}

// TestBuildDuringImagePrune: image prune -a while a build runs takes
// nothing from under it: the build finishes and its image runs.
func TestBuildDuringImagePrune(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM busybox\nRUN echo one > /one\n"+gatedRun+"\nCMD [\"cat\", \"/one\", \"/passed\"]\n")
	b := h.startBuild("--network", "none", "-t", "pruned:1", dir)
	b.waitLine(t, "waiting-at-42")
	out := h.mustBerth("image", "prune", "-a", "-f")
	if !strings.Contains(out, "busybox:latest") {
		t.Errorf("image prune -a did not remove the unused base:\n%s", out)
	}
	h.openGate()
	if code := b.wait(t); code != 0 {
		t.Fatalf("the build beside image prune: exit %d\n%s", code, b.out.String())
	}
	if got := h.mustBerth("container", "run", "--rm", "pruned:1"); got != "one\npassed\n" {
		t.Errorf("the image prints %q", got)
	}
	h.mustBerth("image", "rm", "pruned:1")
}

// TestBuilderPrune: builder du lists the cache; prune without --all keeps
// what an image has, prune --all empties it, the cache then rebuilds; bad
// input is one line naming the flag.
func TestBuilderPrune(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM busybox\nRUN echo one > /one\nRUN true\n")
	h.mustBerth("image", "build", "--network", "none", "-t", "cached:1", dir)
	du := nonEmpty(strings.Split(h.mustBerth("builder", "du", "--format", "{{.ID}} {{.Reclaimable}}"), "\n"))
	if len(du) != 2 {
		t.Fatalf("builder du lists %q, want the two RUN steps", du)
	}
	df := h.mustBerth("system", "df", "--format", "{{.Type}}={{.TotalCount}}")
	if !strings.Contains(df, "Build Cache=2") || !strings.Contains(df, "Images=2") {
		t.Errorf("system df:\n%s", df)
	}
	if v := h.mustBerth("system", "df", "-v"); !strings.Contains(v, "Build cache usage:") || strings.Count(v, "regular") != 1 {
		t.Errorf("system df -v lists:\n%s\nwant the build cache with one record of a layer", v)
	}
	out := h.mustBerth("builder", "prune", "-f")
	if n := len(nonEmpty(strings.Split(h.mustBerth("builder", "du", "--format", "{{.ID}}"), "\n"))); n != 1 || !strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("after a dangling prune %d records left, want 1 (the layer cached:1 has); output:\n%s", n, out)
	}
	h.mustBerth("builder", "prune", "-a", "-f")
	if left := strings.TrimSpace(h.mustBerth("builder", "du", "--format", "{{.ID}}")); left != "" {
		t.Errorf("after prune --all: %q", left)
	}
	r := h.berth("image", "build", "--progress", "plain", "--network", "none", "-t", "cached:1", dir)
	if r.code != 0 || len(ranSteps(r.stderr)) != 2 {
		t.Errorf("rebuild after prune: exit %d, ran %q", r.code, ranSteps(r.stderr))
	}
	for _, bad := range [][]string{{"--keep-storage", "lots"}, {"--filter", "label=x"}, {"--filter", "until=soon"}} {
		r := h.berth(append([]string{"builder", "prune", "-f"}, bad...)...)
		if lines := nonEmpty(strings.Split(r.stderr, "\n")); r.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], bad[0]) {
			t.Errorf("builder prune %q: exit %d, stderr %q; want one line naming %s", bad, r.code, r.stderr, bad[0])
		}
	}
	h.mustBerth("image", "rm", "cached:1")
}
