package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// settleTime is how long a file must have been left alone before its
// checksum is remembered: a file written again within the file system's
// timestamp granularity (a few milliseconds) could show the same size and
// times with other content.
const settleTime = 2 * time.Second

// sourceSum is checksum(files), remembered across builds under
// <root>/build/sums/<identity>, as BuildKit's content checksum cache does:
// the identity covers every file's path in the layer, path in the tree,
// device, inode, mode, owner, size, modification and change times (ctime
// moves on any write, chmod, chown or rename, whatever the modification
// time is set to). A COPY whose files are all unchanged is not read again.
// Files without a stat identity (not from a file system), or changed
// within settleTime, are summed and not remembered.
func (c *cache) sourceSum(files []srcFile, load *contextLoad) (string, error) {
	return c.sourceSumSettled(files, time.Now().Add(-settleTime), load)
}

// sourceSumSettled is sourceSum remembering only files unchanged since
// settled.
func (c *cache) sourceSumSettled(files []srcFile, settled time.Time, load *contextLoad) (string, error) {
	id, ok := statIdentity(files, settled)
	if !ok {
		return checksum(files, load)
	}
	p := filepath.Join(c.dir, "sums", id)
	if b, err := os.ReadFile(p); err == nil && len(b) == 64 {
		return string(b), nil
	}
	sum, err := checksum(files, load)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	if err := atomicfile.WriteFile(p, []byte(sum), 0o600); err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	return sum, nil
}

// statIdentity is the digest of what files' stat says about them, or false
// when one has no stat identity or changed after settled.
func statIdentity(files []srcFile, settled time.Time) (string, bool) {
	h := sha256.New()
	h.Write([]byte("berth-source-stat/1\n"))
	for _, f := range files {
		if f.fi == nil || f.abs == "" {
			return "", false
		}
		st, ok := f.fi.Sys().(*syscall.Stat_t)
		if !ok {
			return "", false
		}
		mtime, ctime := time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix())
		if mtime.After(settled) || ctime.After(settled) {
			return "", false
		}
		fmt.Fprintf(h, "%q %q %d %d %o %d:%d %d %d %d\n", f.dst, f.abs, st.Dev, st.Ino, st.Mode, st.Uid, st.Gid, st.Size,
			mtime.UnixNano(), ctime.UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// forgetSums removes the remembered checksums: they cost a build only
// reading its sources again.
func (c *cache) forgetSums() error {
	return c.removeAside(filepath.Join(c.dir, "sums"))
}
