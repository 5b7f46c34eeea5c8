package build

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// opaqueXattr marks an overlay directory that hides what is below it.
const opaqueXattr = "trusted.overlay.opaque"

// lowers are overlay lower directories, lowest first: a stage's root
// filesystem as the steps below the current one left it.
type lowers []string

// isWhiteout tells whether fi is an overlay whiteout (a 0/0 character
// device).
func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 || fi.Mode()&fs.ModeDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

func isOpaque(dir string) bool {
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(dir, opaqueXattr, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// find returns the path of rel (slash-separated, relative to the root) in
// the topmost layer that has it, as the overlay would show it: whiteouts,
// opaque directories and files over directories hide what is below.
func (l lowers) find(rel string) (string, fs.FileInfo, bool) {
	rel = strings.Trim(filepath.ToSlash(filepath.Clean("/"+rel)), "/")
	for i := len(l) - 1; i >= 0; i-- {
		stop := false
		if rel != "" {
			parts := strings.Split(rel, "/")
			for j := 1; j < len(parts); j++ {
				p := filepath.Join(l[i], filepath.Join(parts[:j]...))
				fi, err := os.Lstat(p)
				if err != nil {
					continue
				}
				if !fi.IsDir() {
					return "", nil, false // a whiteout or a file hides the rest
				}
				if isOpaque(p) {
					stop = true
				}
			}
		}
		p := filepath.Join(l[i], rel)
		fi, err := os.Lstat(p)
		if err == nil {
			if isWhiteout(fi) {
				return "", nil, false
			}
			return p, fi, true
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
			return "", nil, false
		}
		if stop {
			return "", nil, false
		}
	}
	return "", nil, false
}

// open opens the regular file rel as the overlay would show it.
func (l lowers) open(rel string) (*os.File, error) {
	p, fi, ok := l.find(rel)
	if !ok || !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: "/" + rel, Err: fs.ErrNotExist}
	}
	return os.Open(p)
}
