package build

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
)

// copyPlan is what one COPY or ADD writes into its layer.
type copyPlan struct {
	files    []srcFile
	uid, gid int
	hasChown bool
	chmod    fs.FileMode
	hasChmod bool
}

// planCopy resolves the sources of cp in t and maps them onto the layer,
// following Docker's rules: a directory's contents go into the destination;
// a file goes to the destination, or into it when it is a directory (ends
// with "/", has several sources, or is one below); ADD extracts a local tar
// archive into it. loose are the files that are not in t (downloads and
// heredocs), each named by its FileInfo. --exclude patterns match below
// each source, --parents keeps each source's path (from the context's root,
// or from a "/./" in it).
func planCopy(t *srcTree, cp *copyStep, below lowers, loose []srcFile) (*copyPlan, error) {
	dest := strings.TrimPrefix(cp.Dest, "/")
	destDir := cp.DestDir
	if _, fi, ok := below.find(dest); ok && fi.IsDir() {
		destDir = true
	}
	ex, err := newExcluder(cp.Excludes)
	if err != nil {
		return nil, err
	}
	pl := &copyPlan{}
	if cp.Parents {
		if pl.files, err = t.parentsFiles(cp.Sources, dest, ex); err != nil {
			return nil, err
		}
	} else {
		var rels []string
		for _, s := range cp.Sources {
			m, err := t.match(s)
			if err != nil {
				return nil, err
			}
			rels = append(rels, m...)
		}
		if len(rels)+len(loose) > 1 {
			destDir = true
		}
		unpack := cp.Add && (cp.Unpack == nil || *cp.Unpack)
		for _, rel := range rels {
			files, err := t.sourceFiles(rel, dest, destDir, unpack, ex)
			if err != nil {
				return nil, err
			}
			pl.files = append(pl.files, files...)
		}
	}
	for _, f := range loose {
		switch {
		case f.extract:
			f.dst = dest
		case destDir:
			f.dst = path.Join(dest, f.fi.Name())
		default:
			f.dst = dest
		}
		pl.files = append(pl.files, f)
	}
	if cp.Chmod != "" {
		m, err := strconv.ParseUint(cp.Chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, fmt.Errorf("--chmod=%s: not an octal mode: %w", cp.Chmod, errdefs.ErrInvalidArgument)
		}
		pl.chmod, pl.hasChmod = fs.FileMode(m), true
	}
	if cp.Chown != "" {
		u, err := resolveChown(cp.Chown, below)
		if err != nil {
			return nil, err
		}
		pl.uid, pl.gid, pl.hasChown = int(u.UID), int(u.GID), true
	}
	return pl, nil
}

// sourceFiles lists what copying the source rel writes under dest.
func (t *srcTree) sourceFiles(rel, dest string, destDir, unpack bool, ex *excluder) ([]srcFile, error) {
	abs := t.abs(rel)
	fi, err := os.Lstat(abs)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.IsDir():
		return t.files(rel, dest, true, ex.under(""))
	case unpack && fi.Mode().IsRegular() && isArchive(abs):
		return []srcFile{{abs: abs, dst: dest, fi: fi, extract: true}}, nil
	case destDir:
		return t.files(rel, path.Join(dest, path.Base("/"+rel)), false, ex.under(""))
	default:
		return t.files(rel, dest, false, ex.under(""))
	}
}

func (t *srcTree) abs(rel string) string { return t.root + "/" + rel }

// resolveChown resolves --chown=user[:group] with the stage's /etc/passwd
// and /etc/group.
func resolveChown(spec string, below lowers) (engine.ExecUser, error) {
	var passwd, group io.Reader = strings.NewReader(""), strings.NewReader("")
	if f, err := below.open("etc/passwd"); err == nil {
		defer f.Close()
		passwd = f
	}
	if f, err := below.open("etc/group"); err == nil {
		defer f.Close()
		group = f
	}
	u, err := engine.ResolveUser(spec, passwd, group)
	if err != nil {
		return u, fmt.Errorf("--chown=%s: %w", spec, err)
	}
	return u, nil
}

// writeTar writes the layer of pl to w: the files, and the directories on
// the way to them that the layers below do not have.
func (pl *copyPlan) writeTar(w io.Writer, below lowers) error {
	tw := tar.NewWriter(w)
	made := map[string]bool{}
	for _, f := range pl.files {
		if f.extract {
			if err := pl.extract(tw, f, below, made); err != nil {
				return err
			}
			continue
		}
		if err := pl.mkdirAll(tw, path.Dir(f.dst), below, made); err != nil {
			return err
		}
		if err := pl.writeFile(tw, f); err != nil {
			return err
		}
		if f.fi.IsDir() {
			made[f.dst] = true
		}
	}
	return tw.Close()
}

// mkdirAll writes a directory entry for dir and each of its parents that
// neither the layers below nor this layer have yet.
func (pl *copyPlan) mkdirAll(tw *tar.Writer, dir string, below lowers, made map[string]bool) error {
	var missing []string
	for d := dir; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if made[d] {
			break
		}
		if _, fi, ok := below.find(d); ok && fi.IsDir() {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: missing[i] + "/", Mode: 0o755, Uid: pl.uid, Gid: pl.gid, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		made[missing[i]] = true
	}
	return nil
}

func (pl *copyPlan) writeFile(tw *tar.Writer, f srcFile) error {
	link := ""
	if f.fi.Mode()&fs.ModeSymlink != 0 {
		l, err := os.Readlink(f.abs)
		if err != nil {
			return err
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(f.fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", f.abs, err)
	}
	hdr.Name = f.dst
	if f.fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = pl.uid, pl.gid, "", ""
	hdr.Format = tar.FormatPAX
	hdr.AccessTime, hdr.ChangeTime = f.fi.ModTime(), f.fi.ModTime()
	if pl.hasChmod && f.fi.Mode()&fs.ModeSymlink == 0 {
		hdr.Mode = int64(pl.chmod)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !f.fi.Mode().IsRegular() {
		return nil
	}
	if f.data != nil {
		_, err := tw.Write(f.data)
		return err
	}
	r, err := os.Open(f.abs)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.CopyN(tw, r, f.fi.Size()); err != nil {
		return fmt.Errorf("%s: changed while being copied: %w", f.abs, err)
	}
	return nil
}
