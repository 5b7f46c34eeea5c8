package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSourceSum: a COPY's checksum is remembered by its files' stat
// identity once they settled, not before; rewriting a file, even with the
// same size, is a new identity and a new checksum.
func TestSourceSum(t *testing.T) {
	dir := t.TempDir()
	c := &cache{dir: filepath.Join(dir, "build")}
	ctx := filepath.Join(dir, "ctx")
	writeFiles(t, ctx, map[string]string{"src/a.txt": "aaaa", "src/b.txt": "bbbb"})
	tree := &srcTree{root: ctx, what: "build context"}
	list := func() []srcFile {
		t.Helper()
		fs, err := tree.files("src", "/app", true, excludeAt{})
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	want, err := checksum(list(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sums := func() int {
		ents, _ := os.ReadDir(filepath.Join(c.dir, "sums"))
		return len(ents)
	}

	// Just written: summed, not remembered.
	if got, err := c.sourceSum(list(), nil); err != nil || got != want || sums() != 0 {
		t.Fatalf("fresh files: %s, %v, %d remembered; want %s and none", got, err, sums(), want)
	}
	// Settled: remembered, and then read from memory (a planted value
	// proves it is not summed again).
	future := time.Now().Add(time.Hour)
	if got, err := c.sourceSumSettled(list(), future, nil); err != nil || got != want || sums() != 1 {
		t.Fatalf("settled files: %s, %v, %d remembered", got, err, sums())
	}
	id, ok := statIdentity(list(), future)
	if !ok {
		t.Fatal("no identity for settled files")
	}
	planted := "0123456789012345678901234567890123456789012345678901234567890123"
	if err := os.WriteFile(filepath.Join(c.dir, "sums", id), []byte(planted), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.sourceSumSettled(list(), future, nil); got != planted {
		t.Errorf("remembered checksum not used: got %s", got)
	}
	// The same size, other content, as editors save (a new file renamed
	// over the old; a rewrite in place within one timestamp tick is what
	// the settle time guards): a new identity, a true checksum.
	tmp := filepath.Join(ctx, "a.new")
	if err := os.WriteFile(tmp, []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(ctx, "src", "a.txt")); err != nil {
		t.Fatal(err)
	}
	got, err := c.sourceSumSettled(list(), future, nil)
	if err != nil || got == want || got == planted {
		t.Errorf("after a rewrite: %s, %v; want a new checksum", got, err)
	}
	if err := c.forgetSums(); err != nil || sums() != 0 {
		t.Errorf("forgetSums: %v, %d left", err, sums())
	}
}
