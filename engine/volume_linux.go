package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fscopy"
	"github.com/berth-dev/berth/volmgr"
)

// filesDir holds the files of a container's "file" mounts (configs and
// secrets), rewritten at every start; it goes with the container.
const filesDir = "files"

// prepareMounts readies what the container's mounts need on the host, with
// the container's root file system mounted at rootfs: the mounts of the
// containers named by volumes_from are added to rec.Config.Mounts (in
// memory only: the record stays as created), bind sources are checked or
// made, named volumes are mounted (driver options), checked (subpath) and
// seeded from the image, and "file" mounts are written. It fills
// in.VolumePaths and in.FilesDir.
func (e *Engine) prepareMounts(ctx context.Context, dir string, rec *record, rootfs string, in *SpecInputs) error {
	mounts, err := e.volumesFrom(rec.Config)
	if err != nil {
		return err
	}
	for _, m := range imageVolumes(rec, mounts) {
		labels := maps.Clone(rec.Config.VolumeLabels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[volmgr.LabelAnonymous] = ""
		if _, err := e.vols.Create(ctx, m.Source, labels); err != nil && !errdefs.IsAlreadyExists(err) {
			return fmt.Errorf("image volume %s: %w", m.Target, err)
		}
		mounts = append(mounts, m)
	}
	rec.Config.Mounts = mounts
	in.FilesDir = filepath.Join(dir, filesDir)
	if err := os.RemoveAll(in.FilesDir); err != nil {
		return fmt.Errorf("mounts: %w", err)
	}
	for i, m := range mounts {
		var err error
		switch m.Type {
		case "volume":
			err = e.prepareVolume(ctx, m, rootfs, in)
		case "bind":
			err = prepareBind(m)
		case "file":
			err = writeFileMount(in.FilesDir, i, m)
		case "image":
			if in.ImageLayers == nil {
				in.ImageLayers = map[int][]string{}
			}
			in.ImageLayers[i], err = e.imageMountLayers(ctx, m)
		}
		if err != nil {
			return fmt.Errorf("mounts[%d]: %w", i, err)
		}
	}
	return nil
}

// volumesFrom returns cfg's mounts followed by the volume and bind mounts
// of the containers its VolumesFrom names, at targets cfg does not mount
// itself, read-only or read-write as asked (else as the other container
// has them).
func (e *Engine) volumesFrom(cfg ContainerConfig) ([]Mount, error) {
	out := slices.Clone(cfg.Mounts)
	if len(cfg.VolumesFrom) == 0 {
		return out, nil
	}
	taken := map[string]bool{}
	for _, m := range out {
		taken[filepath.Clean(m.Target)] = true
	}
	for i, vf := range cfg.VolumesFrom {
		ref, mode, err := parseVolumesFrom(vf)
		if err != nil {
			return nil, fmt.Errorf("volumes_from[%d]: %w", i, err)
		}
		_, src, err := e.lookup(ref)
		if err == nil && src == nil {
			err = fmt.Errorf("container %q: being removed: %w", ref, errdefs.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("volumes_from[%d]: %w", i, err)
		}
		for _, m := range src.volumeMounts() {
			if (m.Type != "volume" && m.Type != "bind") || taken[filepath.Clean(m.Target)] {
				continue
			}
			taken[filepath.Clean(m.Target)] = true
			m.NoCopy = true // the other container's mount: seeded there, if ever
			switch mode {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// prepareBind checks a bind's source exists, making a missing directory
// when the mount says so.
func prepareBind(m Mount) error {
	_, err := os.Lstat(m.Source)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bind source %s: %w", m.Source, err)
	}
	if !m.CreateHostPath {
		return fmt.Errorf("bind source %s does not exist: %w", m.Source, errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(m.Source, 0o755); err != nil {
		return fmt.Errorf("bind source %s: %w", m.Source, err)
	}
	return nil
}

// prepareVolume mounts a named volume's file system if it has driver
// options, checks its subpath, and seeds it from the image.
func (e *Engine) prepareVolume(ctx context.Context, m Mount, rootfs string, in *SpecInputs) error {
	p, err := e.vols.Mount(ctx, m.Source)
	if err != nil {
		return err
	}
	in.VolumePaths[m.Source] = p
	if m.Subpath != "" {
		sub, err := cleanSubpath(m.Subpath)
		if err != nil {
			return err
		}
		// The runtime follows symlinks on the host: a subpath must name a
		// real directory or file inside the volume, no link in the way.
		resolved, err := securejoin.SecureJoin(p, sub)
		if err != nil {
			return fmt.Errorf("volume %q: subpath %q: %w", m.Source, m.Subpath, err)
		}
		if resolved != filepath.Join(p, sub) {
			return fmt.Errorf("volume %q: subpath %q: goes through a symbolic link: %w", m.Source, m.Subpath, errdefs.ErrInvalidArgument)
		}
		if _, err := os.Lstat(resolved); err != nil {
			return fmt.Errorf("volume %q: subpath %q does not exist in the volume: %w", m.Source, m.Subpath, errdefs.ErrInvalidArgument)
		}
		return nil // as Docker: a subpath is never seeded
	}
	if m.NoCopy {
		return nil
	}
	return e.vols.Seed(ctx, m.Source, func(dst string) error {
		src, err := securejoin.SecureJoin(rootfs, m.Target)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
			return nil // nothing in the image there
		}
		if err != nil {
			return err
		}
		return fscopy.Tree(src, dst)
	})
}

// writeFileMount writes the file of "file" mount i under dir.
func writeFileMount(dir string, i int, m Mount) error {
	data := m.Content
	if data == nil {
		if m.Source == "" {
			return fmt.Errorf("file %s: no content and no source: %w", m.Target, errdefs.ErrInvalidArgument)
		}
		b, err := os.ReadFile(m.Source)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("file %s: source %s does not exist: %w", m.Target, m.Source, errdefs.ErrInvalidArgument)
			}
			return fmt.Errorf("file %s: %w", m.Target, err)
		}
		data = b
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	mode := m.FileMode & 0o7777
	if m.FileMode == 0 {
		mode = 0o444
	}
	p := filepath.Join(dir, fileMountName(i))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return fmt.Errorf("file %s: %w", m.Target, err)
	}
	if err := os.Lchown(p, m.FileUID, m.FileGID); err != nil {
		return fmt.Errorf("file %s: %w", m.Target, err)
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, p, mode, 0); err != nil {
		return fmt.Errorf("file %s: %w", m.Target, err)
	}
	return nil
}
