package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/spec"
)

// runBuildCheck is `build --check`: BuildKit's Dockerfile checks
// (build.Check) of the Dockerfile of each service that builds (those
// named, else all), printed as buildx prints a check's results. Findings
// are an error naming the services that have them; nothing is built.
func runBuildCheck(ctx context.Context, g *globalOptions, services []string) error {
	p, err := g.loadRunnable(ctx, services...)
	if err != nil {
		return err
	}
	var errs []error
	for i := range p.Services {
		s := &p.Services[i]
		if s.Build == nil || len(services) > 0 && !slices.Contains(services, s.Name) {
			continue
		}
		name, data, err := serviceDockerfile(s.Build)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
			continue
		}
		ws, err := build.Check(data, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
			continue
		}
		switch len(ws) {
		case 0:
			fmt.Fprintln(g.stdout, "Check complete, no warnings found.")
			continue
		case 1:
			fmt.Fprintln(g.stdout, "Check complete, 1 warning has been found!")
		default:
			fmt.Fprintf(g.stdout, "Check complete, %d warnings have been found!\n", len(ws))
		}
		build.PrintWarnings(g.stdout, name, data, ws)
		errs = append(errs, fmt.Errorf("service %q: %d check warnings in %s: %w", s.Name, len(ws), name, errdefs.ErrFailedPrecondition))
	}
	return errors.Join(errs...)
}

// serviceDockerfile is the name (as the check reports it) and content of
// the Dockerfile of build b.
func serviceDockerfile(b *spec.Build) (string, []byte, error) {
	if b.DockerfileInline != "" {
		return "Dockerfile", []byte(b.DockerfileInline), nil
	}
	path := b.Dockerfile
	if path == "" {
		path = "Dockerfile"
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(b.Context, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("dockerfile: %w", err)
	}
	return filepath.Base(path), data, nil
}
