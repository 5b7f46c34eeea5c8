package build

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// runtimeStubs are the mount points the runtime makes in a root filesystem
// that lacks them; made by a RUN step, they are not part of its layer.
var runtimeStubs = []string{"proc", "sys", "dev", "etc/hosts", "etc/resolv.conf", "etc/hostname", ".berth/init", ".berth"}

// upperEntry is one entry of an upper directory, and what becomes of it.
type upperEntry struct {
	rel      string // slash-separated, relative to the upper directory
	fi       fs.FileInfo
	whiteout bool // a 0/0 character device: the lower file was deleted
	opaque   bool // a directory that hides a directory of the lowers
	keep     bool
}

// packUpper writes the changes an overlay's upper directory holds, as an
// OCI layer tarball, to w, and tells whether there was any. below are the
// overlay's lower directories: a file only copied up from them (same type,
// mode, owner, size, modification time and link target) is left out, and
// so are the runtime's mount points that the lowers lack. The overlay must
// have been mounted with redirect_dir and metacopy off.
// extraStubs are more such mount points: a RUN step's --mount targets.
func packUpper(upper string, below lowers, w io.Writer, extraStubs ...string) (bool, error) {
	var ents []*upperEntry
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == upper {
			return nil
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := &upperEntry{rel: filepath.ToSlash(rel), fi: fi}
		ents = append(ents, e)
		if isWhiteout(fi) {
			e.whiteout, e.keep = true, true
			return nil
		}
		_, lfi, inLower := below.find(e.rel)
		if fi.IsDir() {
			e.opaque = inLower && lfi.IsDir() && isOpaque(p)
			e.keep = !inLower || e.opaque || !sameMeta(fi, lfi)
			return nil
		}
		e.keep = !inLower || !sameMeta(fi, lfi) || !sameLink(p, lfi, below, e.rel)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("upper directory: %w", err)
	}
	dropStubs(ents, below, extraStubs)
	// A kept entry keeps its directories.
	byRel := make(map[string]*upperEntry, len(ents))
	for _, e := range ents {
		byRel[e.rel] = e
	}
	for _, e := range ents {
		if !e.keep {
			continue
		}
		for d := path.Dir(e.rel); d != "."; d = path.Dir(d) {
			if pe := byRel[d]; pe != nil {
				pe.keep = true
			}
		}
	}
	tw := tar.NewWriter(w)
	links := map[uint64]string{}
	any := false
	for _, e := range ents {
		if !e.keep {
			continue
		}
		any = true
		if err := writeUpperEntry(tw, upper, e, links); err != nil {
			return false, err
		}
	}
	return any, tw.Close()
}

// dropStubs leaves out the runtime's mount points the lowers lack: an empty
// file, or a directory holding nothing but other such stubs.
func dropStubs(ents []*upperEntry, below lowers, extra []string) {
	byRel := map[string]*upperEntry{}
	for _, e := range ents {
		byRel[e.rel] = e
	}
	stubs := append(slices.Clone(runtimeStubs), extra...)
	slices.SortFunc(stubs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, s := range stubs {
		e := byRel[s]
		if e == nil {
			continue
		}
		if _, _, inLower := below.find(s); inLower {
			continue
		}
		switch {
		case e.fi.Mode().IsRegular() && e.fi.Size() == 0:
			e.keep = false
		case e.fi.IsDir():
			empty := true
			for _, o := range ents {
				if strings.HasPrefix(o.rel, s+"/") && o.keep {
					empty = false
					break
				}
			}
			if empty {
				e.keep = false
			}
		}
	}
}

// sameMeta tells whether a file in the upper directory has the metadata of
// the one below it, so that it was only copied up.
func sameMeta(up, low fs.FileInfo) bool {
	if up.Mode() != low.Mode() {
		return false
	}
	us, ok1 := up.Sys().(*syscall.Stat_t)
	ls, ok2 := low.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return false
	}
	if us.Uid != ls.Uid || us.Gid != ls.Gid || us.Rdev != ls.Rdev {
		return false
	}
	if up.IsDir() {
		return true
	}
	return up.Size() == low.Size() && us.Mtim == ls.Mtim
}

func sameLink(p string, low fs.FileInfo, below lowers, rel string) bool {
	if low.Mode()&fs.ModeSymlink == 0 {
		return true
	}
	a, err1 := os.Readlink(p)
	lp, _, _ := below.find(rel)
	b, err2 := os.Readlink(lp)
	return err1 == nil && err2 == nil && a == b
}

// keptXattrs are the extended attributes a layer carries.
var keptXattrs = []string{"security.capability"}

func writeUpperEntry(tw *tar.Writer, upper string, e *upperEntry, links map[uint64]string) error {
	p := filepath.Join(upper, e.rel)
	if e.whiteout {
		dir, base := path.Split(e.rel)
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + ".wh." + base, Mode: 0o600, ModTime: e.fi.ModTime(), Format: tar.FormatPAX})
	}
	link := ""
	if e.fi.Mode()&fs.ModeSymlink != 0 {
		l, err := os.Readlink(p)
		if err != nil {
			return err
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(e.fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	hdr.Name = e.rel
	if e.fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname, hdr.Format = "", "", tar.FormatPAX
	// Not the file's access and change times, which reading or copying it
	// moves: the same content makes the same layer (as COPY's).
	hdr.AccessTime, hdr.ChangeTime = e.fi.ModTime(), e.fi.ModTime()
	st, _ := e.fi.Sys().(*syscall.Stat_t)
	if st != nil {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		if e.fi.Mode().IsRegular() && st.Nlink > 1 {
			if first, ok := links[st.Ino]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[st.Ino] = e.rel
			}
		}
	}
	for _, x := range keptXattrs {
		buf := make([]byte, 4096)
		if n, err := unix.Lgetxattr(p, x, buf); err == nil {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+x] = string(buf[:n])
		}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if e.opaque {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.rel + "/.wh..wh..opq", Mode: 0o600, ModTime: e.fi.ModTime(), Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}
