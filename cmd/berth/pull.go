package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine/image"
)

type composePullOptions struct {
	ignoreFailures bool
	quiet          bool
}

// newPullCommand is `berth pull`: the images of the project's services.
func newPullCommand(g *globalOptions) *cobra.Command {
	var o composePullOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] [SERVICE...]",
		Short: "Pull service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runComposePull(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.ignoreFailures, "ignore-pull-failures", false, "pull what it can and ignores images with pull failures")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "pull without printing progress information")
	return cmd
}

func runComposePull(ctx context.Context, g *globalOptions, o composePullOptions, services []string) error {
	p, err := g.load(ctx)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	var errs []error
	var done []string
	for _, s := range p.Services {
		if len(services) > 0 && !slices.Contains(services, s.Name) || s.PullPolicy == "never" || slices.Contains(done, s.Image) {
			continue
		}
		done = append(done, s.Image)
		if !o.quiet {
			fmt.Fprintf(g.stderr, " Image %s  Pulling\n", s.Image)
		}
		if _, err := a.images.Pull(ctx, s.Image, image.PullOptions{}); err != nil {
			if o.ignoreFailures {
				fmt.Fprintf(g.stderr, "WARN service %q: %s\n", s.Name, err)
				continue
			}
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
			continue
		}
		if !o.quiet {
			fmt.Fprintf(g.stderr, " Image %s  Pulled\n", s.Image)
		}
	}
	return errors.Join(errs...)
}
