package main

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testimage"
)

func TestPullRendererPlain(t *testing.T) {
	var b bytes.Buffer
	r := newPullRenderer(&b, false)
	d := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	e := "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	for _, ev := range []image.PullEvent{
		{Digest: d, Size: 2000000, Status: image.PullWaiting},
		{Digest: e, Size: 10, Status: image.PullWaiting},
		{Digest: d, Size: 2000000, Done: 1000, Status: image.PullDownloading},
		{Digest: d, Size: 2000000, Done: 5000, Status: image.PullDownloading},
		{Digest: e, Size: 10, Done: 10, Status: image.PullExists},
		{Digest: d, Size: 2000000, Done: 2000000, Status: image.PullVerifying},
		{Digest: d, Size: 2000000, Done: 2000000, Status: image.PullDone},
	} {
		r.event(ev)
	}
	r.finish()
	want := "0123456789ab: Waiting\n" +
		"fedcba987654: Waiting\n" +
		"0123456789ab: Downloading (2MB)\n" +
		"fedcba987654: Already exists\n" +
		"0123456789ab: Verifying Checksum\n" +
		"0123456789ab: Download complete\n"
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}
	if !r.downloaded {
		t.Error("downloaded = false")
	}
}

func TestPullRendererTTY(t *testing.T) {
	var b bytes.Buffer
	r := newPullRenderer(&b, true)
	d := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	r.event(image.PullEvent{Digest: d, Size: 100, Status: image.PullWaiting})
	r.event(image.PullEvent{Digest: d, Size: 100, Done: 50, Status: image.PullDownloading})
	r.finish()
	out := b.String()
	if !strings.Contains(out, "\x1b[1A") || !strings.Contains(out, "[===================>                    ]") {
		t.Errorf("output %q: no redraw or no half bar", out)
	}
}

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{0, 10, "[    ]"},
		{5, 10, "[=>  ]"},
		{10, 10, "[===>]"},
		{3, 0, "[===>]"},
	} {
		if got := bar(tc.done, tc.total, 4); got != tc.want {
			t.Errorf("bar(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}

// runCmd runs an image registry subcommand with the state root root.
func runCmd(t *testing.T, root string, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	g := &globalOptions{root: root, logLevel: "warn", runtime: "runc", stdout: &out, stderr: &out}
	var cmd = newImageCommand(g)
	cmd.AddCommand(newImageRegistryCommands(g)...)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if stdin != nil {
		cmd.SetIn(stdin)
	}
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// serveTestRegistry serves go-containerregistry's in-memory registry on
// 127.0.0.1 for the test and returns its host:port.
func serveTestRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// importBusybox imports the busybox rootfs as ref into the store of state
// root root.
func importBusybox(t *testing.T, root, ref string) *image.Image {
	t.Helper()
	s, err := image.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rootfs bytes.Buffer
	if err := testimage.BusyboxRootfs(&rootfs); err != nil {
		t.Fatal(err)
	}
	img, err := s.Import(t.Context(), &rootfs, ref, image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestImageCommands pushes, pulls, tags, saves, loads and prunes through
// the commands, against an in-process registry.
func TestImageCommands(t *testing.T) {
	host := serveTestRegistry(t)
	ref := host + "/cli/bb:1"

	src := t.TempDir()
	orig := importBusybox(t, src, ref)
	if out, err := runCmd(t, src, nil, "push", ref); err != nil || !strings.Contains(out, orig.Digest) {
		t.Fatalf("push: %v\n%s", err, out)
	}

	dst := t.TempDir()
	out, err := runCmd(t, dst, nil, "pull", ref)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	for _, want := range []string{"Download complete", "Digest: " + orig.Digest, "Status: Downloaded newer image for " + ref, "\n" + ref + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull output lacks %q:\n%s", want, out)
		}
	}
	if out, err = runCmd(t, dst, nil, "pull", ref); err != nil || !strings.Contains(out, "Image is up to date") {
		t.Errorf("second pull: %v\n%s", err, out)
	}
	out, err = runCmd(t, dst, nil, "pull", host+"/cli/nope:1")
	if err == nil || !strings.Contains(oneLine(err), `pull "`+host+`/cli/nope:1": manifest unknown`) {
		t.Errorf("pull of a missing tag: %v", err)
	}

	if _, err := runCmd(t, dst, nil, "tag", ref, "copy:2"); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "out.tar")
	if out, err := runCmd(t, dst, nil, "save", "-o", archive, "copy:2"); err != nil {
		t.Fatalf("save: %v\n%s", err, out)
	}
	if _, err := runCmd(t, dst, nil, "save", "-o", archive, "missing:1"); err == nil {
		t.Error("save of a missing image succeeded")
	}
	if _, err := os.Stat(archive); err != nil {
		t.Errorf("failed save harmed the earlier archive: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(archive)); len(ents) != 1 {
		t.Errorf("save left %d files", len(ents))
	}
	fresh := t.TempDir()
	if out, err := runCmd(t, fresh, nil, "load", "-i", archive); err != nil || out != "Loaded image: copy:2\n" {
		t.Errorf("load: %v\n%q", err, out)
	}
	data, _ := os.ReadFile(archive)
	if out, err := runCmd(t, t.TempDir(), bytes.NewReader(data), "load"); err != nil || out != "Loaded image: copy:2\n" {
		t.Errorf("load from stdin: %v\n%q", err, out)
	}

	if out, err := runCmd(t, fresh, strings.NewReader("n\n"), "prune", "-a"); err != nil || strings.Contains(out, "deleted") {
		t.Errorf("prune answered no: %v\n%s", err, out)
	}
	out, err = runCmd(t, fresh, nil, "prune", "-a", "-f")
	if err != nil || !strings.Contains(out, "untagged: copy:2") || !strings.Contains(out, "deleted: "+orig.ID) {
		t.Errorf("prune -a -f: %v\n%s", err, out)
	}
}

// TestImageAllTags: push -a sends every tag the store has of a
// repository, pull -a fetches every tag the registry has; a tag with -a is
// refused.
func TestImageAllTags(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	repo := host + "/cli/many"

	src := t.TempDir()
	s, err := image.Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rootfs bytes.Buffer
	if err := testimage.BusyboxRootfs(&rootfs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(t.Context(), &rootfs, repo+":1", image.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{repo + ":2", host + "/cli/other:3"} {
		if err := s.Tag(t.Context(), repo+":1", tag); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runCmd(t, src, nil, "push", "-a", repo); err != nil || !strings.Contains(out, repo+":1: digest:") || !strings.Contains(out, repo+":2: digest:") || strings.Contains(out, "other") {
		t.Fatalf("push -a: %v\n%s", err, out)
	}

	dst := t.TempDir()
	if out, err := runCmd(t, dst, nil, "pull", "--all-tags", "-q", repo); err != nil || out != repo+":1\n"+repo+":2\n" {
		t.Fatalf("pull --all-tags -q: %v\n%q", err, out)
	}
	d, err := image.Open(dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"1", "2"} {
		if _, err := d.Resolve(t.Context(), repo+":"+tag); err != nil {
			t.Errorf("after pull -a: %v", err)
		}
	}
	if _, err := d.Resolve(t.Context(), host+"/cli/other:3"); err == nil {
		t.Error("pull -a fetched another repository's image")
	}

	for _, tc := range []struct{ name, want string }{
		{"pull -a " + repo + ":1", "a tag cannot be used with --all-tags"},
		{"push -a " + repo + ":1", "a tag cannot be used with --all-tags"},
		{"push -a " + host + "/cli/none", "no image of repository"},
		{"pull -a " + host + "/cli/none", "list tags of"},
	} {
		if _, err := runCmd(t, dst, nil, strings.Fields(tc.name)...); err == nil || !strings.Contains(oneLine(err), tc.want) || strings.Contains(oneLine(err), "\n") {
			t.Errorf("%s: %v, want one line with %q", tc.name, err, tc.want)
		}
	}
}
