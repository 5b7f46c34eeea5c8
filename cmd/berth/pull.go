package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/spec"
)

type transferOptions struct {
	ignoreFailures  bool
	quiet           bool
	includeDeps     bool   // the named services' dependencies too
	policy          string // pull: "missing" or "always" ("": the services' own)
	ignoreBuildable bool   // pull: not the images of services with a build
	parallel        bool   // pull: docker compose's, deprecated, no effect
}

// newPullCommand is `berth pull`: the images of the project's services.
func newPullCommand(g *globalOptions) *cobra.Command {
	var o transferOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] [SERVICE...]",
		Short: "Pull service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.policy != "" && o.policy != "missing" && o.policy != "always" {
				return fmt.Errorf(`--policy %q: must be "missing" or "always": %w`, o.policy, errdefs.ErrInvalidArgument)
			}
			return eachServiceImage(cmd.Context(), g, o, args, "Pull", func(a *app, s *spec.Service) error {
				if s.PullPolicy == "never" && o.policy == "" || o.ignoreBuildable && s.Build != nil {
					return nil
				}
				if o.policy == "missing" {
					if _, err := a.images.Resolve(cmd.Context(), s.Image); err == nil {
						return nil // already here
					}
				}
				_, err := a.images.Pull(cmd.Context(), s.Image, image.PullOptions{})
				return err
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.ignoreFailures, "ignore-pull-failures", false, "pull what it can and ignores images with pull failures")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "pull without printing progress information")
	f.BoolVar(&o.includeDeps, "include-deps", false, "also pull services declared as dependencies")
	f.StringVar(&o.policy, "policy", "", `apply pull policy ("missing"|"always")`)
	f.BoolVar(&o.ignoreBuildable, "ignore-buildable", false, "ignore images that can be built")
	f.BoolVar(&o.parallel, "parallel", true, "DEPRECATED pull multiple images in parallel (no effect)")
	f.BoolVar(&o.parallel, "no-parallel", true, "DEPRECATED disable parallel pulling (no effect)")
	_ = f.MarkHidden("parallel")
	_ = f.MarkHidden("no-parallel")
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
	cmd.Flags().BoolVar(&o.includeDeps, "include-deps", false, "also push images of services declared as dependencies")
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
	if o.includeDeps {
		services = withDependencies(p, services)
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
