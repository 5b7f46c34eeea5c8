package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

type downOptions struct {
	volumes       bool
	removeOrphans bool
	timeout       int
	dryRun        bool
	progress      string
	rmi           string
}

func newDownCommand(g *globalOptions) *cobra.Command {
	var o downOptions
	cmd := &cobra.Command{
		Use:   "down [OPTIONS]",
		Short: "Stop and remove containers and networks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDown(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.volumes, "volumes", "v", false, "remove named volumes declared in the file and anonymous volumes")
	f.BoolVar(&o.removeOrphans, "remove-orphans", false, "remove containers for services not defined in the Compose file")
	f.IntVarP(&o.timeout, "timeout", "t", -1, "shutdown timeout in seconds")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
	f.StringVar(&o.rmi, "rmi", "", `remove images used by services: "local" (images without a custom tag, i.e. built) or "all"`)
	f.StringVar(&o.progress, "progress", "auto", "progress output: auto, tty, plain, json, quiet")
	return cmd
}

func runDown(ctx context.Context, g *globalOptions, o downOptions) error {
	if o.rmi != "" && o.rmi != "local" && o.rmi != "all" {
		return fmt.Errorf(`--rmi %q: must be "local" or "all"`, o.rmi)
	}
	p, name, err := g.projectOrName(ctx)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	sink, err := newSink(o.progress, g.stderr)
	if err != nil {
		return err
	}
	err = runPlan(ctx, g, a, name, p, reconciler.Options{
		Mode: reconciler.ModeDown, RemoveOrphans: o.removeOrphans || p == nil,
		RemoveVolumes: o.volumes, Timeout: timeoutFlag(o.timeout),
	}, o.dryRun, sink)
	if err != nil || o.dryRun {
		return err
	}
	if o.rmi == "all" && p != nil {
		return removeServiceImages(ctx, g, a, p)
	}
	return nil // --rmi local: berth builds no images yet, so none is local
}

// removeServiceImages removes the images of the project's services that no
// container uses any more.
func removeServiceImages(ctx context.Context, g *globalOptions, a *app, p *spec.Project) error {
	ctrs, err := a.engine.List(ctx, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range p.Images() {
		img, err := a.images.Resolve(ctx, ref)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if slices.ContainsFunc(ctrs, func(c *engine.Container) bool { return c.ImageID == img.ID }) {
			fmt.Fprintf(g.stderr, "WARN image %s is still used by other containers; kept\n", ref)
			continue
		}
		if err := a.images.Remove(ctx, ref); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(g.stderr, " Image %s  Removed\n", ref)
	}
	return errors.Join(errs...)
}
