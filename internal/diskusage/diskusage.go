// Package diskusage measures the space files take on disk, as du(1) counts
// it: allocated blocks, not apparent sizes.
package diskusage

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// Of is the bytes on disk of the files at and below p. What cannot be read
// (gone meanwhile, not there) counts as nothing: the result is for
// reporting and for choosing what to prune, never for correctness.
func Of(p string) int64 {
	var n int64
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil //nolint:nilerr // unreadable counts as nothing, see above
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}
