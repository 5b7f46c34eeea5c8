package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/netmgr"
)

func newNetworkCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks"}
	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			nets, err := a.nets.List(cmd.Context(), nil)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NETWORK ID\tNAME\tDRIVER\tSUBNET\tBRIDGE")
			for _, n := range nets {
				fmt.Fprintf(tw, "%s\t%s\tbridge\t%s\t%s\n", shortID(n.ID), n.Name, n.Subnet, n.Bridge)
			}
			return tw.Flush()
		},
	}
	rm := &cobra.Command{
		Use:     "rm NETWORK...",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			for _, n := range args {
				if err := a.nets.Remove(cmd.Context(), n); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, n)
			}
			return nil
		},
	}
	inspect := &cobra.Command{
		Use:   "inspect NETWORK...",
		Short: "Display detailed information on one or more networks",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectEach(cmd.Context(), g, args, func(ctx context.Context, a *app, ref string) (*netmgr.Network, error) {
				return a.nets.Get(ctx, ref)
			})
		},
	}
	cmd.AddCommand(ls, rm, inspect)
	cmd.AddCommand(newNetworkCreateCommand(g))
	cmd.AddCommand(newNetworkPruneCommand(g))
	return cmd
}
