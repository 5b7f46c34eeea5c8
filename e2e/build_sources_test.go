//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestImageBuildSources: berth image build of a Dockerfile that uses a
// parent image's ONBUILD trigger, COPY --parents and --exclude, a COPY
// heredoc, ADD of a URL (a server on 127.0.0.1), COPY --from an image and
// a RUN heredoc script makes an image that runs; a rebuild with the same
// download runs nothing, and one whose download changed reruns from its ADD.
func TestImageBuildSources(t *testing.T) {
	h := newHarness(t)
	dir := copyDir(t, filepath.Join(repoRoot, "e2e", "testdata", t.Name()))
	var greeting atomic.Value // the handler reads it while berth builds
	greeting.Store("from the server\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/greeting.txt" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, greeting.Load().(string))
	}))
	defer srv.Close()
	h.mustBerth("image", "build", "--network", "none", "-t", "parent:1", "-f", filepath.Join(dir, "parent.Dockerfile"), dir)
	build := func() []string {
		t.Helper()
		r := h.berth("image", "build", "--network", "none", "--progress", "plain", "--build-arg", "URL="+srv.URL, "-t", "sources:1", dir)
		if r.code != 0 {
			t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
		}
		return ranSteps(r.stderr)
	}
	if ran := build(); len(ran) != 6 {
		t.Errorf("first build ran %q, want the trigger and every step", ran)
	}
	want := "hello berth\nfrom the server\na\ntriggered\na.conf\n"
	if out := h.mustBerth("container", "run", "--rm", "sources:1"); out != want {
		t.Errorf("the image prints %q, want %q", out, want)
	}
	if out := h.mustBerth("container", "run", "--rm", "sources:1", "/copied/busybox", "true"); out != "" {
		t.Errorf("the copied busybox prints %q", out)
	}
	if ran := build(); len(ran) != 0 {
		t.Errorf("a rebuild with nothing changed ran %q", ran)
	}
	greeting.Store("changed\n")
	if ran := build(); len(ran) != 3 || !strings.Contains(ran[0], "ADD ${URL}/greeting.txt /dl/") {
		t.Errorf("after the download changed ran %q, want the ADD and the steps after it", ran)
	}
	h.mustBerth("image", "rm", "sources:1", "parent:1")
}

// TestImageBuildSourcesFail: an unterminated heredoc, a COPY --from image
// that exists nowhere and an ADD whose download does not match its
// --checksum each exit 1 with one line naming the Dockerfile's line.
func TestImageBuildSourcesFail(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "content\n")
	}))
	defer srv.Close()
	dir := t.TempDir()
	for _, tc := range []struct{ dockerfile, want string }{
		{"FROM busybox\nRUN <<EOF\necho never ends\n", "Dockerfile:2: unterminated heredoc"},
		{"FROM busybox\nCOPY --from=127.0.0.1:1/nowhere:1 /x /x\n", `Dockerfile:2: COPY --from image "127.0.0.1:1/nowhere:1": `},
		{"FROM busybox\nADD --checksum=sha256:" + strings.Repeat("a", 64) + " " + srv.URL + "/f /f\n", "Dockerfile:2: ADD " + srv.URL + "/f: checksum mismatch"},
	} {
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(tc.dockerfile), 0o644); err != nil {
			t.Fatal(err)
		}
		r := h.berth("image", "build", "--network", "none", "-q", "-t", "never:1", dir)
		if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 1 and one line with %q", tc.dockerfile, r.code, r.stderr, tc.want)
		}
	}
	if r := h.berth("image", "inspect", "never:1"); r.code == 0 {
		t.Error("a failed build tagged never:1")
	}
}
