package build

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/internal/testutil"
)

func TestMain(m *testing.M) {
	code := testutil.MainLocked(m.Run, false)
	if shim.dir != "" {
		_ = os.RemoveAll(shim.dir)
	}
	os.Exit(code)
}

// shim is the shim the privileged tests' engines run, built once.
var shim struct {
	once sync.Once
	dir  string
	err  error
}

// newPrivBuilder is a builder on a fresh root with busybox:latest, whose RUN
// steps have no network.
func newPrivBuilder(t testing.TB) *Builder {
	t.Helper()
	testutil.RequirePrivileged(t)
	shim.once.Do(func() {
		if shim.dir, shim.err = os.MkdirTemp("", "berth-build-test-"); shim.err == nil {
			shim.err = testutil.BuildShim(filepath.Join(shim.dir, "berth-shim"))
		}
	})
	if shim.err != nil {
		t.Fatal(shim.err)
	}
	root := t.TempDir()
	images, err := image.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tar bytes.Buffer
	if err := testimage.BusyboxRootfs(&tar); err != nil {
		t.Fatal(err)
	}
	if _, err := images.Import(t.Context(), &tar, "busybox:latest", image.ImportOptions{Created: testimage.MTime}); err != nil {
		t.Fatal(err)
	}
	sh := filepath.Join(shim.dir, "berth-shim")
	eng, err := engine.New(engine.Options{Root: root, RunDir: filepath.Join(root, "run"), Exe: sh, Shim: sh}, images, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(eng, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cs, _ := eng.List(t.Context(), nil); len(cs) > 0 {
			t.Errorf("%d containers left behind", len(cs))
		}
		data, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(data), root) {
			t.Errorf("mounts left under %s", root)
		}
	})
	return b
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPrivRunLayer: a RUN's layer holds what it changed and nothing else;
// a deleted file of the base is a whiteout.
func TestPrivRunLayer(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hi > /hello && rm /etc/group\n"})
	var events []Event
	res, err := b.Build(t.Context(), Options{ContextDir: dir, Tags: []string{"t:1"}, Network: "none", Events: func(ev Event) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	img, err := b.images.Resolve(t.Context(), "t:1")
	if err != nil || img.ID != res.ImageID {
		t.Fatalf("t:1: %v, %v", img, err)
	}
	layers, _ := filepath.Glob(filepath.Join(b.cache.dir, "layers", "*"))
	if len(layers) != 1 {
		t.Fatalf("%d layers made, want 1", len(layers))
	}
	data, err := os.ReadFile(layers[0])
	if err != nil {
		t.Fatal(err)
	}
	got := tarEntries(t, data)
	want := []string{"etc/ 5", "etc/.wh.group 0", "hello 0"}
	if !slices.Equal(got, want) {
		t.Errorf("layer: got %q, want %q", got, want)
	}

	// Again: from the cache, nothing runs, the same image.
	events = nil
	res2, err := b.Build(t.Context(), Options{ContextDir: dir, Tags: []string{"t:1"}, Network: "none", Events: func(ev Event) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	if res2.ImageID != res.ImageID {
		t.Errorf("rebuild: image %s, want %s", res2.ImageID, res.ImageID)
	}
	for _, ev := range events {
		if ev.Status == StepStarted && strings.Contains(ev.Name, "RUN") {
			t.Errorf("rebuild ran %s", ev.Name)
		}
	}
}

// TestPrivRunFails: a failing RUN names its step, line and exit code with
// its last output, and moves no tag.
func TestPrivRunFails(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo before\nRUN echo oops && exit 3\n"})
	_, err := b.Build(t.Context(), Options{ContextDir: dir, Tags: []string{"busybox:latest"}, Network: "none"})
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a StepError", err)
	}
	if se.ExitCode != 3 || se.Line != 3 || se.Step != "[stage-0 3/3] RUN echo oops && exit 3" || !slices.Contains(se.Tail, "oops") {
		t.Errorf("StepError %+v", se)
	}
	if !strings.HasPrefix(err.Error(), "Dockerfile:3: [stage-0 3/3] RUN echo oops && exit 3: ") {
		t.Errorf("message %q", err)
	}
	img, err := b.images.Resolve(t.Context(), "busybox:latest")
	if err != nil || len(img.ChainIDs) != 1 {
		t.Errorf("busybox:latest moved: %v %v", img, err)
	}
}
