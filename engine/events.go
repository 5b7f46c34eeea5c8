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
// `events --since` and followed by `events`, its container events named.
// This file reads only.
const (
	journalFile    = eventlog.File
	journalVersion = eventlog.Version
)

func (e *Engine) journalPath() string { return filepath.Join(e.opt.Root, journalFile) }

// Events calls fn with the journal's events from since to until (zero:
// no bound), every type, oldest first, container events named
// (EventNamer).
func (e *Engine) Events(since, until time.Time, fn func(eventlog.Event) error) error {
	n := e.NewEventNamer()
	return e.events.Read(func(le eventlog.Event) error {
		if err := n.named(&le); err != nil {
			return err
		}
		if (since.IsZero() || !le.Time.Before(since)) && (until.IsZero() || !le.Time.After(until)) {
			return fn(le)
		}
		return nil
	})
}

// FollowEvents calls fn with the journal's events recorded from since on
// (zero: those recorded from now on), every type, oldest first, as they
// are recorded, container events named (EventNamer), until ctx ends (its
// error is returned) or fn fails (fn's error). ready, if not nil, is
// closed once every event recorded after that point will be seen. The
// journal is read at fn's pace (eventlog's Follow).
func (e *Engine) FollowEvents(ctx context.Context, since time.Time, ready chan<- struct{}, fn func(eventlog.Event) error) error {
	n := e.NewEventNamer()
	return e.events.Follow(ctx, eventlog.FollowOptions{Ready: ready, FromStart: !since.IsZero()}, func(le eventlog.Event) error {
		if err := n.named(&le); err != nil || le.Time.Before(since) {
			return err
		}
		return fn(le)
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

// named checks le's version and names it.
func (n *EventNamer) named(le *eventlog.Event) error {
	if le.Version != journalVersion {
		return fmt.Errorf("event journal: version %d: not known to this berth", le.Version)
	}
	n.Name(le)
	return nil
}
