package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// propagations are the bind propagations a mount may ask for.
var propagations = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave"}

// cleanSubpath checks a volume's subpath: relative, inside the volume.
func cleanSubpath(sub string) (string, error) {
	if sub == "" {
		return "", nil
	}
	c := path.Clean(sub)
	if path.IsAbs(sub) || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("subpath %q: not a relative path inside the volume: %w", sub, errdefs.ErrInvalidArgument)
	}
	return c, nil
}

// tmpfsOptions are the size and mode options of a tmpfs mount.
func tmpfsOptions(m Mount) []string {
	var out []string
	if m.TmpfsSize > 0 {
		out = append(out, "size="+strconv.FormatInt(m.TmpfsSize, 10))
	}
	if m.TmpfsMode != 0 {
		out = append(out, "mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
	}
	return out
}

// fileMountName is the name of the file written for mount i.
func fileMountName(i int) string { return "mount-" + strconv.Itoa(i) }

// parseVolumesFrom reads "container[:ro|:rw]".
func parseVolumesFrom(s string) (ref, mode string, err error) {
	ref, mode, _ = strings.Cut(s, ":")
	if ref == "" || (mode != "" && mode != "ro" && mode != "rw") {
		return "", "", fmt.Errorf("%q: want CONTAINER[:ro|:rw]: %w", s, errdefs.ErrInvalidArgument)
	}
	return ref, mode, nil
}

// ImageVolumeName is the name of the anonymous volume the engine makes for
// the image's VOLUME at target in the container named container: the same
// for every container of that name, so a container that replaces another
// (a recreate) finds the data of the one it replaces, as Docker Compose
// arranges.
func ImageVolumeName(container, target string) string {
	sum := sha256.Sum256([]byte("image-volume\x00" + container + "\x00" + filepath.Clean(target)))
	return hex.EncodeToString(sum[:])
}

// imageVolumes are the volume mounts for the image's VOLUMEs at targets
// that none of mounts covers.
func imageVolumes(rec *record, mounts []Mount) []Mount {
	var out []Mount
	for _, v := range rec.ImageConfig.Volumes {
		t := filepath.Clean(v)
		if !filepath.IsAbs(t) || t == "/" || slices.ContainsFunc(mounts, func(m Mount) bool { return filepath.Clean(m.Target) == t }) {
			continue
		}
		out = append(out, Mount{Type: "volume", Source: ImageVolumeName(rec.Config.Name, t), Target: t})
	}
	return out
}
