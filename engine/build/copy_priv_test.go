package build

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// buildDir builds the Dockerfile of files (written to a new context) as
// tag, with no network, and returns the events it sent.
func buildDir(t *testing.T, b *Builder, files map[string]string, tag string) ([]Event, error) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return buildCtx(t, b, dir, tag)
}

func buildCtx(t *testing.T, b *Builder, dir, tag string) ([]Event, error) {
	t.Helper()
	var events []Event
	_, err := b.Build(t.Context(), Options{ContextDir: dir, Tags: []string{tag}, Network: "none", Events: func(ev Event) { events = append(events, ev) }})
	return events, err
}

// rebuild builds dir again as tag and returns the layer steps that ran.
func rebuild(t *testing.T, b *Builder, dir, tag string) []string {
	t.Helper()
	events, err := buildCtx(t, b, dir, tag)
	if err != nil {
		t.Fatal(err)
	}
	return ran(events)
}

// ran lists the layer steps an event stream shows as run, not cached
// (neither FROM nor the loading of a context).
func ran(events []Event) []string {
	var out []string
	for _, ev := range events {
		if ev.Status == StepDone && !strings.Contains(ev.Name, "] FROM ") && !ev.Internal {
			out = append(out, ev.Name)
		}
	}
	return out
}

// imageEntry is the file rel of the image ref as its layers show it; ok is
// false when it has none.
func imageEntry(t *testing.T, b *Builder, ref, rel string) (data string, fi fs.FileInfo, ok bool) {
	t.Helper()
	img, err := b.images.Resolve(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := b.images.LayerDirs(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	p, fi, ok := lowers(dirs).find(rel)
	if !ok {
		return "", nil, false
	}
	if fi.Mode().IsRegular() {
		d, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = string(d)
	}
	return data, fi, true
}

// wantFile fails the test unless the image ref has rel with content want
// (and, when mode is not 0, that mode).
func wantFile(t *testing.T, b *Builder, ref, rel, want string, mode fs.FileMode) {
	t.Helper()
	got, fi, ok := imageEntry(t, b, ref, rel)
	switch {
	case !ok:
		t.Errorf("%s: no /%s", ref, rel)
	case got != want:
		t.Errorf("%s: /%s holds %q, want %q", ref, rel, got, want)
	case mode != 0 && fi.Mode().Perm() != mode:
		t.Errorf("%s: /%s has mode %o, want %o", ref, rel, fi.Mode().Perm(), mode)
	}
}

func imageConfig(t *testing.T, b *Builder, ref string) *v1.ConfigFile {
	t.Helper()
	img, err := b.images.Resolve(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	v, err := b.images.V1Image(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := v.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

const heredocDockerfile = `# syntax=docker/dockerfile:1
FROM busybox
ARG NAME=world
ENV GREETING=hello
RUN <<EOF
echo "$GREETING $NAME" > /simple
EOF
RUN <<EOF
#!/bin/sh
echo "script $0" > /script
EOF
RUN <<-EOT cat > /tabs && <<"RAW" cat > /raw
	tabbed $NAME
	EOT
raw $NAME
RAW
RUN <<EOF sh
echo "fed to sh on stdin" > /stdin
EOF
COPY <<EOF /etc/greeting
${GREETING} $NAME
EOF
COPY <<'EOF' <<EOF2 /opt/
unexpanded $NAME
EOF
expanded $NAME
EOF2
ADD --chmod=750 <<EOF /bin/hi
#!/bin/sh
echo hi
EOF
`

// TestPrivHeredoc: RUN heredocs run as BuildKit runs them (the shell's
// text, a script with a shebang, heredocs the shell reads, <<- and quoted
// delimiters); COPY and ADD heredocs make files, expanded unless quoted.
// A changed heredoc runs again; an unchanged one is cached.
func TestPrivHeredoc(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": heredocDockerfile})
	if _, err := buildCtx(t, b, dir, "heredoc:1"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ path, want string }{
		{"simple", "hello world\n"},
		{"script", "script /dev/pipes/EOF\n"},
		{"tabs", "tabbed world\n"},
		{"raw", "raw $NAME\n"},
		{"stdin", "fed to sh on stdin\n"},
	} {
		wantFile(t, b, "heredoc:1", f.path, f.want, 0)
	}
	wantFile(t, b, "heredoc:1", "etc/greeting", "hello world\n", 0o644)
	wantFile(t, b, "heredoc:1", "opt/EOF", "unexpanded $NAME\n", 0o644)
	wantFile(t, b, "heredoc:1", "opt/EOF2", "expanded world\n", 0o644)
	wantFile(t, b, "heredoc:1", "bin/hi", "#!/bin/sh\necho hi\n", 0o750)
	if _, _, ok := imageEntry(t, b, "heredoc:1", "dev/pipes"); ok {
		t.Error("the heredoc script's mount point is in a layer")
	}

	if r := rebuild(t, b, dir, "heredoc:1"); len(r) != 0 {
		t.Errorf("an unchanged rebuild ran %q", r)
	}
	writeFiles(t, dir, map[string]string{"Dockerfile": strings.Replace(heredocDockerfile, "\nexpanded $NAME", "\nexpanded again $NAME", 1)})
	if r := rebuild(t, b, dir, "heredoc:1"); len(r) != 2 || !strings.Contains(r[0], "COPY <<'EOF' <<EOF2") {
		t.Errorf("after a heredoc's edit ran %q, want that COPY and the ADD after it", r)
	}
	wantFile(t, b, "heredoc:1", "opt/EOF2", "expanded again world\n", 0)
}

// TestPrivHeredocFails: a RUN heredoc that fails names its step and exit
// code.
func TestPrivHeredocFails(t *testing.T) {
	b := newPrivBuilder(t)
	_, err := buildDir(t, b, map[string]string{"Dockerfile": "FROM busybox\nRUN <<EOF\necho failing\nexit 4\nEOF\n"}, "fails:1")
	var se *StepError
	if !errors.As(err, &se) || se.ExitCode != 4 || se.Line != 2 || se.Step != "[stage-0 2/2] RUN <<EOF (echo failing...)" {
		t.Fatalf("got %v, want a StepError at line 2 with exit code 4", err)
	}
	if errdefs.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestPrivCopyFromImage: COPY --from names a stage by index (with an
// earlier stage the target does not need) or an image of the store, whose
// ONBUILD triggers run before the copy, as BuildKit's; an image that exists
// nowhere is one error naming it and the line.
func TestPrivCopyFromImage(t *testing.T) {
	b := newPrivBuilder(t)
	b.images.SetLocalRegistriesOnly()
	if _, err := buildDir(t, b, map[string]string{"Dockerfile": "FROM busybox\nRUN echo tool > /tool\nONBUILD RUN echo triggered > /trig\n"}, "tools:1"); err != nil {
		t.Fatal(err)
	}
	df := "FROM busybox AS unused\nRUN exit 1\nFROM busybox AS first\nRUN echo one > /one\n" +
		"FROM scratch\nCOPY --from=1 /one /by-index\nCOPY --from=tools:1 /tool /trig /from-image/\n"
	if _, err := buildDir(t, b, map[string]string{"Dockerfile": df}, "copied:1"); err != nil {
		t.Fatal(err)
	}
	wantFile(t, b, "copied:1", "by-index", "one\n", 0)
	wantFile(t, b, "copied:1", "from-image/tool", "tool\n", 0)
	wantFile(t, b, "copied:1", "from-image/trig", "triggered\n", 0)

	_, err := buildDir(t, b, map[string]string{"Dockerfile": "FROM scratch\nCOPY --from=127.0.0.1:1/nosuch:1 /x /x\n"}, "copied:2")
	if err == nil || !strings.HasPrefix(err.Error(), `Dockerfile:2: COPY --from image "127.0.0.1:1/nosuch:1": `) || strings.Contains(err.Error(), "\n") {
		t.Errorf("COPY --from a missing image: %v", err)
	}
}

// TestPrivOnBuild: an image's ONBUILD triggers run at the start of a
// child build FROM it and are not in the child's configuration; a stage's
// ONBUILD instructions run in a stage FROM it, not in itself.
func TestPrivOnBuild(t *testing.T) {
	b := newPrivBuilder(t)
	parent := "FROM busybox\nONBUILD ARG WHO=child\nONBUILD RUN echo \"built by $WHO\" > /who\nONBUILD COPY app.txt /app.txt\nRUN test ! -e /who\n"
	if _, err := buildDir(t, b, map[string]string{"Dockerfile": parent}, "parent:1"); err != nil {
		t.Fatal(err)
	}
	if cf := imageConfig(t, b, "parent:1"); len(cf.Config.OnBuild) != 3 {
		t.Fatalf("parent's triggers: %q", cf.Config.OnBuild)
	}
	if _, _, ok := imageEntry(t, b, "parent:1", "who"); ok {
		t.Error("the parent ran its own trigger")
	}
	events, err := buildDir(t, b, map[string]string{"Dockerfile": "FROM parent:1\nRUN cat /who /app.txt > /both\n", "app.txt": "app\n"}, "child:1")
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, b, "child:1", "both", "built by child\napp\n", 0)
	if cf := imageConfig(t, b, "child:1"); len(cf.Config.OnBuild) != 0 {
		t.Errorf("the child keeps the triggers %q", cf.Config.OnBuild)
	}
	want := []string{"[stage-0 3/5] ONBUILD RUN echo \"built by $WHO\" > /who", "[stage-0 4/5] ONBUILD COPY app.txt /app.txt", "[stage-0 5/5] RUN cat /who /app.txt > /both"}
	if r := ran(events); strings.Join(r, "|") != strings.Join(want, "|") {
		t.Errorf("child ran %q, want %q", r, want)
	}

	// A trigger may copy from an image the child's Dockerfile never names.
	if _, err := buildDir(t, b, map[string]string{"Dockerfile": "FROM busybox\nONBUILD COPY --from=child:1 /both /inherited\n"}, "parent:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := buildDir(t, b, map[string]string{"Dockerfile": "FROM parent:2\n"}, "child:2"); err != nil {
		t.Fatal(err)
	}
	wantFile(t, b, "child:2", "inherited", "built by child\napp\n", 0)

	stages := "FROM busybox AS base\nONBUILD RUN echo from-base > /ob\nRUN test ! -e /ob\nFROM base\nRUN cat /ob > /seen\n"
	if _, err := buildDir(t, b, map[string]string{"Dockerfile": stages}, "stages:1"); err != nil {
		t.Fatal(err)
	}
	wantFile(t, b, "stages:1", "seen", "from-base\n", 0)
	if cf := imageConfig(t, b, "stages:1"); len(cf.Config.OnBuild) != 0 {
		t.Errorf("a stage on a stage keeps the triggers %q", cf.Config.OnBuild)
	}
}

// TestPrivOnBuildFromStage: an image's ONBUILD trigger may COPY --from (or
// RUN --mount from=) a stage of the child's Dockerfile that nothing else
// the target reads needs: that stage (and what it needs) is built once
// the trigger is known. A trigger naming the child's own stage or a later
// one is refused at the FROM line.
func TestPrivOnBuildFromStage(t *testing.T) {
	b := newPrivBuilder(t)
	parent := "FROM busybox\nONBUILD COPY --from=assets /made /from-assets\nONBUILD RUN --mount=type=bind,from=assets,source=/made,target=/m cat /m > /mounted\n"
	if _, err := buildDir(t, b, map[string]string{"Dockerfile": parent}, "obparent:1"); err != nil {
		t.Fatal(err)
	}
	child := "FROM busybox AS prep\nRUN echo prepared > /prep\n" +
		"FROM prep AS assets\nRUN cat /prep > /made && echo assets >> /made\n" +
		"FROM busybox AS unrelated\nRUN exit 3\n" +
		"FROM obparent:1\nRUN cat /from-assets /mounted > /both\n"
	events, err := buildDir(t, b, map[string]string{"Dockerfile": child}, "obchild:1")
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, b, "obchild:1", "both", "prepared\nassets\nprepared\nassets\n", 0)
	assetsRuns := 0
	for _, name := range ran(events) {
		if strings.HasPrefix(name, "[assets ") {
			assetsRuns++
		}
		if strings.HasPrefix(name, "[unrelated ") {
			t.Errorf("a stage nothing needs was built: %s", name)
		}
	}
	if assetsRuns != 1 {
		t.Errorf("the stage the triggers read ran %d times, want once: %q", assetsRuns, ran(events))
	}

	late := "FROM obparent:1 AS first\nRUN true\nFROM busybox AS assets\nRUN echo late > /made\nFROM first\n"
	_, err = buildDir(t, b, map[string]string{"Dockerfile": late}, "obchild:2")
	if err == nil || !strings.Contains(err.Error(), "--from=assets names this stage or a later one") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a trigger copying from a later stage: %v", err)
	}
}
