package volmgr

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
)

func TestCreateGetListRemove(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v, err := s.Create(ctx, "p_data", map[string]string{"project": "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "p_data", nil); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second create: err = %v, want already exists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(v.Mountpoint, "f")); string(b) != "keep" {
		t.Fatal("a second create touched the data")
	}
	if _, err := s.Create(ctx, "other", map[string]string{"project": "q"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx, map[string]string{"project": "p"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "p_data" {
		t.Fatalf("list by label = %v", got)
	}
	if err := s.Remove(ctx, "p_data"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "p_data"); !errdefs.IsNotFound(err) {
		t.Fatalf("get after remove: err = %v, want not found", err)
	}
	if _, err := os.Stat(v.Mountpoint); !os.IsNotExist(err) {
		t.Fatalf("data left after remove: %v", err)
	}
}

func TestInvalidNames(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "..", "a/b", "../x", "-x", ".hidden"} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Create(t.Context(), name, nil); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("create %q: err = %v, want invalid argument", name, err)
			}
		})
	}
}

func TestCorruptRecordIsReported(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(t.Context(), "v", nil); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "volumes", "v", "volume.json")
	if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(t.Context(), nil); err == nil {
		t.Fatal("list with a corrupt record succeeded")
	}
}
