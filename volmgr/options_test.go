package volmgr

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestInvalidNamesEverywhere(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "..", ".", "a/b", "../x", "/abs", "a\\b", "-x", "a b"} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Create(t.Context(), name, nil); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("create %q: err = %v, want invalid argument", name, err)
			}
			if err := s.Remove(t.Context(), name); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("remove %q: err = %v, want invalid argument", name, err)
			}
		})
	}
}

func TestCreateOptionsValidated(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opt  CreateOptions
	}{
		{"unknown driver", CreateOptions{Driver: "nfs"}},
		{"unknown option", CreateOptions{Opts: map[string]string{"type": "tmpfs", "foo": "bar"}}},
		{"no type", CreateOptions{Opts: map[string]string{"o": "size=1m"}}},
		{"bind of a relative device", CreateOptions{Opts: map[string]string{"type": "none", "o": "bind", "device": "rel"}}},
		{"bind of a missing device", CreateOptions{Opts: map[string]string{"type": "none", "o": "bind", "device": "/nonexistent/berth"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.CreateWithOptions(t.Context(), "v", tc.opt); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("err = %v, want invalid argument", err)
			}
			if _, err := os.Stat(filepath.Join(s.dir, "v")); !os.IsNotExist(err) {
				t.Fatalf("a refused create left %s", filepath.Join(s.dir, "v"))
			}
		})
	}
	v, err := s.CreateWithOptions(t.Context(), "t", CreateOptions{Driver: "local", Opts: map[string]string{"type": "tmpfs", "o": "size=1m"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(t.Context(), "t")
	if err != nil || got.Options["type"] != "tmpfs" || got.Options["o"] != "size=1m" || got.Mountpoint != v.Mountpoint {
		t.Fatalf("get = %+v, %v; want the options recorded", got, err)
	}
}

func TestConcurrentCreateKeepsData(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v, err := s.Create(ctx, "shared", map[string]string{"a": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			name := "shared"
			if i%2 == 1 {
				name = "fresh"
			}
			_, errs[i] = s.Create(ctx, name, map[string]string{"i": strconv.Itoa(i)})
		})
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
			if i%2 == 0 {
				t.Errorf("create of the existing volume succeeded")
			}
		case !errdefs.IsAlreadyExists(err):
			t.Errorf("create %d: %v, want success or already exists", i, err)
		}
	}
	if created != 1 {
		t.Errorf("%d creates of a new volume succeeded, want 1", created)
	}
	if b, _ := os.ReadFile(filepath.Join(v.Mountpoint, "f")); string(b) != "keep" {
		t.Error("concurrent creates touched the data")
	}
	if got, _ := s.Get(ctx, "shared"); got.Labels["a"] != "1" {
		t.Errorf("labels of the existing volume changed: %v", got.Labels)
	}
}

// TestConcurrentCreateAcrossProcesses runs creates from separate processes
// (this test binary re-executed).
func TestConcurrentCreateAcrossProcesses(t *testing.T) {
	if root := os.Getenv("VOLMGR_TEST_CREATE_ROOT"); root != "" {
		s, err := Open(root, nil)
		if err != nil {
			os.Exit(2)
		}
		if _, err := s.Create(t.Context(), "race", nil); err != nil && !errdefs.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		return
	}
	root := t.TempDir()
	var cmds []*exec.Cmd
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentCreateAcrossProcesses$")
		cmd.Env = append(os.Environ(), "VOLMGR_TEST_CREATE_ROOT="+root)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("create process: %v", err)
		}
	}
	s, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vols, err := s.List(t.Context(), nil); err != nil || len(vols) != 1 {
		t.Fatalf("list = %v, %v; want one volume", vols, err)
	}
}

