//go:build e2e

package e2e

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ccImage imports a C compiler image (hack/cc-image.sh: the pyapp base made
// with debootstrap, plus gcc and libc6-dev; made once, before the tests, by
// hack/e2e.sh, and cached) into the test's root as cc:bookworm.
func (h *harness) ccImage() {
	h.t.Helper()
	h.importMadeImage(filepath.Join(repoRoot, "hack", "cc-image.sh"), "cc:bookworm")
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

// TestBuildLargeContext: a context of 100k files (100 directories, one of
// them left out by .dockerignore) and one of 512 MiB (a sparse file) are
// streamed, not held: berth's peak memory stays far below their size, the
// layer holds exactly what the context allows (read back from `image save`,
// so that the test does not pay for creating 100k files again), and a
// rebuild with nothing changed is a cache hit.
func TestBuildLargeContext(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	for d := range 100 {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d", i)), []byte(fmt.Sprintf("%d-%d\n", d, i)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("d99\nDockerfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /ctx/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	blob, err := os.Create(filepath.Join(dir, "blob"))
	if err == nil {
		err = blob.Truncate(512 << 20)
	}
	if err == nil {
		err = blob.Close()
	}
	if err != nil {
		t.Fatal(err)
	}

	build := func() (string, int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, berthBin, "--root", h.root, "image", "build", "--network", "none", "-t", "big:1", dir)
		cmd.Env = append(os.Environ(), "BERTH_NO_OUTBOUND=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		return string(out), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	}
	out, peak := build()
	t.Logf("cold build: peak RSS %d MiB", peak>>20)
	if peak > 200<<20 {
		t.Errorf("a build of 100k files and 512 MiB peaked at %d MiB of memory, want under 200", peak>>20)
	}
	if !strings.Contains(out, "COPY . /ctx/") {
		t.Errorf("no COPY step in the output:\n%s", out)
	}
	// Reading the context shows, as BuildKit's loading of it does.
	if !strings.Contains(out, "[internal] load build context\n") ||
		!regexp.MustCompile(`(?m)^#\d+ transferring context: 537\.\dMB \(99002 files\) [\d.]+s done$`).MatchString(out) {
		t.Errorf("no context loading with its total in the output:\n%s", out)
	}

	saved := filepath.Join(t.TempDir(), "big.tar")
	h.mustBerth("image", "save", "-o", saved, "big:1")
	files, sizes, content := layerFiles(t, saved)
	if files != 99002 || sizes["ctx/blob"] != 512<<20 || content != "42-417\n" || sizes["ctx/d99/f000"] != 0 || sizes["ctx/Dockerfile"] != 0 {
		t.Errorf("the layer holds %d files (want 99,002: the 99,000 not ignored, the blob and .dockerignore), ctx/blob of %d bytes, ctx/d42/f417 %q, d99 %d, Dockerfile %d",
			files, sizes["ctx/blob"], content, sizes["ctx/d99/f000"], sizes["ctx/Dockerfile"])
	}

	out, peak = build()
	if ran := ranSteps(out); len(ran) != 0 {
		t.Errorf("a rebuild with nothing changed ran %q", ran)
	}
	t.Logf("cached rebuild: peak RSS %d MiB", peak>>20)
}

// layerFiles reads the only layer of the image archive at path (`image
// save`): how many regular files it has, the sizes of a few, and the
// content of ctx/d42/f417.
func layerFiles(t *testing.T, path string) (int, map[string]int64, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	outer := tar.NewReader(f)
	sizes := map[string]int64{}
	files, content := 0, ""
	for {
		hdr, err := outer.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Size < 100<<20 { // the config, manifests, index: the layer is the big one
			continue
		}
		inner := tar.NewReader(outer)
		for {
			ih, err := inner.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", hdr.Name, err)
			}
			if ih.Typeflag != tar.TypeReg {
				continue
			}
			files++
			name := strings.TrimPrefix(ih.Name, "./")
			switch name {
			case "ctx/blob", "ctx/d99/f000", "ctx/Dockerfile":
				sizes[name] = ih.Size
			case "ctx/d42/f417":
				b, err := io.ReadAll(inner)
				if err != nil {
					t.Fatal(err)
				}
				content = string(b)
			}
		}
	}
	return files, sizes, content
}
