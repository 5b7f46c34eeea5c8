package engine

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/eventlog"
)

// The event journal (<root>/events.jsonl, written through internal/eventlog
// by every berth process and the shims: see Journal) read back for
// `events --since` and followed by `events`. This file reads only; the
// container events are its lines of type container (or none).
const (
	journalFile    = eventlog.File
	journalVersion = eventlog.Version
)

// Event is one container event of the journal.
type Event struct {
	Version    int               `json:"version"`
	Time       time.Time         `json:"time"`
	Type       string            `json:"type,omitempty"` // container when empty; other types are skipped
	Action     string            `json:"action"`         // create, start, stop, kill, die, pause, unpause, rename, update, destroy
	ID         ContainerID       `json:"id"`
	Name       string            `json:"name"`
	Image      string            `json:"image"`
	Labels     map[string]string `json:"labels,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"` // exitCode of die, signal of kill, oldName of rename
}

func (e *Engine) journalPath() string { return filepath.Join(e.opt.Root, journalFile) }

// Events returns the container events from since to until (zero: no
// bound), oldest first, each named as in FollowEvents.
func (e *Engine) Events(ctx context.Context, since, until time.Time) ([]Event, error) {
	var out []Event
	n := e.NewEventNamer()
	err := e.events.Read(func(le eventlog.Event) error {
		ev, ok, err := n.containerEvent(le)
		if err != nil || !ok {
			return err
		}
		if (since.IsZero() || !ev.Time.Before(since)) && (until.IsZero() || !ev.Time.After(until)) {
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FollowEvents calls fn with the container events recorded from since on
// (zero: those recorded from now on), oldest first, as they are recorded,
// until ctx ends (its error is returned) or fn fails (fn's error). ready,
// if not nil, is closed once every event recorded after that point will
// be seen. The journal is read at fn's pace (eventlog's Follow). An event
// the shim recorded (die, a restart's start, health) carries only the
// container's ID: its name, image and labels are those of the
// container's last event before it, else of its record.
func (e *Engine) FollowEvents(ctx context.Context, since time.Time, ready chan<- struct{}, fn func(Event) error) error {
	n := e.NewEventNamer()
	return e.events.Follow(ctx, eventlog.FollowOptions{Ready: ready, FromStart: !since.IsZero()}, func(le eventlog.Event) error {
		ev, ok, err := n.containerEvent(le)
		if err != nil || !ok || ev.Time.Before(since) {
			return err
		}
		return fn(ev)
	})
}

// EventNamer names the container events of the journal as their
// containers were then: an event the shim recorded (die, a restart's
// start, health) carries only the container's ID, and gets the name,
// image and labels of the container's last event before it, else of its
// record. Not safe for concurrent use.
type EventNamer struct {
	e *Engine
	// known are the names, images and labels of the containers seen, by
	// ID: from their events, else their records.
	known map[string]eventlog.Event
}

// knownMax bounds the containers an EventNamer remembers.
const knownMax = 4096

// NewEventNamer returns a namer that has seen no event yet.
func (e *Engine) NewEventNamer() *EventNamer {
	return &EventNamer{e: e, known: map[string]eventlog.Event{}}
}

// Name fills in le's name, image and labels if it is a container event
// that names none; it is to be called with every event, in order.
func (n *EventNamer) Name(le *eventlog.Event) {
	if le.Type != "" && le.Type != "container" {
		return
	}
	if len(n.known) >= knownMax {
		clear(n.known)
	}
	if le.Name != "" {
		n.known[le.ID] = eventlog.Event{Name: le.Name, Image: le.Image, Labels: le.Labels}
	} else {
		k, ok := n.known[le.ID]
		if !ok {
			if _, rec, err := n.e.lookup(le.ID); err == nil && rec != nil {
				k = eventlog.Event{Name: rec.Config.Name, Image: rec.Config.Image, Labels: rec.Config.Labels}
				n.known[le.ID] = k
			}
		}
		le.Name, le.Image, le.Labels = k.Name, k.Image, maps.Clone(k.Labels)
	}
	if le.Action == "destroy" {
		delete(n.known, le.ID)
	}
}

// containerEvent is le, named by n, as a container event; false for
// another type's.
func (n *EventNamer) containerEvent(le eventlog.Event) (Event, bool, error) {
	if le.Version != journalVersion {
		return Event{}, false, fmt.Errorf("event journal: version %d: not known to this berth", le.Version)
	}
	n.Name(&le)
	ev := fromJournal(le)
	return ev, ev.isContainer(), nil
}

// isContainer tells an event of a container (the journal also has
// networks', volumes' and images').
func (ev Event) isContainer() bool { return ev.Type == "" || ev.Type == "container" }

// fromJournal is a journal line as the engine's Event.
func fromJournal(le eventlog.Event) Event {
	return Event{Version: le.Version, Time: le.Time, Type: le.Type, Action: le.Action, ID: ContainerID(le.ID),
		Name: le.Name, Image: le.Image, Labels: le.Labels, Attributes: le.Attributes}
}
