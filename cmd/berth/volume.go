package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/volmgr"
)

func newVolumeCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	var format string
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			vols, err := a.volumes.List(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(g.stdout)
				for _, v := range vols {
					if err := enc.Encode(v); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "DRIVER\tVOLUME NAME")
			for _, v := range vols {
				fmt.Fprintf(tw, "%s\t%s\n", v.Driver, v.Name)
			}
			return tw.Flush()
		},
	}
	ls.Flags().StringVar(&format, "format", "table", "format: table or json")
	create := &cobra.Command{
		Use:   "create VOLUME",
		Short: "Create a volume",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			v, err := a.volumes.Create(cmd.Context(), args[0], nil)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, v.Name)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:     "rm VOLUME...",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			ctrs, err := a.engine.List(cmd.Context(), nil)
			if err != nil {
				return err
			}
			for _, name := range args {
				for _, c := range ctrs {
					for _, m := range c.Config.Mounts {
						if m.Type == "volume" && m.Source == name {
							return fmt.Errorf("volume %q is in use by container %s", name, c.Config.Name)
						}
					}
				}
				if err := a.volumes.Remove(cmd.Context(), name); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, name)
			}
			return nil
		},
	}
	inspect := &cobra.Command{
		Use:   "inspect VOLUME...",
		Short: "Display detailed information on one or more volumes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			var out []*volmgr.Volume
			for _, n := range args {
				v, err := a.volumes.Get(cmd.Context(), n)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			return writeJSONIndent(g.stdout, out)
		},
	}
	cmd.AddCommand(ls, create, rm, inspect)
	return cmd
}
