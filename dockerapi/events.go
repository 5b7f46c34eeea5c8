package dockerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/eventlog"
)

// EventMessage is the journal's ev as Docker's message. A container event
// the shim recorded is to be named first (engine.EventNamer).
func EventMessage(ev eventlog.Event) events.Message {
	if ev.Type == "" {
		ev.Type = string(events.ContainerEventType)
	}
	return events.Message{Type: events.Type(ev.Type), Action: events.Action(ev.Action),
		Actor: events.Actor{ID: ev.ID, Attributes: ev.DockerAttributes()}, Scope: "local",
		Time: ev.Time.Unix(), TimeNano: ev.Time.UnixNano()}
}

// emit records an event of the given type and action about object id in
// the journal, for an operation the engine does not record itself.
func (s *Server) emit(typ events.Type, action events.Action, id string, attrs map[string]string) {
	if s.eng == nil {
		return
	}
	s.eng.Journal().Record(s.ctx, s.log, eventlog.Event{Type: string(typ), Action: string(action), ID: id,
		Name: attrs["name"], Attributes: attrs})
}

// emitObject records an event about a network, volume or image, with its
// name as attribute.
func (s *Server) emitObject(typ events.Type, action events.Action, id, name string) {
	s.emit(typ, action, id, map[string]string{"name": name})
}

// emitContainer records a container event: its labels, image and name as
// attributes, as Docker's.
func (s *Server) emitContainer(action events.Action, c *engine.Container, extra map[string]string) {
	ev := engine.ContainerEvent(string(action), c.ID, c.Config)
	ev.Attributes = extra
	if s.eng != nil {
		s.eng.Journal().Record(s.ctx, s.log, ev)
	}
}

// EventMatches tells whether m passes Docker's event filters (its
// daemon's events.Filter): every key given must match. type: the type;
// event: the action (health_status, exec_create and exec_start also as a
// prefix); label: every one, KEY or KEY=VALUE, among the attributes;
// container, network, volume: a prefix of the actor's ID or name
// attribute, whatever the event's type, as Docker's; image: the actor's
// ID or its image (a container's image attribute, an image's name), also
// without its tag.
func EventMatches(m events.Message, f map[string][]string) bool {
	for key, vals := range f {
		ok := true
		switch key {
		case "type":
			ok = slices.Contains(vals, string(m.Type))
		case "event":
			ok = slices.ContainsFunc(vals, func(v string) bool {
				return v == string(m.Action) || strings.HasPrefix(string(m.Action), v+":")
			})
		case "label":
			ok = engine.LabelsMatch(m.Actor.Attributes, vals)
		case "container", "network", "volume":
			ok = slices.ContainsFunc(vals, func(v string) bool {
				return strings.HasPrefix(m.Actor.ID, v) || strings.HasPrefix(m.Actor.Attributes["name"], v)
			})
		case "image":
			name := m.Actor.Attributes["image"]
			if m.Type == events.ImageEventType {
				name = m.Actor.Attributes["name"]
			}
			ok = slices.ContainsFunc(vals, func(v string) bool {
				return v == m.Actor.ID || v == name || v == withoutTag(m.Actor.ID) || v == withoutTag(name)
			})
		}
		if !ok {
			return false
		}
	}
	return true
}

// withoutTag is the image reference ref in its familiar form without tag
// or digest (busybox for docker.io/library/busybox:latest); ref itself if
// it is none.
func withoutTag(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarName(named)
}

// EventFilters are the filter keys EventMatches knows.
var EventFilters = []string{"type", "event", "label", "container", "image", "network", "volume"}

// systemEvents is `GET /events?since=&until=&filters=`: the events of the
// state root's journal, whichever berth process recorded them (this
// server, the CLI, a shim), as JSON lines: with since, those recorded from
// then on first; then those to come, until the client goes away, the
// server closes or until passes. Each client has a follower of its own
// that reads the journal at the client's pace (a slow client lags behind
// in the file; nothing is queued for it). One so slow that the journal's
// rotation passed what it had not read gets Docker's error message as the
// stream's last line.
func (s *Server) systemEvents(w http.ResponseWriter, r *http.Request) error {
	f, err := listFilters(r)
	if err != nil {
		return err
	}
	for k := range f {
		if !slices.Contains(EventFilters, k) {
			return fmt.Errorf("filter %q: not supported by berth (want one of %s): %w", k, strings.Join(EventFilters, ", "), errdefs.ErrInvalidArgument)
		}
	}
	since, err := parseSince(r, "since")
	if err != nil {
		return err
	}
	until, err := parseSince(r, "until")
	if err != nil {
		return err
	}
	if s.eng == nil {
		return fmt.Errorf("GET /events: no engine: %w", errdefs.ErrUnavailable)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)() // the server's Close ends the stream
	if !until.IsZero() {
		var cancelUntil context.CancelFunc
		ctx, cancelUntil = context.WithDeadline(ctx, until)
		defer cancelUntil()
	}
	past := !until.IsZero() && !until.After(time.Now())
	var follower *eventlog.Follower
	if !past {
		// In place before the answer: what is recorded once the client
		// has it reaches the client.
		if follower, err = s.eng.Journal().NewFollower(!since.IsZero()); err != nil {
			return err
		}
		defer follower.Close()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	enc := json.NewEncoder(w)
	namer := s.eng.NewEventNamer()
	errPastUntil, errGone := errors.New("until passed"), errors.New("the client went away")
	send := func(ev eventlog.Event) error {
		namer.Name(&ev) // every event: the names of later ones
		m := EventMessage(ev)
		if ev.Time.Before(since) || !EventMatches(m, f) {
			return nil
		}
		if !until.IsZero() && ev.Time.After(until) {
			return errPastUntil
		}
		if enc.Encode(m) != nil {
			return errGone
		}
		if fl != nil {
			fl.Flush()
		}
		return nil
	}
	if past {
		// All in the past: the journal as it is, and the end.
		if err := s.eng.Journal().Read(send); err != nil && !errors.Is(err, errPastUntil) {
			s.log.Warn("replaying the event journal", "err", err)
		}
		return nil
	}
	err = follower.Run(ctx, send)
	switch {
	case errors.Is(err, eventlog.ErrRotatedPast):
		// As Docker ends a stream that fails: its error as the last line.
		_ = enc.Encode(common.ErrorResponse{Message: err.Error()})
	case err != nil && ctx.Err() == nil && !errors.Is(err, errPastUntil) && !errors.Is(err, errGone):
		s.log.Warn("following the event journal", "err", err)
	}
	return nil
}
