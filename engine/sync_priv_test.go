package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestPrivSyncFiles(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	cfg := busybox("sync", "sleep", "100")
	cfg.User = "nobody"
	id := mustCreate(t, e, cfg)
	t.Cleanup(func() { _ = e.Remove(ctx, id, true) })
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	in := func(script string) string {
		t.Helper()
		var out, errb bytes.Buffer
		code, err := e.Exec(ctx, id, ExecConfig{Cmd: []string{"sh", "-c", script}, User: "root"}, ExecIO{Stdout: &out, Stderr: &errb})
		if err != nil || code != 0 {
			t.Fatalf("exec %q: %d %v %s", script, code, err, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	host := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(host, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.txt", "hello", 0o640)
	x := write("bin/run", "#!/bin/sh\necho ran\n", 0o755)
	link := filepath.Join(host, "link")
	if err := os.Symlink("a.txt", link); err != nil {
		t.Fatal(err)
	}
	// /etc/passwd in the container is an escape a symlink might try.
	in("ln -s /etc /tmp/evil && mkdir -p /app")

	t.Run("files, links and missing directories", func(t *testing.T) {
		res, err := e.SyncFiles(ctx, id, []SyncPath{
			{Src: a, Dst: "/app/deep/new/a.txt"}, {Src: x, Dst: "/app/bin/run"}, {Src: link, Dst: "/app/deep/new/link"},
		}, SyncOptions{})
		if err != nil || res.Copied != 3 || len(res.Failed) != 0 {
			t.Fatalf("SyncFiles = %+v, %v", res, err)
		}
		got := in("cat /app/deep/new/a.txt; stat -c '%u:%g %a' /app/deep/new/a.txt /app/deep/new /app/bin/run; readlink /app/deep/new/link; /app/bin/run")
		want := "hello65534:65534 640\n65534:65534 755\n65534:65534 755\na.txt\nran"
		if got != want {
			t.Errorf("in the container:\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("a link in the container stays inside it", func(t *testing.T) {
		res, err := e.SyncFiles(ctx, id, []SyncPath{{Src: a, Dst: "/tmp/evil/synced"}}, SyncOptions{})
		if err != nil || res.Copied != 1 {
			t.Fatalf("SyncFiles = %+v, %v", res, err)
		}
		if _, err := os.Stat("/etc/synced"); err == nil {
			_ = os.Remove("/etc/synced")
			t.Fatal("sync followed a container link onto the host")
		}
		if got := in("cat /etc/synced"); got != "hello" {
			t.Errorf("synced through the link: %q", got)
		}
	})
	t.Run("deletion and unchanged", func(t *testing.T) {
		if err := os.Remove(a); err != nil {
			t.Fatal(err)
		}
		res, err := e.SyncFiles(ctx, id, []SyncPath{{Src: a, Dst: "/app/deep/new/a.txt"}, {Src: filepath.Join(host, "gone"), Dst: "/app/deep"}, {Src: x, Dst: "/app/bin/run"}}, SyncOptions{SkipUnchanged: true})
		if err != nil || res.Removed != 2 || res.Unchanged != 1 {
			t.Fatalf("SyncFiles = %+v, %v", res, err)
		}
		if got := in("ls -A /app"); got != "bin" {
			t.Errorf("/app holds %q", got)
		}
	})
	t.Run("an unreadable file fails alone", func(t *testing.T) {
		good := write("good", "ok", 0o644)
		// root reads any file, whatever its mode: a fifo stands in.
		bad := filepath.Join(host, "bad")
		if err := mkfifo(bad); err != nil {
			t.Fatal(err)
		}
		res, err := e.SyncFiles(ctx, id, []SyncPath{{Src: bad, Dst: "/app/bad"}, {Src: good, Dst: "/app/good"}}, SyncOptions{})
		if err != nil || res.Copied != 1 || len(res.Failed) != 1 {
			t.Fatalf("SyncFiles = %+v, %v", res, err)
		}
	})
	t.Run("survives stop and start", func(t *testing.T) {
		if err := e.Stop(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.SyncFiles(ctx, id, nil, SyncOptions{}); !errdefs.IsFailedPrecondition(err) {
			t.Errorf("sync into a stopped container: %v", err)
		}
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got := in("cat /app/good"); got != "ok" {
			t.Errorf("after a restart: %q", got)
		}
	})
}
