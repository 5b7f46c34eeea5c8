package shimbin

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withBinary makes the package carry b, with the digest linked in (""
// for none), for one test.
func withBinary(t *testing.T, b []byte, linked string) {
	t.Helper()
	oldBin, oldSum := binary, sum
	binary, sum = b, linked
	t.Cleanup(func() { binary, sum = oldBin, oldSum })
}

func TestInstall(t *testing.T) {
	prog := []byte("#!/bin/sh\necho shim\n")
	d := sha256.Sum256(prog)
	digest := hex.EncodeToString(d[:])
	for _, tc := range []struct {
		name   string
		linked string
	}{
		{"digest computed", ""},
		{"digest linked in", digest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withBinary(t, prog, tc.linked)
			dir := filepath.Join(t.TempDir(), "bin")
			path, err := Install(dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, "berth-shim-"+digest[:16]); path != want {
				t.Fatalf("path %s, want %s", path, want)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o755 {
				t.Fatalf("installed: %v, %v", fi, err)
			}
			if got, _ := os.ReadFile(path); string(got) != string(prog) {
				t.Fatalf("content %q", got)
			}
			// A second install finds it in place.
			again, err := Install(dir)
			if err != nil || again != path {
				t.Fatalf("second install: %q, %v", again, err)
			}
			// A damaged file (truncated, wrong mode) is replaced.
			if err := os.WriteFile(path, prog[:3], 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Install(dir); err != nil {
				t.Fatal(err)
			}
			fi, _ = os.Stat(path)
			if got, _ := os.ReadFile(path); string(got) != string(prog) || fi.Mode().Perm() != 0o755 {
				t.Fatalf("after repair: %q, %v", got, fi.Mode())
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("left in %s: %v", dir, ents)
			}
		})
	}
}

func TestInstallStaleDigest(t *testing.T) {
	other := sha256.Sum256([]byte("another build"))
	withBinary(t, []byte("the shim"), hex.EncodeToString(other[:]))
	dir := t.TempDir()
	_, err := Install(dir)
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("Install with a digest that is not the shim's: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in %s: %v", dir, ents)
	}
}

func TestInstallBadDigest(t *testing.T) {
	withBinary(t, []byte("the shim"), "not-hex")
	if _, err := Install(t.TempDir()); err == nil {
		t.Fatal("Install with a malformed digest succeeded")
	}
}

func TestInstallNone(t *testing.T) {
	withBinary(t, nil, "")
	path, err := Install(t.TempDir())
	if path != "" || err != nil {
		t.Fatalf("Install without a shim: %q, %v", path, err)
	}
}
