package build

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// urlServer serves /file.txt (content changeable), /fixed.txt and
// /archive.tar.gz on 127.0.0.1, each modified at lastModified.
type urlServer struct {
	*httptest.Server
	mu   sync.Mutex // guards file
	file string
}

var lastModified = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func newURLServer(t *testing.T, archive []byte) *urlServer {
	t.Helper()
	s := &urlServer{file: "first\n"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body := map[string]string{"/file.txt": s.file, "/fixed.txt": "fixed\n", "/archive.tar.gz": string(archive)}[r.URL.Path]
		s.mu.Unlock()
		if body == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", lastModified.Format(http.TimeFormat))
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *urlServer) set(content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file = content
}

// TestPrivAddURL: ADD downloads a URL into the destination (named after the
// URL's path, or as the destination), mode 0600, modified when the server
// says; --checksum verifies it; a remote archive is kept as a file unless
// --unpack=true. The download's content is the cache key: the same content
// reruns nothing, new content reruns the steps from the ADD on.
func TestPrivAddURL(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeArchive(t, filepath.Join(dir, "a.tar.gz"), func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil })
	archive, err := os.ReadFile(filepath.Join(dir, "a.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	srv := newURLServer(t, archive)
	sum := sha256.Sum256([]byte("fixed\n"))
	df := fmt.Sprintf("FROM busybox\nADD --checksum=sha256:%[2]s %[1]s/fixed.txt /sum/\nADD %[1]s/archive.tar.gz /arch/\n"+
		"ADD --unpack=true %[1]s/archive.tar.gz /unpacked/\nADD %[1]s/file.txt /dl/\nADD %[1]s/file.txt /named.txt\n", srv.URL, hex.EncodeToString(sum[:]))
	writeFiles(t, dir, map[string]string{"Dockerfile": df})
	if _, err := buildCtx(t, b, dir, "url:1"); err != nil {
		t.Fatal(err)
	}
	wantFile(t, b, "url:1", "sum/fixed.txt", "fixed\n", 0o600)
	wantFile(t, b, "url:1", "dl/file.txt", "first\n", 0o600)
	wantFile(t, b, "url:1", "named.txt", "first\n", 0o600)
	wantFile(t, b, "url:1", "arch/archive.tar.gz", string(archive), 0o600)
	wantFile(t, b, "url:1", "unpacked/top.txt", "top.", 0o640)
	if _, fi, ok := imageEntry(t, b, "url:1", "dl/file.txt"); ok && !fi.ModTime().Equal(lastModified) {
		t.Errorf("/dl/file.txt modified %v, want the Last-Modified %v", fi.ModTime(), lastModified)
	}

	if r := rebuild(t, b, dir, "url:1"); len(r) != 0 {
		t.Errorf("the same downloads ran %q", r)
	}
	srv.set("second\n")
	if r := rebuild(t, b, dir, "url:1"); len(r) != 2 || !strings.Contains(r[0], "/file.txt /dl/") {
		t.Errorf("a changed download ran %q, want the two ADDs of it", r)
	}
	wantFile(t, b, "url:1", "named.txt", "second\n", 0)
}

// TestPrivAddURLFails: a checksum that does not match, a URL nobody
// answers, a 404, and with BERTH_NO_OUTBOUND=1 a host off the machine are
// each one line naming the URL and the Dockerfile's line; nothing is
// tagged.
func TestPrivAddURLFails(t *testing.T) {
	b := newPrivBuilder(t)
	b.images.SetLocalRegistriesOnly()
	srv := newURLServer(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/x"
	_ = l.Close()
	zero := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name, add, want string
		class           func(error) bool
	}{
		{"checksum mismatch", "--checksum=sha256:" + zero + " " + srv.URL + "/fixed.txt", "checksum mismatch: the download is sha256:", errdefs.IsDataLoss},
		{"unreachable", closed, "connection refused", errdefs.IsUnavailable},
		{"not found", srv.URL + "/missing", "the server answered 404 Not Found", errdefs.IsNotFound},
		{"off the machine", "http://192.0.2.1/x", "host 192.0.2.1 is off this machine", errdefs.IsUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildDir(t, b, map[string]string{"Dockerfile": "FROM busybox\nRUN true\nADD " + tc.add + " /x\n"}, "fails:1")
			url := tc.add[strings.LastIndex(tc.add, " ")+1:]
			if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:3: ADD "+url+": ") || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want Dockerfile:3: ADD %s: …%s…", err, url, tc.want)
			}
			if !tc.class(err) {
				t.Errorf("%v: wrong class", err)
			}
			if _, err := b.images.Resolve(t.Context(), "fails:1"); !errdefs.IsNotFound(err) {
				t.Errorf("fails:1 tagged: %v", err)
			}
		})
	}
	if left, _ := filepath.Glob(filepath.Join(b.cache.dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("scratch files left: %q", left)
	}
}
