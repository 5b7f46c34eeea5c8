package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

// buildForCluster builds the images of the project's services that have
// build: with berth's builder and pushes each to registry as
// <registry>/<project>-<service>:<image ID prefix>, then points the service
// at that reference: content-versioned, so an unchanged build deploys as no
// change and a changed one rolls the service. Without a registry, a
// service whose image only a build makes is refused: the nodes could not
// pull it. With dryRun nothing is built: the services keep their names.
func buildForCluster(ctx context.Context, g *globalOptions, p *spec.Project, registry string, dryRun bool) error {
	var built []string
	for _, s := range p.Services {
		if s.Build == nil {
			continue
		}
		if registry == "" {
			if s.Image == spec.ImageOrDefault("", p.Name, s.Name) {
				return fmt.Errorf("service %q: its image is built from %s, and the nodes cannot pull it: give --registry HOST[:PORT] to push it to: %w",
					s.Name, s.Build.Context, errdefs.ErrInvalidArgument)
			}
			continue
		}
		built = append(built, s.Name)
	}
	if len(built) == 0 || dryRun {
		return nil
	}
	registry = strings.TrimSuffix(registry, "/")
	a, err := g.open()
	if err != nil {
		return err
	}
	sink, err := newSink("plain", g.stderr)
	if err != nil {
		return err
	}
	if err := runPlan(ctx, g, a, p.Name, p, reconciler.Options{Mode: reconciler.ModeBuild, Services: built, NoDeps: true}, false, sink); err != nil {
		return err
	}
	for i, s := range p.Services {
		if s.Build == nil {
			continue
		}
		img, err := a.images.Resolve(ctx, s.Image)
		if err != nil {
			return fmt.Errorf("service %q: the image it built: %w", s.Name, err)
		}
		ref := fmt.Sprintf("%s/%s-%s:%s", registry, p.Name, s.Name, strings.TrimPrefix(img.ID, "sha256:")[:12])
		if err := a.images.Tag(ctx, s.Image, ref); err != nil {
			return err
		}
		d, err := a.images.Push(ctx, ref, image.PushOptions{})
		if err != nil {
			return fmt.Errorf("service %q: push to %s: %w", s.Name, registry, err)
		}
		fmt.Fprintf(g.stderr, "service %s: pushed %s (%s)\n", s.Name, ref, d)
		p.Services[i].Image, p.Services[i].Build = ref, nil
	}
	return nil
}
