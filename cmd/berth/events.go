package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/eventlog"
	"github.com/berth-dev/berth/spec"
)

type eventsOptions struct {
	json         bool
	since, until string
}

func newEventsCommand(g *globalOptions) *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS] [SERVICE...]",
		Short: "Receive real time events from containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "output events as a stream of json objects")
	cmd.Flags().StringVar(&o.since, "since", "", "show all events created since timestamp (2013-01-02T13:23:37Z, a Unix time, or relative: 42m)")
	cmd.Flags().StringVar(&o.until, "until", "", "stream events until this timestamp, then exit")
	return cmd
}

// containerEvent is one event, with docker compose's JSON keys.
type containerEvent struct {
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`
	Action     string            `json:"action"`
	ID         string            `json:"id"`
	Service    string            `json:"service"`
	Attributes map[string]string `json:"attributes"`
}

func runEvents(ctx context.Context, g *globalOptions, o eventsOptions, services []string) error {
	now := time.Now()
	since, until, err := eventWindow(o.since, o.until, now)
	if err != nil {
		return err
	}
	a, name, err := g.openProject(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(g.stdout)
	emit := func(ev containerEvent) error {
		if o.json {
			return enc.Encode(ev)
		}
		var attrs []string
		for _, k := range slices.Sorted(maps.Keys(ev.Attributes)) {
			attrs = append(attrs, k+"="+ev.Attributes[k])
		}
		_, err := fmt.Fprintf(g.stdout, "%s container %s %s (%s)\n", ev.Time.Format("2006-01-02 15:04:05.000000"), ev.Action, ev.ID, strings.Join(attrs, ", "))
		return err
	}
	keep := func(labels map[string]string) bool {
		return labels[spec.LabelProject] == name && (len(services) == 0 || slices.Contains(services, labels[spec.LabelService]))
	}
	return streamEvents(ctx, a.engine, since, until, now, func(ev eventlog.Event) error {
		if (ev.Type != "" && ev.Type != "container") || !keep(ev.Labels) {
			return nil
		}
		return emit(journalEvent(ev))
	})
}

// eventWindow parses --since and --until (zero: not given) at now; until
// may not come before since.
func eventWindow(sinceFlag, untilFlag string, now time.Time) (since, until time.Time, err error) {
	if since, err = parseTimeFlag("--since", sinceFlag, now); err != nil {
		return
	}
	if until, err = parseTimeFlag("--until", untilFlag, now); err != nil {
		return
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		err = fmt.Errorf("--until %q: before --since %q: %w", untilFlag, sinceFlag, errdefs.ErrInvalidArgument)
	}
	return
}

// streamEvents hands emit the journal's events (every berth process's
// operations, the shims' die, start and health; eventlog), containers'
// named, from since (zero: from now) to until (zero: until ctx ends):
// first those recorded from since on, then those to come, read at emit's
// pace.
func streamEvents(ctx context.Context, eng *engine.Engine, since, until, now time.Time, emit func(eventlog.Event) error) error {
	if !until.IsZero() && !until.After(now) {
		return eng.Events(since, until, emit)
	}
	fctx := ctx
	if !until.IsZero() {
		var cancel context.CancelFunc
		fctx, cancel = context.WithDeadline(ctx, until)
		defer cancel()
	}
	errUntil := errors.New("until passed")
	err := eng.FollowEvents(fctx, since, nil, func(ev eventlog.Event) error {
		if !until.IsZero() && ev.Time.After(until) {
			return errUntil
		}
		return emit(ev)
	})
	if errors.Is(err, errUntil) || (err != nil && fctx.Err() != nil && errors.Is(err, fctx.Err())) {
		return nil // until passed, or interrupted
	}
	return err
}

// journalEvent is a container event of the journal as `events` prints it.
func journalEvent(ev eventlog.Event) containerEvent {
	attrs := map[string]string{"name": ev.Name, "image": ev.Image}
	maps.Copy(attrs, ev.Attributes)
	return containerEvent{Time: ev.Time.Local(), Type: "container", Action: ev.Action, ID: ev.ID,
		Service: ev.Labels[spec.LabelService], Attributes: attrs}
}
