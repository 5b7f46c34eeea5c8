package build

import (
	"context"
	"io"
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// newImage assembles the image of a stage: its base, the layers the build
// made, its configuration and history. Its creation time is that of its
// newest layer, so a build that changed nothing makes the same image.
func (b *Builder) newImage(ctx context.Context, ss *stageState, cfg v1.Config) (v1.Image, error) {
	var base v1.Image
	layerType := types.OCIUncompressedLayer
	if ss.base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	} else {
		base = ss.baseV1
		mt, err := base.MediaType()
		if err != nil {
			return nil, err
		}
		if mt == types.DockerManifestSchema2 {
			layerType = types.DockerUncompressedLayer
		}
	}
	var adds []mutate.Addendum
	for _, l := range ss.layers {
		fi, err := os.Stat(b.cache.layerFile(l.diffID))
		if err != nil {
			return nil, err
		}
		h, err := v1.NewHash(l.diffID)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: &cachedLayer{path: b.cache.layerFile(l.diffID), diffID: h, size: fi.Size(), mediaType: layerType}})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	baseHistory := cf.History
	if ss.base != nil && len(baseHistory) > 0 {
		// mutate.Append added an empty entry per layer: the build's own
		// history replaces them.
		baseHistory = baseHistory[:len(baseHistory)-len(adds)]
	} else {
		baseHistory = nil
	}
	cf.History = append(baseHistory, ss.history...)
	for i := range cf.History {
		if cf.History[i].Created.IsZero() {
			cf.History[i].Created = v1.Time{Time: ss.created}
		}
	}
	cf.Config = cfg
	cf.Author = ss.cfg.Author
	cf.Created = v1.Time{Time: ss.created}
	if cf.OS == "" {
		cf.OS, cf.Architecture = "linux", runtime.GOARCH
	}
	return mutate.ConfigFile(img, cf)
}

// cachedLayer is a layer of the build cache: an uncompressed tarball.
type cachedLayer struct {
	path      string
	diffID    v1.Hash
	size      int64
	mediaType types.MediaType
}

func (l *cachedLayer) Digest() (v1.Hash, error)             { return l.diffID, nil }
func (l *cachedLayer) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *cachedLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *cachedLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l *cachedLayer) Size() (int64, error)                 { return l.size, nil }
func (l *cachedLayer) MediaType() (types.MediaType, error)  { return l.mediaType, nil }
