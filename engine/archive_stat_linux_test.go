package engine

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStatFollowsTheLinkChain: the stat of a symbolic link names what its
// chain of links finally leads to, resolved inside the root (as dockerd's
// X-Docker-Container-Path-Stat); a dangling link names its own target, and
// a loop is an error.
func TestStatFollowsTheLinkChain(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "c"), []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"b": "/d/c", "a": "b", "dir": "/d", "via": "/dir/c", "dangling": "/nothing",
		"loop1": "loop2", "loop2": "/loop1", "out": "../../../d/c",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	r := &containerRoot{syncer: syncer{root: fd}, name: "t"}
	for p, want := range map[string]string{
		"/a": "/d/c", "/b": "/d/c", "/via": "/d/c", "/dangling": "/nothing", "/d/c": "", "/out": "/d/c",
	} {
		st, err := r.statAt(p)
		if err != nil || st.LinkTarget != want {
			t.Errorf("stat %s: link target %q, %v; want %q", p, st.LinkTarget, err, want)
		}
	}
	if st, err := r.statAt("/loop1"); err == nil {
		t.Errorf("stat of a loop of links: %+v, want an error", st)
	}
}
