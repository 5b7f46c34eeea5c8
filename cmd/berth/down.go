package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

type downOptions struct {
	volumes       bool
	removeOrphans bool
	timeout       int
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
	f.StringVar(&o.rmi, "rmi", "", `remove images used by services: "local" (images without a custom tag, i.e. built) or "all"`)
	oldSpellings(f, map[string]string{"volume": "volumes"})
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
	sink, err := g.newSink()
	if err != nil {
		return err
	}
	// The containers' veths go with their network's bridge, in one request
	// to the kernel, and what is left (veths of networks that stay) before
	// down returns.
	flush := a.nets.DeferLinkDeletion()
	err = runPlan(ctx, g, a, name, p, reconciler.Options{
		Mode: reconciler.ModeDown, RemoveOrphans: o.removeOrphans || p == nil,
		RemoveVolumes: o.volumes, Timeout: timeoutFlag(o.timeout), RemoveImages: o.rmi,
	}, g.dryRun, sink)
	if ferr := flush(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if err != nil || g.dryRun {
		return err
	}
	// Nothing of a project taken down stays in the state root.
	if dir := g.cacheDir(); dir != "" {
		return spec.ForgetCached(dir, name)
	}
	return nil
}
