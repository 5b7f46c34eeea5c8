package spec

import (
	"fmt"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	godigest "github.com/opencontainers/go-digest"
)

// WithImageDigests returns a copy of p whose rendering (Render) pins every
// image reference, the services' images, their pre_start hooks' images and
// the sources of their volumes of type image, to the digest resolve gives
// for it, as `docker compose config --resolve-image-digests` does: a
// reference naming a digest already is kept, the others are written in
// full ("docker.io/library/busybox:latest@sha256:…"). resolve is given the
// full reference (name and tag). With lock the rendering holds those
// references only, an override file to pin a project with
// (--lock-image-digests); warnings then name the services whose pre_start
// images the override cannot pin, in Docker Compose's words. A project
// loaded with NoInterpolate is errdefs.ErrNotImplemented.
func (p *Project) WithImageDigests(resolve func(ref string) (string, error), lock bool) (*Project, []string, error) {
	switch {
	case p.model != nil:
		return nil, nil, fmt.Errorf("image digests of a project that is not interpolated: %w", errdefs.ErrNotImplemented)
	case p.config == nil:
		return nil, nil, fmt.Errorf("project %q was not loaded from Compose files: %w", p.Name, errdefs.ErrFailedPrecondition)
	}
	cfg, err := p.config.WithImagesResolved(func(named reference.Named) (godigest.Digest, error) {
		d, err := resolve(named.String())
		if err != nil {
			return "", fmt.Errorf("image %q: %w", reference.FamiliarString(named), err)
		}
		return godigest.Parse(d)
	})
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	if lock {
		// Hooks are appended when files are merged: an override cannot
		// pin one without running it twice.
		locked := types.Services{}
		for _, name := range slices.Sorted(maps.Keys(cfg.Services)) {
			s := cfg.Services[name]
			var out types.ServiceConfig
			out.Image = s.Image
			for _, v := range s.Volumes {
				if v.Type == types.VolumeTypeImage {
					out.Volumes = append(out.Volumes, v)
				}
			}
			for _, h := range s.PreStart {
				if h.Image != "" {
					warnings = append(warnings, fmt.Sprintf("service %q: pre_start hook images are not pinned in the override file produced by --lock-image-digests, use the full --resolve-image-digests output to pin them", name))
					break
				}
			}
			locked[name] = out
		}
		cfg = &types.Project{Services: locked}
	}
	cp := *p
	cp.config = cfg
	return &cp, warnings, nil
}
