package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// projectContainers lists the project's service containers (not one-offs),
// restricted to services when given.
func projectContainers(ctx context.Context, g *globalOptions, services []string) (*app, []*engine.Container, error) {
	a, name, err := g.openProject(ctx)
	if err != nil {
		return nil, nil, err
	}
	ctrs, err := a.engine.List(ctx, map[string]string{spec.LabelProject: name, spec.LabelOneOff: spec.LabelFalse})
	if err != nil {
		return nil, nil, err
	}
	var out []*engine.Container
	for _, c := range ctrs {
		if len(services) == 0 || slices.Contains(services, c.Config.Labels[spec.LabelService]) {
			out = append(out, c)
		}
	}
	return a, out, nil
}

// openProject names the project (from its file, or -p alone) and opens the
// engine: what every command on a project's existing containers starts with.
func (g *globalOptions) openProject(ctx context.Context) (*app, string, error) {
	name, err := g.projectName(ctx)
	if err != nil {
		return nil, "", err
	}
	a, err := g.open()
	if err != nil {
		return nil, "", err
	}
	return a, name, nil
}

type killOptions struct {
	signal        string
	removeOrphans bool
}

func newKillCommand(g *globalOptions) *cobra.Command {
	var o killOptions
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] [SERVICE...]",
		Short: "Force stop service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, ctrs, err := projectContainers(ctx, g, args)
			if err != nil {
				return err
			}
			var errs []error
			for _, c := range ctrs {
				if c.State.Status != engine.StatusRunning && c.State.Status != engine.StatusPaused {
					continue
				}
				if err := a.engine.Kill(ctx, c.ID, o.signal); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(g.stderr, " Container %s  Killed\n", c.Config.Name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&o.signal, "signal", "s", "SIGKILL", "SIGNAL to send to the container")
	cmd.Flags().BoolVar(&o.removeOrphans, "remove-orphans", false, "remove containers for services not defined in the Compose file")
	return cmd
}

func newPauseCommands(g *globalOptions) []*cobra.Command {
	mk := func(use, short, done string, from engine.Status, fn func(*app, context.Context, engine.ContainerID) error) *cobra.Command {
		return &cobra.Command{
			Use:   use + " [SERVICE...]",
			Short: short,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				a, ctrs, err := projectContainers(ctx, g, args)
				if err != nil {
					return err
				}
				var errs []error
				for _, c := range ctrs {
					if c.State.Status != from {
						continue
					}
					if err := fn(a, ctx, c.ID); err != nil {
						errs = append(errs, err)
						continue
					}
					fmt.Fprintf(g.stderr, " Container %s  %s\n", c.Config.Name, done)
				}
				return errors.Join(errs...)
			},
		}
	}
	return []*cobra.Command{
		mk("pause", "Pause services", "Paused", engine.StatusRunning,
			func(a *app, ctx context.Context, id engine.ContainerID) error { return a.engine.Pause(ctx, id) }),
		mk("unpause", "Unpause services", "Unpaused", engine.StatusPaused,
			func(a *app, ctx context.Context, id engine.ContainerID) error { return a.engine.Unpause(ctx, id) }),
	}
}

func newWaitCommand(g *globalOptions) *cobra.Command {
	var downProject bool
	cmd := &cobra.Command{
		Use:   "wait SERVICE [SERVICE...]",
		Short: "Block until containers of all (or specified) services stop",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, ctrs, err := projectContainers(ctx, g, args)
			if err != nil {
				return err
			}
			code := 0
			if downProject {
				// The first container to stop ends the wait, and the project.
				if code, err = firstExit(ctx, a, ctrs); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, code)
				if err := runDown(ctx, g, downOptions{timeout: -1}); err != nil {
					return err
				}
				if code != 0 {
					return exitError{code: code}
				}
				return nil
			}
			for i, c := range ctrs {
				st, err := a.engine.Wait(ctx, c.ID)
				if err != nil {
					return err
				}
				if i == 0 {
					code = st.ExitCode
				}
			}
			fmt.Fprintln(g.stdout, code)
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&downProject, "down-project", false, "drops project when the first container stops")
	return cmd
}
