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

	"github.com/berth-dev/berth/engine"
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
		Long: "Events prints the containers' events as berth's journal records them: with\n" +
			"--since, first those recorded since then, then those to come until --until or\n" +
			"an interrupt.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSystemEvents(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output based on conditions provided: container, event, image, label, type")
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
	filters, err := keyedFilters(o.filters, "container", "event", "image", "label", "type")
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
	return streamEvents(ctx, a.engine, since, until, now, func(map[string]string) bool { return true },
		func(ev engine.Event) error {
			m := dockerEvent(ev)
			if !dockerEventMatches(m, filters) {
				return nil
			}
			return write(m)
		})
}

// dockerEvent is a container event as docker events shows it: the
// container's labels, image and name as the actor's attributes.
func dockerEvent(ev engine.Event) events.Message {
	attrs := maps.Clone(ev.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["image"], attrs["name"] = ev.Image, ev.Name
	maps.Copy(attrs, ev.Attributes)
	return events.Message{Type: events.ContainerEventType, Action: events.Action(ev.Action),
		Actor: events.Actor{ID: string(ev.ID), Attributes: attrs}, Scope: "local",
		Time: ev.Time.Unix(), TimeNano: ev.Time.UnixNano()}
}

// dockerEventMatches applies docker's event filters: values of one key
// are alternatives, keys must all match.
func dockerEventMatches(m events.Message, f map[string][]string) bool {
	for key, vals := range f {
		ok := false
		for _, v := range vals {
			switch key {
			case "type":
				ok = ok || v == string(m.Type)
			case "event":
				ok = ok || v == string(m.Action) || strings.HasPrefix(string(m.Action), v+":")
			case "image":
				ok = ok || v == m.Actor.Attributes["image"]
			case "container":
				ok = ok || v == m.Actor.Attributes["name"] || v == m.Actor.ID || (len(v) >= 12 && strings.HasPrefix(m.Actor.ID, v))
			case "label":
				k, want, hasValue := strings.Cut(v, "=")
				got, has := m.Actor.Attributes[k]
				ok = ok || (has && (!hasValue || got == want))
			}
		}
		if !ok {
			return false
		}
	}
	return true
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
