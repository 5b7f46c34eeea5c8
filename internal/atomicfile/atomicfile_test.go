package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// writers are WriteFile and Replace, which differ only in syncing.
var writers = []struct {
	name  string
	write func(string, []byte, os.FileMode) error
}{{"WriteFile", WriteFile}, {"Replace", Replace}, {"WriteFrom", func(p string, b []byte, m os.FileMode) error {
	return WriteFrom(p, bytes.NewReader(b), m)
}}}

// TestWriteFromFailingReader: an error reading the content leaves the old
// file and no temporary one.
func TestWriteFromFailingReader(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log.gz")
	if err := WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFrom(p, io.MultiReader(bytes.NewReader([]byte("half")), errReader{boom}), 0o600)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("content = %q, want the old one", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

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
