package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/internal/eventlog"
)

type systemEventsOptions struct {
	filters      []string
	format       string
	since, until string
}

// newSystemEventsCommand is `berth system events`: docker events, for
// every container of the state root.
func newSystemEventsCommand(g *globalOptions) *cobra.Command {
	var o systemEventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the engine",
		Long: "Events prints the events of containers, networks, volumes and images as\n" +
			"berth's journal records them: with --since, first those recorded since then,\n" +
			"then those to come until --until or an interrupt.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSystemEvents(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output based on conditions provided: container, event, image, label, network, type, volume")
	f.StringVar(&o.format, "format", "", `format output using a custom template: "json" or a Go template`)
	f.StringVar(&o.since, "since", "", "show all events created since timestamp")
	f.StringVar(&o.until, "until", "", "stream events until this timestamp")
	return cmd
}

func runSystemEvents(ctx context.Context, g *globalOptions, o systemEventsOptions) error {
	now := time.Now()
	since, until, err := eventWindow(o.since, o.until, now)
	if err != nil {
		return err
	}
	filters, err := keyedFilters(o.filters, dockerapi.EventFilters...)
	if err != nil {
		return err
	}
	for _, t := range filters["type"] {
		if !slices.Contains([]string{"container", "image", "network", "volume", "daemon", "plugin", "node", "service", "secret", "config"}, t) {
			return fmt.Errorf("--filter type=%s: unknown event type: %w", t, errdefs.ErrInvalidArgument)
		}
	}
	write := func(m events.Message) error { return writeDockerEvent(g, m) }
	if o.format != "" {
		tmpl, err := parseFormat(o.format)
		if err != nil {
			return err
		}
		write = func(m events.Message) error {
			// On the struct, as docker: {{.Actor.ID}}, {{.TimeNano}}.
			if err := tmpl.Option("missingkey=error").Execute(g.stdout, m); err != nil {
				return fmt.Errorf("--format: %w: %w", err, errdefs.ErrInvalidArgument)
			}
			_, err := fmt.Fprintln(g.stdout)
			return err
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	return streamEvents(ctx, a.engine, since, until, now, func(ev eventlog.Event) error {
		m := dockerapi.EventMessage(ev)
		if !dockerapi.EventMatches(m, filters) {
			return nil
		}
		return write(m)
	})
}

// writeDockerEvent prints m as docker events does:
// "2026-01-02T15:04:05.000000000Z container start ID (image=…, name=…)".
func writeDockerEvent(g *globalOptions, m events.Message) error {
	var attrs []string
	for _, k := range slices.Sorted(maps.Keys(m.Actor.Attributes)) {
		attrs = append(attrs, k+"="+m.Actor.Attributes[k])
	}
	t := time.Unix(0, m.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00")
	_, err := fmt.Fprintf(g.stdout, "%s %s %s %s (%s)\n", t, m.Type, m.Action, m.Actor.ID, strings.Join(attrs, ", "))
	return err
}
