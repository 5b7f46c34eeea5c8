package topdir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMkdirAllMarks(t *testing.T) {
	base := t.TempDir()
	if _, ok := Marked(base); !ok {
		t.Skipf("%s keeps no inode flags", base)
	}
	dir := filepath.Join(base, "a", "containers")
	if err := MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o711 {
		t.Fatalf("stat %s: %v, %v", dir, st, err)
	}
	marked, _ := Marked(dir)
	if !marked {
		t.Skipf("the filesystem of %s keeps flags but not FS_TOPDIR_FL", base)
	}
	// Only dir itself: its parents are left alone, and a second call on
	// an existing directory keeps the mark.
	if m, _ := Marked(filepath.Join(base, "a")); m {
		t.Errorf("%s/a is marked too", base)
	}
	if err := MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if m, _ := Marked(dir); !m {
		t.Errorf("the second MkdirAll lost the mark")
	}
	// The flag is not inherited: a child of a marked directory is a plain
	// one, its own children packed with it.
	child := filepath.Join(dir, "c1")
	if err := os.Mkdir(child, 0o700); err != nil {
		t.Fatal(err)
	}
	if m, _ := Marked(child); m {
		t.Errorf("%s inherited the mark", child)
	}
}

// An existing directory made before berth marked its state directories
// (a root of an older version) is marked by the next MkdirAll.
func TestMkdirAllMarksExisting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, ok := Marked(dir); !ok {
		t.Skipf("%s keeps no inode flags", dir)
	}
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if m, _ := Marked(dir); !m {
		t.Skip("the filesystem keeps flags but not FS_TOPDIR_FL")
	}
}

func TestMkdirAllRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(f, 0o700); err == nil {
		t.Fatal("MkdirAll over a file succeeded")
	}
}

func TestMarkedOnMissing(t *testing.T) {
	if m, ok := Marked(filepath.Join(t.TempDir(), "none")); m || ok {
		t.Fatalf("Marked of a missing dir = %v, %v", m, ok)
	}
}
