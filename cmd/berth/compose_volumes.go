package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/spec"
)

type composeVolumesOptions struct {
	format string
	quiet  bool
}

// newComposeVolumesCommand is docker compose volumes [SERVICE...]: the
// project's volumes, or those the services' containers mount.
func newComposeVolumesCommand(g *globalOptions) *cobra.Command {
	var o composeVolumesOptions
	cmd := &cobra.Command{
		Use:   "volumes [OPTIONS] [SERVICE...]",
		Short: "List volumes",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runComposeVolumes(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "table", `format: "table", "table TEMPLATE", "json" or a Go template`)
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "only display volume names")
	return cmd
}

func runComposeVolumes(ctx context.Context, g *globalOptions, o composeVolumesOptions, services []string) error {
	a, name, err := g.openProject(ctx)
	if err != nil {
		return err
	}
	vols, err := a.engine.Volumes().List(ctx, map[string]string{spec.LabelProject: name})
	if err != nil {
		return err
	}
	var mounted map[string]bool
	if len(services) > 0 {
		_, ctrs, err := projectContainers(ctx, g, services)
		if err != nil {
			return err
		}
		mounted = map[string]bool{}
		for _, c := range ctrs {
			for _, m := range c.Config.Mounts {
				if m.Type == "volume" {
					mounted[m.Source] = true
				}
			}
		}
	}
	var rows []volumeRow
	for _, v := range vols {
		if mounted != nil && !mounted[v.Name] {
			continue
		}
		if o.quiet {
			fmt.Fprintln(g.stdout, v.Name)
			continue
		}
		rows = append(rows, volumeRow{v: dockerapi.Volume(v)})
	}
	if o.quiet {
		return nil
	}
	return writeList(g.stdout, listing{format: o.format, defaultTable: volumeTable, header: volumeHeader}, rows)
}
