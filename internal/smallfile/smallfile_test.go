package smallfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadAsOSReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		size int
	}{
		{"empty", 0}, {"one byte", 1}, {"small", 100}, {"511", 511}, {"512", 512}, {"513", 513}, {"large", 3 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			want := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			if err := os.WriteFile(p, want, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Read(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Read = %d bytes, %v; want %d bytes", len(got), err, len(want))
			}
		})
	}
}

// A file of /proc says its size is 0 and may be longer than a first
// guess.
func TestReadProcFile(t *testing.T) {
	got, err := Read("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	// The maps of this process change between the two reads only in
	// rare cases (a new mapping); the first lines (the binary) do not.
	first := func(b []byte) string { l, _, _ := bytes.Cut(b, []byte("\n")); return string(l) }
	if len(got) < 512 || first(got) != first(want) {
		t.Errorf("Read(/proc/self/maps) = %d bytes starting %q; os.ReadFile: %d bytes starting %q", len(got), first(got), len(want), first(want))
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, err := Read(missing)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" || pe.Path != missing {
		t.Errorf("Read(missing) = %v, want an open *fs.PathError that is fs.ErrNotExist", err)
	}
	if _, want := os.ReadFile(missing); err.Error() != want.Error() {
		t.Errorf("Read(missing) says %q, os.ReadFile %q", err, want)
	}
	_, err = Read(dir)
	if !errors.As(err, &pe) || pe.Op != "read" {
		t.Errorf("Read(a directory) = %v, want a read *fs.PathError", err)
	}
	if _, want := os.ReadFile(dir); err.Error() != want.Error() {
		t.Errorf("Read(a directory) says %q, os.ReadFile %q", err, want)
	}
}
