package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// eventPoll is how often `events` looks at the containers: berth has no
// daemon to push events, so they are observed changes of state.
const eventPoll = 200 * time.Millisecond

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
	return streamEvents(ctx, a.engine, since, until, now, map[string]string{spec.LabelProject: name}, keep,
		func(ev engine.Event) error { return emit(journalEvent(ev)) })
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

// streamEvents hands emit the container events from since (zero: from
// now) to until (zero: until ctx ends) whose labels keep accepts: first
// the engine's record of the past, then, as they come, the operations the
// engine records (create, start, stop, kill, pause, unpause, rename,
// update, destroy, by whichever berth process; die, a restart's start and
// health by the shims), and the removals of --rm containers, which only
// polling the containers that carry labels tells. berth has no daemon to
// push events.
func streamEvents(ctx context.Context, eng *engine.Engine, since, until, now time.Time, labels map[string]string,
	keep func(map[string]string) bool, emit func(engine.Event) error) error {
	cur, err := eng.FollowEvents()
	if err != nil {
		return err
	}
	if !since.IsZero() {
		to := now
		if !until.IsZero() && until.Before(now) {
			to = until
		}
		past, err := eng.Events(ctx, since, to)
		if err != nil {
			return err
		}
		for _, ev := range past {
			if !keep(ev.Labels) {
				continue
			}
			if err := emit(ev); err != nil {
				return err
			}
		}
	}
	if !until.IsZero() && !until.After(now) {
		return nil
	}
	var deadline <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(until.Sub(now))
		defer t.Stop()
		deadline = t.C
	}
	seen := map[engine.ContainerID]*engine.Container{}
	destroyed := map[engine.ContainerID]bool{}     // by a recorded destroy
	known := map[engine.ContainerID]engine.Event{} // names, images and labels by ID
	for {
		var batch []engine.Event
		recorded, err := cur.Next()
		if err != nil {
			return err
		}
		ctrs, err := eng.List(ctx, labels)
		if err != nil {
			return err
		}
		for _, c := range ctrs {
			if _, ok := known[c.ID]; !ok { // its events name it as it was then
				known[c.ID] = engine.Event{Name: c.Config.Name, Image: c.Config.Image, Labels: c.Config.Labels}
			}
		}
		for _, ev := range recorded {
			if ev.Action == "destroy" {
				destroyed[ev.ID] = true
			}
			if ev.Name != "" {
				known[ev.ID] = ev
			} else if k, ok := known[ev.ID]; ok { // the shim's: die, a restart's start, health
				ev.Name, ev.Image, ev.Labels = k.Name, k.Image, k.Labels
			}
			if keep(ev.Labels) {
				batch = append(batch, ev)
			}
		}
		now := time.Now()
		current := map[engine.ContainerID]bool{}
		for _, c := range ctrs {
			if !keep(c.Config.Labels) {
				continue
			}
			current[c.ID] = true
			seen[c.ID] = c
		}
		for id, c := range seen {
			if !current[id] {
				delete(seen, id)
				if !destroyed[id] { // removed by its shim (--rm): no record
					batch = append(batch, observedEvent(now, "destroy", c))
				}
			}
		}
		slices.SortStableFunc(batch, func(a, b engine.Event) int { return a.Time.Compare(b.Time) })
		for _, ev := range batch {
			if err := emit(ev); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			return nil
		case <-time.After(eventPoll):
		}
	}
}

// observedEvent is a change of c's state seen at t; an exit is dated by
// the container's own record of it.
func observedEvent(t time.Time, action string, c *engine.Container) engine.Event {
	ev := engine.Event{Time: t, Action: action, ID: c.ID, Name: c.Config.Name, Image: c.Config.Image, Labels: c.Config.Labels}
	if action == "die" {
		ev.Attributes = map[string]string{"exitCode": fmt.Sprint(c.State.ExitCode)}
		if f := c.State.FinishedAt; !f.IsZero() && !f.After(t) {
			ev.Time = f
		}
	}
	return ev
}

// journalEvent is an event of the engine's journal as `events` prints it.
func journalEvent(ev engine.Event) containerEvent {
	attrs := map[string]string{"name": ev.Name, "image": ev.Image}
	maps.Copy(attrs, ev.Attributes)
	return containerEvent{Time: ev.Time.Local(), Type: "container", Action: ev.Action, ID: string(ev.ID),
		Service: ev.Labels[spec.LabelService], Attributes: attrs}
}
