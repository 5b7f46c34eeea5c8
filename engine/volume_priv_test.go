package engine

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/volmgr"
)

// importSeedImage imports "seed:latest": busybox with /data holding a
// file owned by www-data (0640, with an xattr), a symbolic link and a
// hard link, in a directory of mode 0750 owned by www-data.
func importSeedImage(t *testing.T, e *Engine) {
	t.Helper()
	var bb bytes.Buffer
	if err := testimage.BusyboxRootfs(&bb); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(&bb)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	dir := testimage.Dir("data", 0o750)
	dir.UID, dir.GID = 33, 33
	hello := testimage.File("data/hello", 0o640, []byte("from image\n"))
	hello.UID, hello.GID = 33, 33
	hello.Xattrs = map[string]string{"user.berth": "kept"}
	var extra bytes.Buffer
	if err := testimage.WriteTar(&extra, dir, hello, testimage.Symlink("data/link", "hello"), testimage.Hardlink("data/hard", "data/hello")); err != nil {
		t.Fatal(err)
	}
	xr := tar.NewReader(&extra)
	for {
		h, err := xr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, xr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.images.Import(t.Context(), &out, "seed:latest", image.ImportOptions{Created: testimage.MTime}); err != nil {
		t.Fatal(err)
	}
}

// runToExit creates, starts and waits for a container, returning its
// stdout and exit code; the container is removed.
func runToExit(t *testing.T, e *Engine, cfg ContainerConfig) (string, int) {
	t.Helper()
	id := mustCreate(t, e, cfg)
	defer func() {
		if err := e.Remove(t.Context(), id, true); err != nil {
			t.Error(err)
		}
	}()
	if err := e.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	st := waitExited(t, e, id)
	var b strings.Builder
	for _, l := range readLogs(t, e, id, LogOptions{Tail: -1}) {
		b.WriteString(l.Text + "\n")
	}
	return b.String(), st.ExitCode
}

func TestPrivVolumeSeededOnceAndDataSurvivesRecreate(t *testing.T) {
	e := newPrivEngine(t)
	importSeedImage(t, e)
	ctx := t.Context()
	v, err := e.vols.Create(ctx, "p_data", nil)
	if err != nil {
		t.Fatal(err)
	}
	vm := []Mount{{Type: "volume", Source: "p_data", Target: "/data"}}
	out, code := runToExit(t, e, ContainerConfig{Name: "c1", Image: "seed", Mounts: vm,
		Cmd: []string{"sh", "-c", "cat /data/hello && echo written > /data/new && rm /data/hard"}})
	if code != 0 || out != "from image\n" {
		t.Fatalf("first container: exit %d, output %q", code, out)
	}
	var st = statOf(t, filepath.Join(v.Mountpoint, "hello"))
	if st.Mode().Perm() != 0o640 || ownerOf(st) != [2]uint32{33, 33} {
		t.Errorf("seeded hello: mode %v owner %v, want 0640 owned by 33:33", st.Mode(), ownerOf(st))
	}
	if root := statOf(t, v.Mountpoint); root.Mode().Perm() != 0o750 || ownerOf(root) != [2]uint32{33, 33} {
		t.Errorf("volume root: mode %v owner %v, want the image's 0750 33:33", root.Mode(), ownerOf(root))
	}
	if l, err := os.Readlink(filepath.Join(v.Mountpoint, "link")); err != nil || l != "hello" {
		t.Errorf("seeded link = %q, %v; want a symbolic link to hello", l, err)
	}
	if x := getXattr(filepath.Join(v.Mountpoint, "hello"), "user.berth"); x != "kept" && x != "unsupported" {
		t.Errorf("xattr user.berth = %q, want kept", x)
	}
	if got, _ := e.vols.Get(ctx, "p_data"); !got.Seeded {
		t.Error("volume not marked seeded")
	}
	// A new container with a different configuration on the same volume
	// sees the data; the image's content is not copied again (hard was
	// deleted and stays deleted).
	out, code = runToExit(t, e, ContainerConfig{Name: "c2", Image: "seed", Mounts: vm, Env: []string{"CHANGED=1"},
		Cmd: []string{"sh", "-c", "cat /data/new; ls /data"}})
	if code != 0 || !strings.HasPrefix(out, "written\n") || strings.Contains(out, "hard") {
		t.Fatalf("second container: exit %d, output %q; want the data written, hard still deleted", code, out)
	}

	// nocopy leaves a new volume empty.
	w, err := e.vols.Create(ctx, "p_empty", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, code := runToExit(t, e, ContainerConfig{Name: "c3", Image: "seed", Cmd: []string{"true"},
		Mounts: []Mount{{Type: "volume", Source: "p_empty", Target: "/data", NoCopy: true}}}); code != 0 {
		t.Fatalf("nocopy container exited %d", code)
	}
	if ents, _ := os.ReadDir(w.Mountpoint); len(ents) != 0 {
		t.Errorf("nocopy volume holds %v", ents)
	}
}

func TestPrivMountKinds(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	v, err := e.vols.Create(ctx, "sub", nil)
	if err != nil {
		t.Fatal(err)
	}
	// subpath: must exist, must stay inside.
	sub := ContainerConfig{Name: "sub", Image: "busybox", Cmd: []string{"cat", "/in/f"},
		Mounts: []Mount{{Type: "volume", Source: "sub", Target: "/in", Subpath: "a/b"}}}
	id := mustCreate(t, e, sub)
	if err := e.Start(ctx, id); err == nil || !strings.Contains(err.Error(), `subpath "a/b" does not exist`) {
		t.Fatalf("start with a missing subpath: %v", err)
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(v.Mountpoint, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "a/b/f"), []byte("sub\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runToExit(t, e, sub); code != 0 || out != "sub\n" {
		t.Fatalf("subpath: exit %d output %q", code, out)
	}
	bad := sub
	bad.Name, bad.Mounts = "bad", []Mount{{Type: "volume", Source: "sub", Target: "/in", Subpath: "../x"}}
	if _, err := e.Create(ctx, bad); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("subpath ../x: %v, want invalid argument", err)
	}

	// Binds: create_host_path.
	missing := filepath.Join(t.TempDir(), "missing")
	nb := ContainerConfig{Name: "nb", Image: "busybox", Cmd: []string{"true"}, Mounts: []Mount{{Type: "bind", Source: missing, Target: "/m"}}}
	id = mustCreate(t, e, nb)
	if err := e.Start(ctx, id); err == nil || !strings.Contains(err.Error(), "bind source "+missing+" does not exist") {
		t.Fatalf("start with a missing bind source: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("a missing bind source was made without create_host_path")
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	nb.Name, nb.Mounts[0].CreateHostPath = "nb2", true
	if _, code := runToExit(t, e, nb); code != 0 {
		t.Fatalf("create_host_path container exited %d", code)
	}
	if _, err := os.Stat(missing); err != nil {
		t.Fatalf("create_host_path: %v", err)
	}

	// tmpfs with size and mode, and files (configs, secrets).
	uid := 33
	out, code := runToExit(t, e, ContainerConfig{Name: "tf", Image: "busybox",
		Cmd: []string{"sh", "-c", "stat -c '%a' /run/t; df -k /run/t | tail -1; stat -c '%a %u %g' /run/secrets/s; cat /run/secrets/s; (echo x > /run/secrets/s) 2>/dev/null || echo ro"},
		Mounts: []Mount{
			{Type: "tmpfs", Target: "/run/t", TmpfsSize: 2 << 20, TmpfsMode: 0o1770},
			{Type: "file", Target: "/run/secrets/s", Content: []byte("hush\n"), FileUID: uid, FileGID: uid, FileMode: 0o400},
		}})
	lines := strings.Split(out, "\n")
	if code != 0 || len(lines) < 5 || lines[0] != "1770" || !strings.Contains(lines[1], " 2048 ") || lines[2] != "400 33 33" || lines[3] != "hush" || !strings.Contains(out, "ro\n") {
		t.Fatalf("tmpfs and file: exit %d output %q", code, out)
	}
	// A file from the host that went missing.
	id = mustCreate(t, e, ContainerConfig{Name: "fm", Image: "busybox", Cmd: []string{"true"},
		Mounts: []Mount{{Type: "file", Target: "/c", Source: "/nonexistent/berth-config"}}})
	if err := e.Start(ctx, id); err == nil || !strings.Contains(err.Error(), "/nonexistent/berth-config does not exist") {
		t.Fatalf("start with a missing config file: %v", err)
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}
}

func TestPrivVolumesFromAndDriverOpts(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	if _, err := e.vols.CreateWithOptions(ctx, "mem", volmgr.CreateOptions{Opts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}}); err != nil {
		t.Fatal(err)
	}
	src := mustCreate(t, e, ContainerConfig{Name: "src", Image: "busybox", Cmd: []string{"sh", "-c", "echo shared > /shared/f; df /shared | tail -1"},
		Mounts: []Mount{{Type: "volume", Source: "mem", Target: "/shared"}}})
	if err := e.Start(ctx, src); err != nil {
		t.Fatal(err)
	}
	if st := waitExited(t, e, src); st.ExitCode != 0 {
		t.Fatalf("src exited %d", st.ExitCode)
	}
	if out := readLogs(t, e, src, LogOptions{Tail: -1}); len(out) == 0 || !strings.HasPrefix(out[0].Text, "tmpfs") {
		t.Errorf("driver_opts volume is not a tmpfs: %v", out)
	}
	out, code := runToExit(t, e, ContainerConfig{Name: "dst", Image: "busybox", VolumesFrom: []string{"src:ro"},
		Cmd: []string{"sh", "-c", "cat /shared/f; touch /shared/g || echo refused"}})
	if code != 0 || !strings.Contains(out, "shared\n") || !strings.Contains(out, "refused\n") {
		t.Fatalf("volumes_from: exit %d output %q", code, out)
	}
	if _, err := e.Create(ctx, ContainerConfig{Name: "nope", Image: "busybox", Cmd: []string{"true"}, VolumesFrom: []string{"src:rx"}}); err == nil {
		id := mustCreate(t, e, ContainerConfig{Name: "nope2", Image: "busybox", Cmd: []string{"true"}, VolumesFrom: []string{"src:rx"}})
		if err := e.Start(ctx, id); err == nil {
			t.Error("volumes_from src:rx accepted")
		}
	}
	memMount := []Mount{{Type: "volume", Source: "mem", Target: "/shared"}}
	memPath := e.vols.Path("mem")
	if err := e.ReleaseVolumes(ctx, memMount); err != nil {
		t.Fatal(err)
	}
	if mounted, _ := mountinfo.Mounted(memPath); !mounted {
		t.Fatal("released while container src still mounts it")
	}
	if err := e.Remove(ctx, src, true); err != nil {
		t.Fatal(err)
	}
	if err := e.ReleaseVolumes(ctx, memMount); err != nil {
		t.Fatal(err)
	}
	if mounted, _ := mountinfo.Mounted(memPath); mounted {
		t.Fatal("still mounted with no container using it")
	}
	if err := e.vols.Remove(ctx, "mem"); err != nil {
		t.Fatal(err)
	}
}

func statOf(t *testing.T, p string) os.FileInfo {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPrivImageVolumeKeptByTheNextContainerOfTheName: the image's VOLUME
// gets an anonymous volume, seeded from the image, found again by the
// container that replaces this one (same name), and counted as in use.
func TestPrivImageVolumeKeptByTheNextContainerOfTheName(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	var tar bytes.Buffer
	if err := testimage.BusyboxRootfs(&tar); err != nil {
		t.Fatal(err)
	}
	if _, err := e.images.Import(ctx, &tar, "db:latest", image.ImportOptions{Created: testimage.MTime, Changes: []string{"VOLUME /db"}}); err != nil {
		t.Fatal(err)
	}
	cfg := ContainerConfig{Name: "p-db-1", Image: "db", VolumeLabels: map[string]string{"project": "p"},
		Cmd: []string{"sh", "-c", "echo row >> /db/table; cat /db/table"}}
	id := mustCreate(t, e, cfg)
	users, err := e.Volumes().Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := ImageVolumeName("p-db-1", "/db")
	if len(users[name]) != 1 {
		t.Fatalf("users = %v, want p-db-1 using %s before it ever ran", users, name)
	}
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitExited(t, e, id)
	if err := e.Volumes().Remove(ctx, name); !errdefs.IsConflict(err) {
		t.Fatalf("remove of the image volume of a stopped container: %v, want conflict", err)
	}
	v, err := e.vols.Get(ctx, name)
	if err != nil || v.Labels["project"] != "p" {
		t.Fatalf("image volume %+v, %v; want it labelled", v, err)
	}
	if err := e.Remove(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	// Mounted and unmounted as Docker reports its volumes.
	if got, want := journal(t, e, ContainerID(name), "container", "destination"), []string{
		"create", "mount container=" + string(id) + " destination=/db", "unmount container=" + string(id)}; !slices.Equal(got, want) {
		t.Fatalf("the image volume's events %q, want %q", got, want)
	}
	cfg.Env = []string{"CHANGED=1"}
	if out, code := runToExit(t, e, cfg); code != 0 || out != "row\nrow\n" {
		t.Fatalf("the replacing container: exit %d output %q, want the first row kept", code, out)
	}
	// A mount at the VOLUME's path replaces it.
	cfg.Name, cfg.Mounts = "other", []Mount{{Type: "tmpfs", Target: "/db"}}
	if out, code := runToExit(t, e, cfg); code != 0 || out != "row\n" {
		t.Fatalf("with a tmpfs at /db: exit %d output %q", code, out)
	}
	if _, err := e.vols.Get(ctx, ImageVolumeName("other", "/db")); !errdefs.IsNotFound(err) {
		t.Fatalf("a covered VOLUME got a volume: %v", err)
	}
}
