// Package smallfile reads a file whole in as few system calls as Linux
// allows: open, fstat, read until the end, close. os.ReadFile also offers
// each file to the runtime's poller and back (four fcntl and an epoll_ctl,
// twice the calls), which is most of its cost for the small state files
// every command reads by the dozen (a container's record, state and
// endpoints; a volume's record; /proc/PID/stat).
package smallfile

import (
	"io/fs"
	"syscall"
)

// Read returns the content of the file at name, as os.ReadFile does, with
// its errors: an *fs.PathError ("open" or "read") wrapping the errno, so
// errors.Is(err, fs.ErrNotExist) holds for a missing file. It blocks the
// calling thread for the read, which for a regular file os.ReadFile does
// as well; it is not for pipes or sockets.
func Read(name string) ([]byte, error) {
	var fd int
	err := retry(func() (err error) {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	size := 0
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) == nil && st.Size > 0 && int64(int(st.Size)) == st.Size {
		size = int(st.Size)
	}
	size++ // one more byte, so that the end is seen in the same read
	if size < 512 {
		size = 512 // files in /proc report 0
	}
	buf := make([]byte, 0, size)
	for {
		var n int
		err := retry(func() (err error) {
			n, err = syscall.Read(fd, buf[len(buf):cap(buf)])
			return err
		})
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
	}
}

// retry runs call again while it is interrupted by a signal.
func retry(call func() error) error {
	for {
		if err := call(); err != syscall.EINTR {
			return err
		}
	}
}
