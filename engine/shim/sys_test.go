package shim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "prog")
	noexec := filepath.Join(dir, "data")
	for p, mode := range map[string]os.FileMode{exe: 0o755, noexec: 0o644} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", "relative:"+dir)
	for _, tc := range []struct {
		name, arg, want string
		err             error
	}{
		{"found in PATH", "prog", exe, nil},
		{"a path", exe, exe, nil},
		{"not found", "nope", "", fs.ErrNotExist},
		{"not executable", "data", "", fs.ErrPermission},
		{"a directory", dir, "", fs.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lookPath(tc.arg)
			if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("lookPath(%q) = %q, %v; want %q, %v", tc.arg, got, err, tc.want, tc.err)
			}
		})
	}
	_, err := lookPath("nope")
	if want := `exec: "nope": executable file not found in $PATH`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestCombinedOutput(t *testing.T) {
	out, err := combinedOutput([]string{"/bin/sh", "-c", "echo out; echo err >&2; exit 3"})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("error %v, want exit status 3", err)
	}
	if string(out) != "out\nerr\n" {
		t.Errorf("output %q", out)
	}
	if err := runCmd([]string{"/bin/true"}, []*os.File{os.Stdin, os.Stdout, os.Stderr}); err != nil {
		t.Error(err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	for _, content := range []string{"first", "second"} {
		if err := writeFileAtomic(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Fatalf("content %q, want %q", got, content)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("left: %v", ents)
	}
}

// TestUnixSocket: accept, peer credentials, passing a descriptor, and a
// deadline on accept.
func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	client, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(client)
	if err := unix.Connect(client, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	c, err := l.accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cred, err := peerCred(c)
	if err != nil || int(cred.Pid) != os.Getpid() {
		t.Fatalf("peer %+v, %v", cred, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := unix.Sendmsg(client, []byte{0}, unix.UnixRights(int(w.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fds, err := recvFds(c)
	if err != nil || len(fds) != 1 {
		t.Fatalf("received %v, %v", fds, err)
	}
	got := os.NewFile(uintptr(fds[0]), "passed")
	if _, err := got.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	_ = got.Close()
	var b [1]byte
	if n, err := r.Read(b[:]); n != 1 || b[0] != 'x' {
		t.Fatalf("read through the passed descriptor: %d, %v", n, err)
	}
	_ = l.f.SetDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := l.accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("accept past the deadline: %v", err)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file after close: %v", err)
	}
}
