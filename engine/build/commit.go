package build

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
)

// CommitOptions describe a commit, as `docker commit` takes them.
type CommitOptions struct {
	Ref     string   // the new image's name; "" leaves it without one
	Changes []string // Dockerfile instructions applied to the configuration (-c)
	Message string   // the history entry's comment (-m)
	Author  string   // -a
	Pause   bool     // pause a running container while its changes are read
}

// Commit makes an image of container id: its image's layers, one more
// layer with the changes it made to its root filesystem (volumes and binds
// are not part of it), and its configuration (command, environment,
// labels, working directory, user over its image's) with opt.Changes
// applied, as docker commit. errdefs.ErrNotFound for an unknown container;
// errdefs.ErrInvalidArgument for a bad change or a container that has no
// image of its own (a build step's).
func (b *Builder) Commit(ctx context.Context, id engine.ContainerID, opt CommitOptions) (_ *image.Image, retErr error) {
	c, err := b.eng.Get(ctx, string(id))
	if err != nil {
		return nil, err
	}
	if len(c.Config.RootfsLayers) > 0 || c.ImageID == "" {
		return nil, fmt.Errorf("container %q: made from layers, not an image; cannot commit: %w", c.Config.Name, errdefs.ErrInvalidArgument)
	}
	base, err := b.images.Resolve(ctx, c.ImageID)
	if err != nil {
		return nil, err
	}
	img, err := b.images.V1Image(ctx, base)
	if err != nil {
		return nil, err
	}
	baseCfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := commitConfig(baseCfg.Config, c.Config)
	run := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if err := image.ApplyChanges(&cfg, opt.Changes); err != nil {
		return nil, err
	}
	below, err := b.images.LayerDirs(ctx, base)
	if err != nil {
		return nil, err
	}
	if opt.Pause && c.State.Status == engine.StatusRunning {
		if err := b.eng.Pause(ctx, id); err != nil {
			return nil, err
		}
		defer func() { retErr = errors.Join(retErr, b.eng.Unpause(context.WithoutCancel(ctx), id)) }()
	}
	upper, err := b.eng.UpperDir(ctx, id)
	if err != nil {
		return nil, err
	}
	w, err := b.cache.newLayer()
	if err != nil {
		return nil, err
	}
	defer w.abort() // the image store keeps its own copy
	changed, err := packUpper(upper, below, w)
	if err == nil {
		err = w.bw.Flush() // the image store reads the file
	}
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", c.Config.Name, err)
	}
	now := time.Now().UTC()
	h := v1.History{Created: v1.Time{Time: now}, CreatedBy: strings.Join(run, " "), Comment: opt.Message, Author: opt.Author}
	if changed {
		diffID, err := v1.NewHash("sha256:" + hex.EncodeToString(w.sum()))
		if err != nil {
			return nil, err
		}
		mt, err := img.MediaType()
		if err != nil {
			return nil, err
		}
		layerType := types.OCIUncompressedLayer
		if mt == types.DockerManifestSchema2 {
			layerType = types.DockerUncompressedLayer
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: &cachedLayer{path: w.f.Name(), diffID: diffID, size: w.size, mediaType: layerType}, History: h}); err != nil {
			return nil, err
		}
	} else {
		h.EmptyLayer = true
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	if !changed {
		cf.History = append(cf.History, h)
	}
	cf.Config, cf.Created, cf.Author, cf.Container = cfg, v1.Time{Time: now}, opt.Author, string(c.ID)
	if cf.OS == "" {
		cf.OS, cf.Architecture = "linux", runtime.GOARCH
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	return b.images.Put(ctx, img, opt.Ref)
}

// commitConfig is the configuration a container runs with: its own
// settings cc over its image's ic.
func commitConfig(ic v1.Config, cc engine.ContainerConfig) v1.Config {
	cfg := *ic.DeepCopy()
	if cc.Entrypoint != nil {
		cfg.Entrypoint, cfg.Cmd = cc.Entrypoint, nil
	}
	if cc.Cmd != nil {
		cfg.Cmd = cc.Cmd
	}
	for _, kv := range cc.Env {
		k, _, _ := strings.Cut(kv, "=")
		cfg.Env = append(deleteEnv(cfg.Env, k), kv)
	}
	if len(cc.Labels) > 0 && cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	maps.Copy(cfg.Labels, cc.Labels)
	if cc.WorkingDir != "" {
		cfg.WorkingDir = cc.WorkingDir
	}
	if cc.User != "" {
		cfg.User = cc.User
	}
	if cc.StopSignal != "" {
		cfg.StopSignal = cc.StopSignal
	}
	return cfg
}

func deleteEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}
