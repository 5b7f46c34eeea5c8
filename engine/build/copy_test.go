package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// copySum plans cp over the context dir and returns its cache key.
func copySum(t *testing.T, dir string, cp *copyStep) string {
	t.Helper()
	tree, err := openContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := planCopy(tree, cp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := checksum(pl.files, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &step{kind: stepCopy, copy: cp}
	return stepKey("parent", st.keyText(), sum)
}

// TestCopyKeyExclude: editing a file --exclude leaves out keeps the key;
// editing one it copies, or changing the patterns, changes it.
func TestCopyKeyExclude(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"src/a.go": "a", "src/notes.md": "n", "src/sub/b.md": "b"})
	cp := func(ex ...string) *copyStep {
		return &copyStep{Sources: []string{"src"}, Dest: "/app", DestDir: true, Excludes: ex}
	}
	first := copySum(t, dir, cp("*.md"))
	writeFiles(t, dir, map[string]string{"src/notes.md": "edited"})
	if copySum(t, dir, cp("*.md")) != first {
		t.Error("editing an excluded file changed the key")
	}
	writeFiles(t, dir, map[string]string{"src/sub/b.md": "edited"})
	if copySum(t, dir, cp("*.md")) == first {
		t.Error("editing sub/b.md, which *.md does not exclude, kept the key")
	}
	if copySum(t, dir, cp("*.md", "sub")) == copySum(t, dir, cp("*.md")) {
		t.Error("another pattern kept the key")
	}
}

// TestCopyKeyInline: a heredoc's content is in the key.
func TestCopyKeyInline(t *testing.T) {
	dir := t.TempDir()
	key := func(data string) string {
		return copySum(t, dir, &copyStep{Inline: []inlineFile{{Name: "EOF", Data: data}}, Dest: "/f"})
	}
	if key("one\n") != key("one\n") || key("one\n") == key("two\n") {
		t.Error("the key does not follow the heredoc's content")
	}
}

// TestAddExtract: ADD of a local gzip tar writes its entries under the
// destination, none outside it, hard links re-rooted, owners kept; a
// compressed file that is no tar is copied as it is.
func TestAddExtract(t *testing.T) {
	dir := t.TempDir()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, h := range []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "f", Typeflag: tar.TypeReg, Mode: 0o600, Size: 1, Uid: 7, Gid: 8},
		{Name: "../../../out", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		{Name: "h", Typeflag: tar.TypeLink, Linkname: "/f"},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			_, _ = tw.Write([]byte("x"))
		}
	}
	_ = tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	var plain bytes.Buffer
	zw = gzip.NewWriter(&plain)
	_, _ = zw.Write([]byte("text"))
	_ = zw.Close()
	writeFiles(t, dir, map[string]string{"a.tgz": gz.String(), "text.gz": plain.String()})
	tree, err := openContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := planCopy(tree, &copyStep{Add: true, Sources: []string{"a.tgz", "text.gz"}, Dest: "/opt/x", DestDir: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := pl.writeTar(&out, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e := h.Name + " " + string(h.Typeflag)
		if h.Typeflag == tar.TypeLink {
			e += " -> " + h.Linkname
		}
		if h.Name == "opt/x/f" && (h.Uid != 7 || h.Gid != 8) {
			t.Errorf("opt/x/f owned by %d:%d, want the archive's 7:8", h.Uid, h.Gid)
		}
		got = append(got, e)
	}
	want := []string{"opt/ 5", "opt/x/ 5", "opt/x/f 0", "opt/x/out 0", "opt/x/h 1 -> opt/x/f", "opt/x/text.gz 0"}
	if !slices.Equal(got, want) {
		t.Errorf("layer:\n got %q\nwant %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("an entry was written outside")
	}
}

// FuzzAddExtract: whatever a local file given to ADD holds, the layer
// written from it has every entry, and every hard link's target, under
// the destination.
func FuzzAddExtract(f *testing.F) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	_ = tw.WriteHeader(&tar.Header{Name: "../a", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	_, _ = tw.Write([]byte("a"))
	_ = tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"})
	_ = tw.Close()
	f.Add(raw.Bytes())
	f.Add([]byte("not an archive"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "in"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		tree, err := openContext(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		pl, err := planCopy(tree, &copyStep{Add: true, Sources: []string{"in"}, Dest: "/d/x", DestDir: true}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := pl.writeTar(&out, nil); err != nil {
			return // a corrupt archive is an error, not a layer
		}
		tr := tar.NewReader(&out)
		for {
			h, err := tr.Next()
			if err != nil {
				return
			}
			if h.Name != "d/" && h.Name != "d/x/" && !strings.HasPrefix(h.Name, "d/x/") {
				t.Fatalf("entry %q outside the destination", h.Name)
			}
			if h.Typeflag == tar.TypeLink && !strings.HasPrefix(h.Linkname, "d/x/") {
				t.Fatalf("hard link %q to %q outside the destination", h.Name, h.Linkname)
			}
		}
	})
}

// TestParentsFiles: --parents keeps each match's path from the root or the
// "/./" pivot, with the directories on the way once; a wildcard may match
// nothing, a plain path must exist, and the pivot itself is refused.
func TestParentsFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a/b/c.txt": "c", "x/y/1.txt": "1", "x/y/2.txt": "2", "x/y/3.log": "3"})
	tree, err := openContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := newExcluder([]string{"y/2.txt"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := tree.parentsFiles([]string{"a/b/c.txt", "x/./y/*.txt", "x/./y/1.txt", "x/./*.none"}, "p", ex)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p/a", "p/a/b", "p/a/b/c.txt", "p/y", "p/y/1.txt", "p/y/1.txt"}
	if got := dsts(files); !slices.Equal(got, want) {
		t.Errorf("files:\n got %q\nwant %q", got, want)
	}
	for src, class := range map[string]func(error) bool{"a/missing.txt": errdefs.IsNotFound, "x/./.": errdefs.IsInvalidArgument, "../out": errdefs.IsInvalidArgument} {
		if _, err := tree.parentsFiles([]string{src}, "p", nil); !class(err) {
			t.Errorf("--parents %s: %v", src, err)
		}
	}
}
