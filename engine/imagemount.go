package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// imageMountLayers are the layer directories (lowest first) an "image"
// mount shows: those of the image m.Source names, narrowed to m.Subpath.
// errdefs.ErrNotFound if the store lacks the image.
func (e *Engine) imageMountLayers(ctx context.Context, m Mount) ([]string, error) {
	img, err := e.images.Resolve(ctx, m.Source)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", m.Source, err)
	}
	dirs, err := e.images.LayerDirs(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", m.Source, err)
	}
	sub, err := cleanSubpath(m.Subpath)
	if err != nil {
		return nil, err
	}
	out, err := subpathLayers(dirs, sub)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, invalid("image %q: subpath %q: not a directory of the image", m.Source, m.Subpath)
	}
	return out, nil
}

// subpathLayers narrows overlay lower directories (lowest first) to the
// directory sub of the merged view: each layer's sub, from the top down,
// until a layer hides what is below (an overlay whiteout of sub or of a
// directory above it, or an opaque directory on the way). A layer without
// sub adds nothing; a layer where sub is not a directory ends the list.
func subpathLayers(dirs []string, sub string) ([]string, error) {
	if sub == "" {
		return slices.Clone(dirs), nil
	}
	parts := strings.Split(sub, "/")
	var top []string
	for i := len(dirs) - 1; i >= 0; i-- {
		hides := false
		p := dirs[i]
		found := true
		for _, part := range parts {
			p = filepath.Join(p, part)
			var st unix.Stat_t
			err := unix.Lstat(p, &st)
			if errors.Is(err, fs.ErrNotExist) {
				found = false
				break
			}
			if err != nil {
				return nil, fmt.Errorf("subpath %q: %w", sub, err)
			}
			switch {
			case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0: // a whiteout
				hides, found = true, false
			case st.Mode&unix.S_IFMT != unix.S_IFDIR:
				hides, found = true, false
			case isOpaque(p):
				hides = true
			}
			if !found {
				break
			}
		}
		if found {
			top = append(top, p)
		}
		if hides {
			break
		}
	}
	slices.Reverse(top)
	return top, nil
}

func isOpaque(dir string) bool {
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// imageMount is the mount of an "image" mount's layers (lowest first): a
// read-only bind of a single layer, else a read-only overlay of them all,
// made by the runtime in the container's mount namespace.
func imageMount(dst string, layers []string) (specs.Mount, error) {
	switch len(layers) {
	case 0:
		return specs.Mount{}, invalid("image mount at %s: no layers", dst)
	case 1:
		return specs.Mount{Destination: dst, Type: "bind", Source: layers[0], Options: []string{"rbind", "ro", "nosuid", "nodev"}}, nil
	}
	top := slices.Clone(layers)
	slices.Reverse(top)
	for _, l := range top {
		if strings.ContainsAny(l, ":,") {
			return specs.Mount{}, invalid("image mount at %s: layer %q holds ':' or ','", dst, l)
		}
	}
	lower := "lowerdir=" + strings.Join(top, ":")
	if len(lower) > maxMountData-32 {
		return specs.Mount{}, invalid("image mount at %s: %d layers do not fit one mount's options", dst, len(layers))
	}
	return specs.Mount{Destination: dst, Type: "overlay", Source: "overlay", Options: []string{"ro", "nosuid", "nodev", lower}}, nil
}

// checkImageMountSource rejects an image mount without an image.
func checkImageMountSource(i int, m Mount) error {
	if m.Source == "" {
		return invalid("mounts[%d]: image mount at %s: no image", i, path.Clean(m.Target))
	}
	return nil
}
