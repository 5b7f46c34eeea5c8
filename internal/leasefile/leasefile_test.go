package leasefile

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLive: the names of held leases are live; a lease file nobody holds
// is a dead holder's and goes; a released lease holds nothing.
func TestLive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "leases")
	if m, err := Live(dir); err != nil || len(m) != 0 {
		t.Fatalf("no directory: %v, %v", m, err)
	}
	a, b := New(dir), New(dir)
	for _, n := range []string{"x", "y", "x"} {
		if err := a.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add("z"); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "lease-dead")
	if err := os.WriteFile(dead, []byte("w\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Live(dir)
	if got := slices.Sorted(maps.Keys(m)); err != nil || !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Errorf("live: %q, %v; want x y z", got, err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead lease is still there: %v", err)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	m, err = Live(dir)
	if got := slices.Sorted(maps.Keys(m)); err != nil || !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("live after b's release: %q, %v; want x y", got, err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
}
