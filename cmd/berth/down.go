package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reconciler"
)

type downOptions struct {
	volumes       bool
	removeOrphans bool
	timeout       int
	dryRun        bool
	progress      string
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
	f.StringVar(&o.progress, "progress", "auto", "progress output: auto, tty, plain, json, quiet")
	return cmd
}

func runDown(ctx context.Context, g *globalOptions, o downOptions) error {
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
	unlock, err := a.lockProject(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	observed, err := reconciler.Observe(ctx, a.deps(), name, p)
	if err != nil {
		return err
	}
	plan, err := reconciler.Compute(p, observed, reconciler.Options{
		Mode: reconciler.ModeDown, RemoveOrphans: o.removeOrphans || p == nil,
		RemoveVolumes: o.volumes, Timeout: timeoutFlag(o.timeout),
	})
	if err != nil {
		return err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintln(g.stderr, "WARN "+w)
	}
	if o.dryRun {
		fmt.Fprint(g.stdout, plan.String())
		return nil
	}
	return reconciler.Apply(ctx, a.deps(), plan, parallelLimit(), sink)
}
