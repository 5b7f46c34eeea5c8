package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/engine"
)

func newContainerCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	cmd.AddCommand(newContainerLsCommand(g), newContainerRmCommand(g), newContainerStopCommand(g),
		newContainerInspectCommand(g), newContainerLogsCommand(g), newContainerPortCommand(g),
		newContainerPruneCommand(g))
	cmd.AddCommand(newContainerOpsCommands(g)...)
	cmd.AddCommand(newContainerMoreCommands(g)...)
	return cmd
}

type containerLsOptions struct {
	all     bool
	quiet   bool
	filters []string
	last    int
	latest  bool
	format  string
	noTrunc bool
	size    bool
}

func newContainerLsCommand(g *globalOptions) *cobra.Command {
	var o containerLsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list", "ps"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runContainerLs(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "show all containers (default shows just running)")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "only display container IDs")
	cmd.Flags().StringArrayVarP(&o.filters, "filter", "f", nil, "filter output based on conditions provided (name, id, status, label, ancestor, exited, network, volume)")
	cmd.Flags().IntVarP(&o.last, "last", "n", -1, "show n last created containers (includes all states)")
	cmd.Flags().BoolVarP(&o.latest, "latest", "l", false, "show the latest created container (includes all states)")
	cmd.Flags().StringVar(&o.format, "format", "table", `format: "table", "table TEMPLATE", "json" or a Go template`)
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	cmd.Flags().BoolVarP(&o.size, "size", "s", false, "display total file sizes")
	return cmd
}

func runContainerLs(ctx context.Context, g *globalOptions, o containerLsOptions) error {
	filter, err := parseContainerFilter(o.filters)
	if err != nil {
		return err
	}
	if o.latest {
		o.last = 1
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	ctrs, err := a.engine.List(ctx, nil)
	if err != nil {
		return err
	}
	if o.last >= 0 {
		// The newest first, as docker lists them, every state.
		slices.SortStableFunc(ctrs, func(x, y *engine.Container) int { return y.Created.Compare(x.Created) })
		ctrs = ctrs[:min(o.last, len(ctrs))]
		o.all = true
	}
	now := time.Now()
	// As docker: a format that shows .Size asks for the sizes too.
	withSize := o.size || strings.Contains(o.format, ".Size")
	var rows []containerRow
	for _, c := range ctrs {
		if !o.all && !filter.All() && c.State.Status != engine.StatusRunning && c.State.Status != engine.StatusPaused && c.State.Status != engine.StatusRestarting {
			continue // docker ps lists what has a run: running, paused, restarting
		}
		if !filter.Match(c) {
			continue
		}
		s := dockerapi.ContainerSummary(c, dockerapi.Objects{}, now)
		if withSize {
			if s.SizeRw, s.SizeRootFs, err = a.engine.Size(ctx, c.ID); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
		}
		rows = append(rows, containerRow{s: s, trunc: !o.noTrunc, now: now})
	}
	if o.quiet {
		for _, r := range rows {
			fmt.Fprintln(g.stdout, r.ID())
		}
		return nil
	}
	table := containerTable
	if o.size {
		table += "\t{{.Size}}"
	}
	return writeList(g.stdout, listing{format: o.format, defaultTable: table, header: containerHeader}, rows)
}

// labelFilters reads --filter label=KEY[=VALUE] values.
func labelFilters(filters []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, f := range filters {
		kv, ok := strings.CutPrefix(f, "label=")
		if !ok || kv == "" {
			return nil, fmt.Errorf("--filter %q: only label filters are supported: %w", f, errdefs.ErrInvalidArgument)
		}
		k, v, _ := strings.Cut(kv, "=")
		labels[k] = v
	}
	return labels, nil
}

// matchLabels: a filter "KEY" (empty value) matches any value of KEY.
func matchLabels(have, want map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}

type containerRmOptions struct {
	force   bool
	volumes bool // -v: the container's anonymous volumes too
}

func newContainerRmCommand(g *globalOptions) *cobra.Command {
	var o containerRmOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER...",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd.Context(), g, args, func(a *app, c *engine.Container) error {
				if err := a.engine.Remove(cmd.Context(), c.ID, o.force); err != nil || !o.volumes {
					return err
				}
				return removeAnonymousVolumes(cmd.Context(), a, c.VolumeMounts())
			})
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "force the removal of a running container")
	cmd.Flags().BoolVarP(&o.volumes, "volumes", "v", false, "remove anonymous volumes associated with the container")
	return cmd
}

// stopFlags are the flags of container stop and restart.
type stopFlags struct {
	timeout int // seconds; -1: the container's own
	signal  string
}

func (o *stopFlags) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVarP(&o.timeout, "timeout", "t", -1, "seconds to wait before killing the container")
	f.IntVar(&o.timeout, "time", -1, "seconds to wait before killing the container (DEPRECATED: --timeout)")
	_ = f.MarkHidden("time")
	f.StringVarP(&o.signal, "signal", "s", "", "signal to send to the container (default: its stop signal)")
}

// stop stops c as the flags say.
func (o stopFlags) stop(ctx context.Context, a *app, c *engine.Container) error {
	timeout := time.Duration(-1)
	if o.timeout >= 0 {
		timeout = time.Duration(o.timeout) * time.Second
	}
	return a.engine.StopSignal(ctx, c.ID, timeout, o.signal)
}

func newContainerStopCommand(g *globalOptions) *cobra.Command {
	var o stopFlags
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER...",
		Short: "Stop one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd.Context(), g, args, func(a *app, c *engine.Container) error {
				return o.stop(cmd.Context(), a, c)
			})
		},
	}
	o.bind(cmd)
	return cmd
}

// eachContainer applies fn to every container named, printing each name
// done and joining the errors, as docker does.
func eachContainer(ctx context.Context, g *globalOptions, refs []string, fn func(*app, *engine.Container) error) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range refs {
		c, err := a.engine.Get(ctx, ref)
		if err == nil {
			err = fn(a, c)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.stdout, ref)
	}
	return errors.Join(errs...)
}

func newContainerLogsCommand(g *globalOptions) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := o.engineOptions(time.Now())
			if err != nil {
				return err
			}
			a, c, err := g.container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.engine.Logs(cmd.Context(), c.ID, opt, func(l engine.LogLine) error {
				w := g.stdout
				if l.Stream == "stderr" {
					w = g.stderr
				}
				text := l.Text
				if o.details {
					text = dockerapi.LogDetails(l.Attrs) + " " + text
				}
				if o.timestamps {
					_, err := fmt.Fprintf(w, "%s %s\n", l.Time.Format(time.RFC3339Nano), text)
					return err
				}
				_, err := fmt.Fprintln(w, text)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "follow log output")
	f.StringVarP(&o.tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVar(&o.since, "since", "", "show logs since timestamp or relative (42m)")
	f.StringVar(&o.until, "until", "", "show logs before a timestamp or relative (42m)")
	f.BoolVar(&o.details, "details", false, "show the attributes the logging options add (labels, env, tag)")
	return cmd
}

// container opens the engine and finds the container named by ref.
func (g *globalOptions) container(ctx context.Context, ref string) (*app, *engine.Container, error) {
	a, err := g.open()
	if err != nil {
		return nil, nil, err
	}
	c, err := a.engine.Get(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	return a, c, nil
}
