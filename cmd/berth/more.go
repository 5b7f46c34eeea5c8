package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// newContainerMoreCommands are the container verbs that move files and
// report usage: cp, export, commit, stats, attach.
func newContainerMoreCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{newContainerCpCommand(g), newContainerExportCommand(g), newContainerCommitCommand(g),
		newContainerStatsCommand(g), newContainerAttachCommand(g), newContainerDiffCommand(g)}
}

// newComposeMoreCommands are the compose verbs that work on one service's
// containers: cp, export, commit, stats, attach, volumes.
func newComposeMoreCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{newComposeCpCommand(g), newComposeExportCommand(g), newComposeCommitCommand(g),
		newComposeStatsCommand(g), newComposeVolumesCommand(g), newComposeAttachCommand(g)}
}

// removeAnonymousVolumes removes the anonymous volumes among a removed
// container's mounts that no other container uses (docker rm -v); named
// volumes stay.
func removeAnonymousVolumes(ctx context.Context, a *app, mounts []engine.Mount) error {
	var errs []error
	for _, m := range mounts {
		if m.Type != "volume" || m.Source == "" {
			continue
		}
		v, err := a.engine.Volumes().Get(ctx, m.Source)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, anonymous := v.Labels[engine.LabelAnonymousVolume]; !anonymous {
			continue
		}
		if err := a.engine.Volumes().Remove(ctx, v.Name); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// withDependencies is services and, transitively, the services they depend
// on, as the project declares them.
func withDependencies(p *spec.Project, services []string) []string {
	if len(services) == 0 {
		return nil // every service already
	}
	seen := map[string]bool{}
	var add func(string)
	add = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if s, ok := p.Service(name); ok {
			for _, d := range s.DependsOn {
				add(d.Service)
			}
		}
	}
	for _, s := range services {
		add(s)
	}
	return slices.Sorted(maps.Keys(seen))
}

// newContainerDiffCommand is docker diff: the changes to a container's
// filesystem, a line each.
func newContainerDiffCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := g.container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			changes, err := a.engine.Changes(cmd.Context(), c.ID)
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintf(g.stdout, "%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		},
	}
}

// firstExit waits until one of ctrs is not running and returns its exit
// code.
func firstExit(ctx context.Context, a *app, ctrs []*engine.Container) (int, error) {
	if len(ctrs) == 0 {
		return 0, fmt.Errorf("no container to wait for: %w", errdefs.ErrNotFound)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type exit struct {
		code int
		err  error
	}
	exits := make(chan exit, len(ctrs))
	for _, c := range ctrs {
		go func() {
			st, err := a.engine.Wait(ctx, c.ID)
			exits <- exit{st.ExitCode, err}
		}()
	}
	e := <-exits
	return e.code, e.err
}
