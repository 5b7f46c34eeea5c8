package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// TestPrivCopyExcludeParents: --exclude leaves out what its patterns match
// below each source; --parents keeps each source's path from the context's
// root or from a "/./" pivot. Editing an excluded file reruns nothing;
// changing a pattern reruns the step.
func TestPrivCopyExcludeParents(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	df := "FROM busybox\n" +
		"COPY --exclude=*.md --exclude=tmp src/ /ex/\n" +
		"COPY --exclude=**/*.md src /ex2/\n" +
		"ADD --exclude=*.log logs /logs/\n" +
		"COPY --parents a/b/c.txt x/./y/*.txt /p/\n" +
		"COPY --parents --exclude=y/2.txt x/./y /q/\n"
	writeFiles(t, dir, map[string]string{
		"Dockerfile": df,
		"src/a.go":   "a", "src/README.md": "readme", "src/tmp/x": "x", "src/sub/b.go": "b", "src/sub/c.md": "c",
		"logs/keep.txt": "k", "logs/drop.log": "d",
		"a/b/c.txt": "c", "x/y/1.txt": "1", "x/y/2.txt": "2", "x/y/3.log": "3",
	})
	if err := os.Chmod(filepath.Join(dir, "a/b"), 0o711); err != nil {
		t.Fatal(err)
	}
	if _, err := buildCtx(t, b, dir, "flags:1"); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"ex/a.go": true, "ex/sub/b.go": true, "ex/sub/c.md": true, "ex/README.md": false, "ex/tmp": false,
		"ex2/a.go": true, "ex2/tmp/x": true, "ex2/README.md": false, "ex2/sub/c.md": false,
		"logs/keep.txt": true, "logs/drop.log": false,
		"p/a/b/c.txt": true, "p/y/1.txt": true, "p/y/2.txt": true, "p/y/3.log": false, "p/x": false, "p/c.txt": false,
		"q/y/1.txt": true, "q/y/3.log": true, "q/y/2.txt": false,
	} {
		if _, _, ok := imageEntry(t, b, "flags:1", p); ok != want {
			t.Errorf("/%s: in the image %t, want %t", p, ok, want)
		}
	}
	if _, fi, ok := imageEntry(t, b, "flags:1", "p/a/b"); !ok || fi.Mode().Perm() != 0o711 {
		t.Errorf("--parents: /p/a/b %v, want the context's mode 711", fi)
	}

	writeFiles(t, dir, map[string]string{"src/README.md": "edited"})
	if r := rebuild(t, b, dir, "flags:1"); len(r) != 0 {
		t.Errorf("editing an excluded file ran %q", r)
	}
	writeFiles(t, dir, map[string]string{"Dockerfile": strings.Replace(df, "--exclude=tmp ", "", 1)})
	if r := rebuild(t, b, dir, "flags:1"); len(r) != 5 || !strings.Contains(r[0], "COPY --exclude=*.md src/ /ex/") {
		t.Errorf("after an --exclude changed ran %q, want every step from that COPY", r)
	}
	if _, _, ok := imageEntry(t, b, "flags:1", "ex/tmp/x"); !ok {
		t.Error("/ex/tmp/x missing once no longer excluded")
	}
}

// writeArchive writes a tar of a file owned by 1000:1000, a directory, a
// symbolic link and a hard link, through compress.
func writeArchive(t *testing.T, p string, compress func(io.Writer) (io.WriteCloser, error)) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "top.txt", Mode: 0o640, Size: 4, Uid: 1000, Gid: 1000, Typeflag: tar.TypeReg},
		{Name: "dir/", Mode: 0o755, Typeflag: tar.TypeDir},
		{Name: "dir/inner.txt", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg},
		{Name: "dir/link", Linkname: "inner.txt", Typeflag: tar.TypeSymlink},
		{Name: "hard", Linkname: "top.txt", Typeflag: tar.TypeLink},
		{Name: "../../escape.txt", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			_, _ = tw.Write([]byte(path4(h.Name)))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := compress(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// path4 is the 4-byte content the archive gives the file name.
func path4(name string) string { return (filepath.Base(name) + "____")[:4] }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// TestPrivAddArchive: ADD extracts a local tar archive, plain or gzip,
// bzip2, xz or zstd compressed, into the destination, keeping its owners,
// links and modes and nothing outside it; --unpack=false, COPY and a
// compressed file that is no tar copy the file as it is.
func TestPrivAddArchive(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeArchive(t, filepath.Join(dir, "plain.tar"), func(w io.Writer) (io.WriteCloser, error) { return nopWriteCloser{w}, nil })
	writeArchive(t, filepath.Join(dir, "files.tar.gz"), func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil })
	writeArchive(t, filepath.Join(dir, "files.tar.xz"), func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) })
	writeArchive(t, filepath.Join(dir, "files.tar.zst"), func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) })
	bz, err := os.ReadFile("testdata/site.tar.bz2")
	if err != nil {
		t.Fatal(err)
	}
	var notar bytes.Buffer
	gw := gzip.NewWriter(&notar)
	_, _ = gw.Write([]byte("just text"))
	_ = gw.Close()
	writeFiles(t, dir, map[string]string{
		"site.tar.bz2": string(bz), "notar.gz": notar.String(),
		"Dockerfile": "FROM busybox\nADD plain.tar /plain/\nADD files.tar.gz /gz\nADD files.tar.xz files.tar.zst /multi/\n" +
			"ADD site.tar.bz2 /bz/\nADD --unpack=false files.tar.gz /kept/\nCOPY files.tar.gz /copied/\nADD notar.gz /notar/\n",
	})
	if _, err := buildCtx(t, b, dir, "archive:1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"plain", "gz", "multi"} {
		wantFile(t, b, "archive:1", d+"/top.txt", "top.", 0o640)
		wantFile(t, b, "archive:1", d+"/dir/inner.txt", "inne", 0o644)
		wantFile(t, b, "archive:1", d+"/hard", "top.", 0)
		wantFile(t, b, "archive:1", d+"/escape.txt", "esca", 0)
		if _, fi, ok := imageEntry(t, b, "archive:1", d+"/top.txt"); ok {
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 {
				t.Errorf("/%s/top.txt owned by %d:%d, want the archive's 1000:1000", d, st.Uid, st.Gid)
			}
		}
		if _, fi, ok := imageEntry(t, b, "archive:1", d+"/dir/link"); !ok || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("/%s/dir/link is not a symbolic link", d)
		}
	}
	if _, _, ok := imageEntry(t, b, "archive:1", "escape.txt"); ok {
		t.Error("an entry ../../escape.txt left the destination")
	}
	wantFile(t, b, "archive:1", "bz/bz/hello.txt", "bzip2\n", 0)
	for _, p := range []string{"kept/files.tar.gz", "copied/files.tar.gz", "notar/notar.gz"} {
		if _, fi, ok := imageEntry(t, b, "archive:1", p); !ok || !fi.Mode().IsRegular() {
			t.Errorf("/%s: not copied as a file", p)
		}
	}
}
