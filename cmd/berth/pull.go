package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/spec"
)

type transferOptions struct {
	ignoreFailures bool
	quiet          bool
}

// newPullCommand is `berth pull`: the images of the project's services.
func newPullCommand(g *globalOptions) *cobra.Command {
	var o transferOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] [SERVICE...]",
		Short: "Pull service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachServiceImage(cmd.Context(), g, o, args, "Pull", func(a *app, s *spec.Service) error {
				if s.PullPolicy == "never" {
					return nil
				}
				_, err := a.images.Pull(cmd.Context(), s.Image, image.PullOptions{})
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&o.ignoreFailures, "ignore-pull-failures", false, "pull what it can and ignores images with pull failures")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "pull without printing progress information")
	return cmd
}

// newPushCommand is `berth push`: the images of the project's services.
func newPushCommand(g *globalOptions) *cobra.Command {
	var o transferOptions
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] [SERVICE...]",
		Short: "Push service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachServiceImage(cmd.Context(), g, o, args, "Push", func(a *app, s *spec.Service) error {
				_, err := a.images.Push(cmd.Context(), s.Image, image.PushOptions{})
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&o.ignoreFailures, "ignore-push-failures", false, "push what it can and ignores images with push failures")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "push without printing progress information")
	return cmd
}

// eachServiceImage runs fn once per distinct image of the selected services,
// reporting "<verb>ing" and "<verb>ed" lines.
func eachServiceImage(ctx context.Context, g *globalOptions, o transferOptions, services []string, verb string, fn func(*app, *spec.Service) error) error {
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
	for i := range p.Services {
		s := &p.Services[i]
		if len(services) > 0 && !slices.Contains(services, s.Name) || slices.Contains(done, s.Image) {
			continue
		}
		done = append(done, s.Image)
		if !o.quiet {
			fmt.Fprintf(g.stderr, " Image %s  %sing\n", s.Image, verb)
		}
		if err := fn(a, s); err != nil {
			if o.ignoreFailures {
				fmt.Fprintf(g.stderr, "WARN service %q: %s\n", s.Name, err)
				continue
			}
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
			continue
		}
		if !o.quiet {
			fmt.Fprintf(g.stderr, " Image %s  %sed\n", s.Image, verb)
		}
	}
	return errors.Join(errs...)
}
