package main

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
)

func newNetworkCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks"}
	var lsOpt networkLsOptions
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNetworkLs(cmd.Context(), g, lsOpt)
		},
	}
	ls.Flags().StringVar(&lsOpt.format, "format", "table", `format: "table", "table TEMPLATE", "json" or a Go template`)
	ls.Flags().BoolVar(&lsOpt.noTrunc, "no-trunc", false, "don't truncate output")
	ls.Flags().BoolVarP(&lsOpt.quiet, "quiet", "q", false, "only display network IDs")
	ls.Flags().StringArrayVarP(&lsOpt.filters, "filter", "f", nil, "filter output based on conditions provided (name, id, label, driver)")
	var rmForce bool
	rm := &cobra.Command{
		Use:     "rm [OPTIONS] NETWORK...",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			for _, n := range args {
				err := a.nets.Remove(cmd.Context(), n)
				if rmForce && errdefs.IsNotFound(err) {
					continue // -f: a missing network is no error
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, n)
			}
			return nil
		},
	}
	rm.Flags().BoolVarP(&rmForce, "force", "f", false, "do not error if the network does not exist")
	var format string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK...",
		Short: "Display detailed information on one or more networks",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectEach(cmd.Context(), g, args, format, func(ctx context.Context, a *app, ref string) (any, error) {
				n, err := a.nets.Get(ctx, ref)
				if err != nil {
					return nil, err
				}
				return dockerapi.NetworkInspect(n), nil
			})
		},
	}
	addInspectFormat(inspect, &format)
	// Docker's --verbose adds a Swarm-scope network's services and peers;
	// berth's networks are all local, whose document it leaves as it is.
	var verbose bool
	inspect.Flags().BoolVarP(&verbose, "verbose", "v", false, "verbose output for diagnostics (a local network's document is the same)")
	cmd.AddCommand(ls, rm, inspect)
	cmd.AddCommand(newNetworkCreateCommand(g))
	cmd.AddCommand(newNetworkPruneCommand(g))
	cmd.AddCommand(newNetworkConnectCommand(g), newNetworkDisconnectCommand(g))
	return cmd
}

type networkLsOptions struct {
	format  string
	noTrunc bool
	quiet   bool
	filters []string
}

func runNetworkLs(ctx context.Context, g *globalOptions, o networkLsOptions) error {
	filter, err := parseNetworkFilter(o.filters)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	nets, err := a.nets.List(ctx, nil)
	if err != nil {
		return err
	}
	var rows []networkRow
	for _, n := range nets {
		if s := dockerapi.NetworkSummary(n); filter.match(s) {
			rows = append(rows, networkRow{n: s, trunc: !o.noTrunc})
		}
	}
	if o.quiet {
		for _, r := range rows {
			fmt.Fprintln(g.stdout, r.ID())
		}
		return nil
	}
	return writeList(g.stdout, listing{format: o.format, defaultTable: networkTable, header: networkHeader}, rows)
}
