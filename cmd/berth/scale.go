package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reconciler"
)

type scaleOptions struct{ noDeps bool }

// newScaleCommand is `berth scale SERVICE=REPLICAS...`: an up plan of those
// services with their scale overridden, as docker compose scale.
func newScaleCommand(g *globalOptions) *cobra.Command {
	var o scaleOptions
	cmd := &cobra.Command{
		Use:   "scale [SERVICE=REPLICAS...]",
		Short: "Scale services",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScale(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.noDeps, "no-deps", false, "don't start linked services")
	return cmd
}

func runScale(ctx context.Context, g *globalOptions, o scaleOptions, args []string) error {
	p, err := g.loadRunnable(ctx)
	if err != nil {
		return err
	}
	if err := applyScale(p, args); err != nil {
		return err
	}
	services := make([]string, 0, len(args))
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		services = append(services, name)
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	sink, err := g.newSink()
	if err != nil {
		return err
	}
	return converge(ctx, g, a, p, reconciler.Options{Mode: reconciler.ModeUp, Services: services, NoDeps: o.noDeps}, g.dryRun, sink)
}

// newUnsupportedCommands are docker compose's verbs berth does not have:
// each answers one line and a non-zero exit, whatever its flags.
func newUnsupportedCommands() []*cobra.Command {
	mk := func(use, short, why string) *cobra.Command {
		return &cobra.Command{
			Use:                use,
			Short:              short + " (not supported)",
			DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error {
				return fmt.Errorf("%s is not supported by berth: %s: %w", strings.Fields(use)[0], why, errdefs.ErrNotImplemented)
			},
		}
	}
	alpha := &cobra.Command{Use: "alpha", Short: "Experimental commands", Hidden: true}
	alpha.AddCommand(mk("viz", "Generate a graphviz graph from your compose file", "no graph output"))
	return []*cobra.Command{
		mk("publish", "Publish compose application", "Compose files are not published as OCI artifacts"),
		mk("bridge", "Convert compose files into another model", "Compose Bridge (Kubernetes, Helm) is Docker Desktop's"),
		alpha,
	}
}
