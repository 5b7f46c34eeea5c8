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
	chmod    fs.FileMode
	hasChmod bool
}

// planCopy resolves the sources of cp in t and maps them onto the layer,
// following Docker's rules: a directory's contents go into the destination;
// a file goes to the destination, or into it when it is a directory (ends
// with "/", has several sources, or is one below).
func planCopy(t *srcTree, cp *copyStep, below lowers) (*copyPlan, error) {
	dest := strings.TrimPrefix(cp.Dest, "/")
	destDir := cp.DestDir
	if _, fi, ok := below.find(dest); ok && fi.IsDir() {
		destDir = true
	}
	var rels []string
	for _, s := range cp.Sources {
		m, err := t.match(s)
		if err != nil {
			return nil, err
		}
		rels = append(rels, m...)
	}
	if len(rels) > 1 {
		destDir = true
	}
	pl := &copyPlan{}
	for _, rel := range rels {
		fi, err := os.Lstat(t.abs(rel))
		if err != nil {
			return nil, err
		}
		var files []srcFile
		switch {
		case fi.IsDir():
			files, err = t.files(rel, dest, true)
		case destDir:
			files, err = t.files(rel, path.Join(dest, path.Base("/"+rel)), false)
		default:
			files, err = t.files(rel, dest, false)
		}
		if err != nil {
			return nil, err
		}
		pl.files = append(pl.files, files...)
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
		pl.uid, pl.gid = int(u.UID), int(u.GID)
	}
	return pl, nil
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
		if err := pl.parents(tw, f.dst, below, made); err != nil {
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

// parents writes a directory entry for each parent of dst that neither the
// layers below nor this layer have yet.
func (pl *copyPlan) parents(tw *tar.Writer, dst string, below lowers, made map[string]bool) error {
	var missing []string
	for d := path.Dir(dst); d != "." && d != "/" && d != ""; d = path.Dir(d) {
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
