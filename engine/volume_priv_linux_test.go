package engine

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func ownerOf(fi os.FileInfo) [2]uint32 {
	st := fi.Sys().(*syscall.Stat_t)
	return [2]uint32{st.Uid, st.Gid}
}

// getXattr returns the attribute's value, or "unsupported" when the file
// system has no user attributes.
func getXattr(p, name string) string {
	b := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, b)
	if errors.Is(err, unix.ENOTSUP) {
		return "unsupported"
	}
	if err != nil {
		return err.Error()
	}
	return string(b[:n])
}
