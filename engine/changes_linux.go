package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
)

// ChangeKind is what happened to a path, as docker diff marks it.
type ChangeKind string

const (
	ChangeModify ChangeKind = "C"
	ChangeAdd    ChangeKind = "A"
	ChangeDelete ChangeKind = "D"
)

// Change is one path of a container's root filesystem that differs from
// its image's.
type Change struct {
	Kind ChangeKind
	Path string // absolute, in the container
}

// runtimeStubs are the mount points the runtime makes in a root filesystem
// that lacks them: not changes the container made.
var runtimeStubs = []string{"/proc", "/sys", "/dev", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/.berth", "/.berth/init"}

// Changes lists what container id changed in its root filesystem, sorted by
// path, as docker diff: added (A), changed (C; a directory holding changes
// is changed) and deleted (D) paths, read from its overlay's upper
// directory against its image's layers. Volumes and binds are not part of
// it. errdefs.ErrNotFound for an unknown container.
func (e *Engine) Changes(ctx context.Context, id ContainerID) ([]Change, error) {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	lowers, err := e.rootfsLayers(ctx, rec)
	if err != nil {
		return nil, err
	}
	upper := filepath.Join(dir, "upper")
	var out []Change
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
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
		cp := "/" + filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		inLower := slices.ContainsFunc(lowers, func(l string) bool {
			lfi, err := os.Lstat(filepath.Join(l, rel))
			return err == nil && !isWhiteoutInfo(lfi)
		})
		switch {
		case isWhiteoutInfo(fi):
			out = append(out, Change{Kind: ChangeDelete, Path: cp})
		case inLower:
			out = append(out, Change{Kind: ChangeModify, Path: cp})
		case slices.Contains(runtimeStubs, cp) && (fi.IsDir() || fi.Size() == 0):
			// the runtime's mount point, not the container's doing
		default:
			out = append(out, Change{Kind: ChangeAdd, Path: cp})
		}
		return ctx.Err()
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// isWhiteoutInfo tells whether fi is an overlay whiteout (a 0/0 character
// device).
func isWhiteoutInfo(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}
