package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

type containerPruneOptions struct {
	force   bool
	filters []string
}

// newContainerPruneCommand is `berth container prune`: every container
// that does not run (created, exited, dead) is removed, as by rm, so the
// default network goes with the last one.
func newContainerPruneCommand(g *globalOptions) *cobra.Command {
	var o containerPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runContainerPrune(cmd.Context(), g, o, cmd.InOrStdin())
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&o.filters, "filter", nil, `filter: "label=KEY" or "label=KEY=VALUE"`)
	return cmd
}

func runContainerPrune(ctx context.Context, g *globalOptions, o containerPruneOptions, stdin io.Reader) error {
	labels, err := labelFilters(o.filters)
	if err != nil {
		return err
	}
	if !o.force {
		fmt.Fprint(g.stderr, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
			return fmt.Errorf("container prune: not confirmed: %w", errdefs.ErrFailedPrecondition)
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	ctrs, err := a.engine.List(ctx, nil)
	if err != nil {
		return err
	}
	var errs []error
	fmt.Fprintln(g.stdout, "Deleted Containers:")
	for _, c := range ctrs {
		switch c.State.Status {
		case engine.StatusRunning, engine.StatusPaused, engine.StatusRestarting:
			continue
		}
		if !matchLabels(c.Config.Labels, labels) {
			continue
		}
		if err := a.engine.Remove(ctx, c.ID, false); errdefs.IsNotFound(err) || errdefs.IsConflict(err) {
			continue // removed, or started, meanwhile
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.stdout, c.ID)
	}
	return errors.Join(errs...)
}
