package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// writers are WriteFile and Replace, which differ only in syncing.
var writers = []struct {
	name  string
	write func(string, []byte, os.FileMode) error
}{{"WriteFile", WriteFile}, {"Replace", Replace}}

func TestWriteFileReplacesContent(t *testing.T) {
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "state.json")
			for _, content := range []string{"first", "second, longer content"} {
				if err := w.write(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != content {
					t.Fatalf("content = %q, want %q", got, content)
				}
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Fatalf("temporary files left behind: %v", entries)
			}
		})
	}
}

func TestWriteFileMissingDirFails(t *testing.T) {
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			if err := w.write(filepath.Join(t.TempDir(), "no", "such"), []byte("x"), 0o644); err == nil {
				t.Fatal("write into a missing directory succeeded")
			}
		})
	}
}

func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "n.json")
	for _, name := range []string{".n.json.tmp123", ".n.json.tmp9", ".other.json.tmp1", "n.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTemps(p); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 2 || left[0] != ".other.json.tmp1" || left[1] != "n.json" {
		t.Fatalf("left %v, want the other record's temp file and the record", left)
	}
}
