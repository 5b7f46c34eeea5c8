//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyDir copies a test's testdata directory to a scratch one it may edit.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return dst
}

// ranSteps lists the steps a build's plain output shows as run (not
// CACHED), leaving out FROM and the loading of contexts ([internal]).
func ranSteps(out string) []string {
	names := map[string]string{}
	var ran []string
	for _, l := range strings.Split(out, "\n") {
		m := regexp.MustCompile(`^(#\d+) (\[.*)$`).FindStringSubmatch(l)
		if m != nil {
			names[m[1]] = m[2]
			continue
		}
		if m := regexp.MustCompile(`^(#\d+) DONE `).FindStringSubmatch(l); m != nil && !strings.Contains(names[m[1]], "FROM") && !strings.HasPrefix(names[m[1]], "[internal]") {
			ran = append(ran, names[m[1]])
		}
	}
	return ran
}

// TestImageBuild: a two-stage Dockerfile on busybox builds an image that
// runs; a rebuild with no change runs nothing and makes the same image;
// editing one source reruns only the steps from the first that reads it.
func TestImageBuild(t *testing.T) {
	h := newHarness(t)
	dir := copyDir(t, filepath.Join(repoRoot, "e2e", "testdata", t.Name()))
	iid := filepath.Join(t.TempDir(), "iid")
	build := func() (string, []string) {
		t.Helper()
		r := h.berth("image", "build", "--network", "none", "-t", "app:1", "--iidfile", iid, dir)
		if r.code != 0 {
			t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
		}
		id, err := os.ReadFile(iid)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if last := lines[len(lines)-1]; !strings.Contains(last, string(id)) {
			t.Errorf("last line %q does not name the image %s", last, id)
		}
		return string(id), ranSteps(r.stderr)
	}

	id1, ran := build()
	if len(ran) != 5 {
		t.Errorf("first build ran %q, want every step", ran)
	}
	if out := h.mustBerth("container", "run", "--rm", "app:1"); out != "HELLO\nworld\n" {
		t.Errorf("the image prints %q", out)
	}

	// No change: nothing runs, the same image. An ignored file is no change.
	if err := os.WriteFile(filepath.Join(dir, "src", "junk.tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	id2, ran := build()
	if len(ran) != 0 || id2 != id1 {
		t.Errorf("rebuild ran %q and made %s (first %s), want nothing and the same image", ran, id2, id1)
	}

	// One edit: the steps from the COPY that reads it on.
	if err := os.WriteFile(filepath.Join(dir, "src", "name.txt"), []byte("berth\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id3, ran := build()
	want := []string{"[build 5/6] COPY src/name.txt ./", "[build 6/6] RUN cat shout.txt name.txt > out.txt", "[stage-1 2/3] COPY --from=build /work/out.txt /out.txt"}
	if strings.Join(ran, "|") != strings.Join(want, "|") || id3 == id1 {
		t.Errorf("after one edit ran %q, want %q", ran, want)
	}
	if out := h.mustBerth("container", "run", "--rm", "app:1"); out != "HELLO\nberth\n" {
		t.Errorf("the rebuilt image prints %q", out)
	}
	h.mustBerth("image", "rm", "app:1")
}

// TestImageBuildFails: a syntax error is one line naming the Dockerfile's
// line; a failing RUN names its step and exit code; neither moves a tag.
func TestImageBuildFails(t *testing.T) {
	h := newHarness(t)
	before := h.mustBerth("image", "inspect", "busybox:latest")
	dir := t.TempDir()
	write := func(df string) {
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	write("FROM busybox\nRUN true\nNOPE x\n")
	r := h.berth("image", "build", "-t", "busybox:latest", dir)
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "Dockerfile:3: unknown instruction: NOPE") {
		t.Errorf("syntax error: exit %d, stderr %q; want 1 and one line Dockerfile:3: …", r.code, r.stderr)
	}

	write("FROM busybox\nRUN echo first\nRUN echo going wrong && exit 7\n")
	r = h.berth("image", "build", "--network", "none", "-t", "busybox:latest", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "Dockerfile:3: [stage-0 3/3] RUN echo going wrong && exit 7") ||
		!strings.Contains(r.stderr, "exit code: 7") || !strings.Contains(r.stderr, "going wrong") {
		t.Errorf("failing RUN: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// Quiet, the output was not shown: the error comes with its last lines.
	r = h.berth("image", "build", "-q", "--network", "none", "-t", "busybox:latest", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "going wrong") || strings.Contains(r.stderr, "first") {
		t.Errorf("failing RUN, quiet: exit %d, stderr:\n%s\nwant the failed step's output, not the cached one's", r.code, r.stderr)
	}
	if after := h.mustBerth("image", "inspect", "busybox:latest"); after != before {
		t.Errorf("busybox:latest moved")
	}
}

// TestComposeUpBuild: up builds the services' images, up --build rebuilds
// them and recreates exactly the containers whose image changed.
func TestComposeUpBuild(t *testing.T) {
	h := newHarness(t)
	dir := copyDir(t, filepath.Join(repoRoot, "e2e", "testdata", t.Name()))
	file := filepath.Join(dir, "compose.yaml")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v", "--rmi", "local") })
	h.mustBerth("-f", file, "up", "-d")
	ids := func() map[string]string {
		out := map[string]string{}
		for _, c := range h.ps(file) {
			out[c.Service] = c.ID
		}
		return out
	}
	first := ids()
	if len(first) != 3 {
		t.Fatalf("services up: %v", first)
	}
	if r := h.berth("-f", file, "exec", "-T", "web", "cat", "/version"); strings.TrimSpace(r.stdout) != "v1" {
		t.Errorf("web's /version = %q (exit %d)", r.stdout, r.code)
	}
	if r := h.berth("-f", file, "exec", "-T", "tool", "cat", "/greeting"); strings.TrimSpace(r.stdout) != "hello-from-args" {
		t.Errorf("tool's /greeting = %q (exit %d)", r.stdout, r.code)
	}
	// A second up builds nothing and changes nothing.
	h.mustBerth("-f", file, "up", "-d")
	if again := ids(); again["web"] != first["web"] || again["tool"] != first["tool"] {
		t.Errorf("a second up recreated containers: %v → %v", first, again)
	}
	// One source edit: up --build recreates web and worker (their image
	// changed), not tool (its build is cached: the same image).
	if err := os.WriteFile(filepath.Join(dir, "app", "version"), []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustBerth("-f", file, "up", "-d", "--build")
	second := ids()
	if second["web"] == first["web"] || second["worker"] == first["worker"] || second["tool"] != first["tool"] {
		t.Errorf("up --build: before %v, after %v; want web and worker recreated, tool kept", first, second)
	}
	if r := h.berth("-f", file, "exec", "-T", "web", "cat", "/version"); strings.TrimSpace(r.stdout) != "v2" {
		t.Errorf("web's /version after the edit = %q", r.stdout)
	}
	// --no-build with the image gone is one clear error, and harms nothing.
	h.mustBerth("-f", file, "down", "--rmi", "local")
	r := h.berth("-f", file, "up", "-d", "--no-build")
	if r.code == 0 || !strings.Contains(r.stderr, "--no-build") {
		t.Errorf("up --no-build without images: exit %d, %q", r.code, r.stderr)
	}
}

// TestImageBuildProgressTTY: --progress tty draws BuildKit's live display
// in place (cursor up, lines erased) and leaves every step on its last
// draw, then the image's name and id below it.
func TestImageBuildProgressTTY(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nCOPY Dockerfile /\nRUN echo one && echo two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.berth("image", "build", "--progress", "tty", "--network", "none", "-t", "tty:1", dir)
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	t.Cleanup(func() { h.berth("image", "rm", "tty:1") })
	id := strings.TrimSpace(h.mustBerth("image", "inspect", "--format", "{{.Id}}", "tty:1"))
	last := r.stderr[strings.LastIndex(r.stderr, "[+] Building"):]
	for _, want := range []string{"\x1b[2K", "FINISHED\n", "] FROM busybox", "[stage-0 2/3] COPY Dockerfile /", "[stage-0 3/3] RUN echo one && echo two",
		"naming to docker.io/library/tty:1 done\nwriting image " + id + " done\n"} {
		if !strings.Contains(last, want) {
			t.Errorf("the last draw lacks %q:\n%q", want, last)
		}
	}
	if !regexp.MustCompile(`\x1b\[\d+A`).MatchString(r.stderr) {
		t.Errorf("nothing was redrawn in place:\n%q", r.stderr)
	}
}
