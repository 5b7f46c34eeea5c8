//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ccImage imports a C compiler image (hack/cc-image.sh: the pyapp base made
// with debootstrap, plus gcc and libc6-dev; made once, before the tests, by
// hack/e2e.sh, and cached) into the test's root as cc:bookworm.
func (h *harness) ccImage() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), 15*time.Minute)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "hack", "cc-image.sh"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("hack/cc-image.sh: %v\n%s", err, stderr.String())
	}
	h.mustBerth("image", "import", strings.TrimSpace(string(out)), "cc:bookworm")
}

// TestBuildCProgram: a two-stage Dockerfile compiles a C program with gcc
// in a Debian stage and copies the static binary alone into a scratch
// image, which runs it; a rebuild with nothing changed runs nothing, and an
// edit of the source compiles again.
func TestBuildCProgram(t *testing.T) {
	h := newHarness(t)
	h.ccImage()
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	source := func(greeting string) string {
		return "#include <stdio.h>\nint main(int argc, char **argv) {\n\tprintf(\"" + greeting +
			" %d:\", argc - 1);\n\tfor (int i = 1; i < argc; i++) printf(\" %s\", argv[i]);\n\tputchar('\\n');\n\treturn 0;\n}\n"
	}
	write("Dockerfile", `FROM cc:bookworm AS build
WORKDIR /src
COPY hello.c .
RUN gcc -static -O2 -o /hello hello.c && strip /hello
FROM scratch
COPY --from=build /hello /hello
ENTRYPOINT ["/hello"]
`)
	write("hello.c", source("hello from C"))
	build := func() []string {
		t.Helper()
		r := h.berth("image", "build", "--network", "none", "-t", "hello-c:1", dir)
		if r.code != 0 {
			t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
		}
		return ranSteps(r.stderr)
	}

	if ran := build(); len(ran) != 3 {
		t.Errorf("first build ran %q, want COPY, RUN and COPY --from", ran)
	}
	if out := h.mustBerth("container", "run", "--rm", "hello-c:1", "a", "b"); out != "hello from C 2: a b\n" {
		t.Errorf("the image prints %q", out)
	}
	// The final image is the binary alone: the compiler stage left nothing.
	if out := h.mustBerth("image", "inspect", "--format", "{{len .RootFS.Layers}}", "hello-c:1"); strings.TrimSpace(out) != "1" {
		t.Errorf("the image has %s layers, want 1 (the binary)", strings.TrimSpace(out))
	}

	if ran := build(); len(ran) != 0 {
		t.Errorf("a rebuild with nothing changed ran %q", ran)
	}

	write("hello.c", source("hi again"))
	ran := build()
	want := []string{"[build 3/4] COPY hello.c .", "[build 4/4] RUN gcc -static -O2 -o /hello hello.c && strip /hello", "[stage-1 2/3] COPY --from=build /hello /hello"}
	if strings.Join(ran, "|") != strings.Join(want, "|") {
		t.Errorf("after an edit of the source ran %q, want %q", ran, want)
	}
	if out := h.mustBerth("container", "run", "--rm", "hello-c:1"); out != "hi again 0:\n" {
		t.Errorf("the rebuilt image prints %q", out)
	}
}
