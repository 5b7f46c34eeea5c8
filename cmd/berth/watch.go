package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

// watchDebounce is how long the files must be quiet before a reload while
// a write to them may be under way (reconciler.WatchOptions.Debounce); a
// complete write is acted on after reconciler.DefaultWatchSettle.
const watchDebounce = 300 * time.Millisecond

type watchOptions struct {
	noUp  bool
	prune bool // remove the image a rebuild replaced when nothing uses it
	quiet bool // hide the progress of rebuilds
	// requireDevelop: no selected service with develop.watch rules is an
	// error (berth watch, as docker compose watch); up --watch goes on
	// watching the Compose files alone.
	requireDevelop bool
}

func newWatchCommand(g *globalOptions) *cobra.Command {
	o := watchOptions{requireDevelop: true}
	cmd := &cobra.Command{
		Use:   "watch [SERVICE...]",
		Short: "Act on the services' develop.watch rules and keep the project converged while its files change",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWatch(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.noUp, "no-up", false, "do not converge before watching")
	cmd.Flags().BoolVar(&o.prune, "prune", false, "remove the image a rebuild replaced when nothing uses it")
	cmd.Flags().BoolVar(&o.quiet, "quiet", false, "hide the progress of rebuilds")
	return cmd
}

func runWatch(ctx context.Context, g *globalOptions, o watchOptions, services []string) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	sink, err := g.newSink()
	if err != nil {
		return err
	}
	p, err := g.loadRunnable(ctx)
	if err != nil {
		return err
	}
	// Before anything is made: a watch with nothing to act on is bad input.
	if err := p.CheckWatch(services); err != nil {
		return err
	}
	opt := reconciler.Options{Mode: reconciler.ModeUp, Services: services, RemoveOrphans: true}
	if !o.noUp {
		if err := converge(ctx, g, a, p, opt, false, sink); err != nil {
			return err
		}
	}
	return watchProject(ctx, g, a, p, opt, sink, nil, o)
}

// watchProject reconverges the project each time its files change, until
// ctx is done (then it returns ctx's error: the user ended the watch, and
// berth exits 130 as docker compose does). An invalid
// edit is reported and what runs is left alone. converged, if not nil, is
// called after each converge that changed something.
func watchProject(ctx context.Context, g *globalOptions, a *app, p *spec.Project, opt reconciler.Options, sink reconciler.EventSink, converged func(), wo watchOptions) error {
	current := p
	dev, err := startDevelop(ctx, g, a, p, opt, sink, wo)
	if err != nil {
		return err
	}
	defer dev.stop()
	fmt.Fprintf(g.stderr, "Watching %d files of project %s; Ctrl-C to stop watching\n", len(watchFiles(p)), p.Name)
	err = reconciler.Watch(ctx, reconciler.WatchOptions{
		Files:    func() []string { return watchFiles(current) },
		Debounce: watchDebounce,
		Converge: func(ctx context.Context) error {
			next, err := g.loadRunnable(ctx)
			if err != nil {
				return err
			}
			if next.Name != current.Name {
				return fmt.Errorf("the project's name changed from %q to %q; restart the watch", current.Name, next.Name)
			}
			current = next
			dev.setProject(next)
			fmt.Fprintln(g.stderr, "Change detected: converging")
			err = converge(ctx, g, a, next, opt, false, sink)
			if converged != nil {
				converged() // even after a failed step: some may have been made
			}
			return err
		},
		OnError: func(err error) { fmt.Fprintln(g.stderr, "WARN "+oneLine(err)+"; nothing was changed") },
	})
	return err
}

// watchFiles are the files whose edit can change the project: its Compose
// files, their include/extends files, env files, and the files of its
// configs and secrets (their content is part of the services' hashes).
func watchFiles(p *spec.Project) []string {
	files := append([]string(nil), p.ComposeFiles...)
	files = append(files, p.IncludedFiles...)
	files = append(files, p.EnvFiles...)
	for _, o := range slices.Concat(p.Configs, p.Secrets) {
		if o.File != "" && !o.External {
			files = append(files, o.File)
		}
	}
	return files
}