func TestSeedOnceAndNeverOverData(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v, err := s.Create(ctx, "v", nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	fill := func(dir string) error {
		calls++
		return os.WriteFile(filepath.Join(dir, "seed"), []byte("image"), 0o644)
	}
	if err := s.Seed(ctx, "v", func(string) error { calls++; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "v"); got.Seeded {
		t.Fatal("an empty copy marked the volume seeded")
	}
	if err := s.Seed(ctx, "v", fill); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "v"); !got.Seeded {
		t.Fatal("not marked seeded")
	}
	if err := os.Remove(filepath.Join(v.Mountpoint, "seed")); err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(ctx, "v", fill); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("fill called %d times, want 2 (once empty, once seeding)", calls)
	}
	w, err := s.Create(ctx, "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.Mountpoint, "user"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(ctx, "w", func(string) error { t.Fatal("seeded over data"); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveUnmountsBindNeverDeletingHostData(t *testing.T) {
	testutil.RequirePrivileged(t)
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateWithOptions(ctx, "b", CreateOptions{Opts: map[string]string{"type": "none", "o": "bind", "device": host}}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Mount(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "precious")); err != nil {
		t.Fatalf("bind not mounted: %v", err)
	}
	if _, err := s.Mount(ctx, "b"); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host, "precious")); err != nil {
		t.Fatalf("removing the volume deleted the host's data: %v", err)
	}

	if _, err := s.CreateWithOptions(ctx, "t", CreateOptions{Opts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0700"}}); err != nil {
		t.Fatal(err)
	}
	p, err = s.Mount(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	var st = mustStatfsType(t, p)
	if st != 0x01021994 {
		t.Errorf("file system type %#x, want tmpfs", st)
	}
	if err := s.Unmount(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if st := mustStatfsType(t, p); st == 0x01021994 {
		t.Error("tmpfs still mounted after Unmount")
	}
	if err := s.Remove(ctx, "t"); err != nil {
		t.Fatal(err)
	}
}

func mustStatfsType(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Type)
}

func TestRemoveRefusesWithAMountInside(t *testing.T) {
	testutil.RequirePrivileged(t)
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v, err := s.Create(ctx, "v", nil)
	if err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(v.Mountpoint, "inner")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(host, inner, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(inner, unix.MNT_DETACH) })
	if err := s.Remove(ctx, "v"); !errdefs.IsConflict(err) {
		t.Fatalf("remove with a mount inside: %v, want conflict", err)
	}
	if _, err := os.Stat(filepath.Join(host, "precious")); err != nil {
		t.Fatalf("host data deleted: %v", err)
	}
	if _, err := s.Get(ctx, "v"); err != nil {
		t.Fatalf("the refused remove damaged the volume: %v", err)
	}
	if err := unix.Unmount(inner, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "v"); err != nil {
		t.Fatal(err)
	}
}

func TestSeedCutShortIsRedone(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v, err := s.Create(ctx, "v", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A copy that fails half-way leaves nothing in the volume.
	err = s.Seed(ctx, "v", func(dir string) error {
		if err := os.WriteFile(filepath.Join(dir, "half"), []byte("x"), 0o644); err != nil {
			return err
		}
		return os.ErrDeadlineExceeded
	})
	if err == nil {
		t.Fatal("a failed copy succeeded")
	}
	if ents, _ := os.ReadDir(v.Mountpoint); len(ents) != 0 {
		t.Fatalf("a failed copy left %v", ents)
	}
	// As does a process that died half-way (its staging directory left).
	if err := os.MkdirAll(filepath.Join(v.Mountpoint, seedStaging, "half"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(ctx, "v", func(dir string) error {
		if err := os.Chmod(dir, 0o751); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "whole"), []byte("x"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(v.Mountpoint)
	if len(ents) != 1 || ents[0].Name() != "whole" {
		t.Fatalf("volume holds %v, want whole only", ents)
	}
	if st, _ := os.Stat(v.Mountpoint); st.Mode().Perm() != 0o751 {
		t.Errorf("volume root mode %v, want the copied 0751", st.Mode())
	}
	if got, _ := s.Get(ctx, "v"); !got.Seeded {
		t.Error("not marked seeded")
	}
}
