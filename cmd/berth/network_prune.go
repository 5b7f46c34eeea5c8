package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/netmgr"
)

type networkPruneOptions struct {
	force   bool // accepted for docker's sake: berth never prompts
	filters []string
}

// newNetworkPruneCommand is `network prune`: the root's networks no
// container uses, then what interrupted runs left on the host (see
// netmgr.Manager.Prune).
func newNetworkPruneCommand(g *globalOptions) *cobra.Command {
	var o networkPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks, and berth's orphaned bridges, veths and rules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNetworkPrune(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "do not prompt for confirmation (berth never prompts)")
	cmd.Flags().StringArrayVar(&o.filters, "filter", nil, `only networks with the label: "label=KEY" or "label=KEY=VALUE"`)
	return cmd
}

func runNetworkPrune(ctx context.Context, g *globalOptions, o networkPruneOptions) error {
	labels, err := labelFilters(o.filters)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	// Networks any container of the root names, running or not, are in
	// use, as Docker counts them.
	keep, err := a.engine.NetworksInUse(ctx)
	if err != nil {
		return err
	}
	rep, err := a.nets.Prune(ctx, netmgr.PruneOptions{Labels: labels, Keep: keep})
	if rep != nil {
		section := func(title string, names []string) {
			if len(names) == 0 {
				return
			}
			fmt.Fprintln(g.stdout, title)
			for _, n := range names {
				fmt.Fprintln(g.stdout, n)
			}
		}
		section("Deleted Networks:", rep.Networks)
		section("Deleted orphaned bridges:", rep.Bridges)
		section("Deleted orphaned veths:", rep.Veths)
		if rep.Rules > 0 {
			fmt.Fprintf(g.stdout, "Deleted %d orphaned firewall rules\n", rep.Rules)
		}
	}
	return err
}
