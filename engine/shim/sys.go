package shim

// The shim's own small versions of what os/exec, net and internal/atomicfile
// give the rest of berth. The shim lives as long as its container, one per
// container, and its resident memory is mostly the pages of its own binary:
// those packages (with fmt, reflect, context and the resolver they bring)
// would add about a third to it. What is here is the little the shim needs.

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// spawn starts argv (argv[0] a path) with files as its descriptors 0, 1,
// 2, 3…, in this process's environment and working directory.
func spawn(argv []string, files []*os.File, sys *syscall.SysProcAttr) (*os.Process, error) {
	return os.StartProcess(argv[0], argv, &os.ProcAttr{Files: files, Sys: sys})
}

// runCmd runs argv with files (see spawn) and waits for it: an error
// unless it exits 0.
func runCmd(argv []string, files []*os.File) error {
	p, err := spawn(argv, files, nil)
	if err != nil {
		return err
	}
	ps, err := p.Wait()
	if err != nil {
		return err
	}
	if !ps.Success() {
		return errors.New(ps.String())
	}
	return nil
}

// combinedOutput runs argv with stdin on /dev/null and returns what it wrote
// to stdout and stderr (the first 64 KiB), with runCmd's error.
func combinedOutput(argv []string) ([]byte, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p, err := spawn(argv, []*os.File{devnull, w, w}, nil)
	_ = w.Close()
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	out, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	_, _ = io.Copy(io.Discard, r)
	_ = r.Close()
	ps, err := p.Wait()
	if err != nil {
		return out, err
	}
	if !ps.Success() {
		return out, errors.New(ps.String())
	}
	return out, nil
}

// lookPath finds the executable file name in the directories of $PATH, as
// os/exec's LookPath does, with its error text; a name with a slash is
// checked as it is. The error wraps fs.ErrNotExist or fs.ErrPermission.
func lookPath(name string) (string, error) {
	if filepath.Base(name) != name || name == "." || name == ".." {
		if err := executable(name); err != nil {
			return "", &execError{name, err}
		}
		return name, nil
	}
	var denied error
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if !filepath.IsAbs(p) {
			continue // never a command found relative to the working directory
		}
		err := executable(p)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, os.ErrPermission) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", &execError{name, denied}
	}
	return "", &execError{name, notFound{}}
}

// execError is os/exec's Error: `exec: "name": reason`.
type execError struct {
	name string
	err  error
}

func (e *execError) Error() string { return "exec: " + strconv.Quote(e.name) + ": " + e.err.Error() }
func (e *execError) Unwrap() error { return e.err }

// notFound is lookPath's "not found", worded as os/exec's.
type notFound struct{}

func (notFound) Error() string        { return "executable file not found in $PATH" }
func (notFound) Is(target error) bool { return target == os.ErrNotExist }

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return os.ErrPermission
	}
	return nil
}

// writeFileAtomic replaces path with data, as internal/atomicfile does: a
// temporary file in the same directory, synced, renamed over path, and the
// directory synced.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (retErr error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return errors.New("write " + path + ": " + err.Error())
	}
	tmp := f.Name()
	defer func() {
		if retErr != nil {
			_ = os.Remove(tmp)
			retErr = errors.New("write " + path + ": " + retErr.Error())
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// unixListener is a listening Unix stream socket on the runtime's poller:
// accept waits without holding a thread, and a deadline or close ends it.
type unixListener struct {
	f    *os.File
	raw  syscall.RawConn
	path string // the socket file, removed by close; "" for an abstract name
}

// listenUnix listens on name: a path, or an abstract name starting with @.
func listenUnix(name string) (*unixListener, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, 16); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	l := &unixListener{f: f, raw: raw}
	if name[0] != '@' {
		l.path = name
	}
	return l, nil
}

// accept returns the next connection, non-blocking and on the poller (its
// deadlines work).
func (l *unixListener) accept() (*os.File, error) {
	var nfd int
	var aerr error
	err := l.raw.Read(func(fd uintptr) bool {
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return !errors.Is(aerr, unix.EAGAIN)
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, aerr
	}
	return os.NewFile(uintptr(nfd), "unix:"+strconv.Itoa(nfd)), nil
}

func (l *unixListener) close() error {
	err := l.f.Close()
	if l.path != "" {
		_ = os.Remove(l.path)
	}
	return err
}

// peerCred is the credentials of the process at the other end of c.
func peerCred(c *os.File) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	cerr := raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if cerr != nil {
		return nil, cerr
	}
	return cred, err
}

// recvFds reads one message from c and returns the descriptors it carried,
// waiting on the poller (c's read deadline applies).
func recvFds(c *os.File) ([]int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4*4))
	var oobn int
	var rerr error
	err = raw.Read(func(fd uintptr) bool {
		_, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range msgs {
		if f, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, f...)
		}
	}
	return fds, nil
}

// be16, be32 and putBE32 are encoding/binary's BigEndian, without the
// reflection that package brings along.
func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func putBE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
