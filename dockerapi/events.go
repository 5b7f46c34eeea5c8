package dockerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/eventlog"
)

// eventHub hands the events of the state root's journal (what every berth
// process did: this server, the CLI, the shims) to the clients of
// `GET /events` as the server's follower reads them. Safe for concurrent
// use.
type eventHub struct {
	mu   sync.Mutex // guards subs
	subs map[chan events.Message]struct{}
}

// publish hands m to every subscriber; a subscriber too slow to take it
// misses it rather than holding the others up.
func (h *eventHub) publish(m events.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// subscribe returns a channel of the events to come, until cancel is
// called.
func (h *eventHub) subscribe() (ch chan events.Message, cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch = make(chan events.Message, 256)
	if h.subs == nil {
		h.subs = map[chan events.Message]struct{}{}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, ch)
	}
}

// follow feeds the hub from the journal until the server closes; ready is
// closed once it follows. A journal that cannot be followed is logged, and
// tried again.
func (s *Server) follow(ready chan struct{}) {
	defer s.wg.Done()
	en := newEnricher(s.eng)
	for {
		err := s.eng.Journal().Follow(s.ctx, ready, func(ev eventlog.Event) { s.events.publish(en.message(s.ctx, ev)) })
		ready = nil
		if s.ctx.Err() != nil {
			return
		}
		s.log.Warn("following the event journal", "err", err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// enricher turns journal events into Docker's messages, giving a
// container event that names no container (a shim's die or start) the
// container's name, image and labels: from the events before it, else
// from the container's record.
type enricher struct {
	eng *engine.Engine
	// known are the containers seen, by ID.
	known map[string]engine.ContainerConfig
}

func newEnricher(eng *engine.Engine) *enricher {
	return &enricher{eng: eng, known: map[string]engine.ContainerConfig{}}
}

// knownMax bounds the containers an enricher remembers.
const knownMax = 4096

func (en *enricher) message(ctx context.Context, ev eventlog.Event) events.Message {
	if ev.Type == "" {
		ev.Type = string(events.ContainerEventType)
	}
	if ev.Type == string(events.ContainerEventType) {
		if ev.Name != "" {
			if len(en.known) >= knownMax {
				clear(en.known)
			}
			en.known[ev.ID] = engine.ContainerConfig{Name: ev.Name, Image: ev.Image, Labels: ev.Labels}
		} else {
			c, ok := en.known[ev.ID]
			if !ok && en.eng != nil {
				if ctr, err := en.eng.Get(ctx, ev.ID); err == nil {
					c = ctr.Config
					en.known[ev.ID] = engine.ContainerConfig{Name: c.Name, Image: c.Image, Labels: c.Labels}
				}
			}
			ev.Name, ev.Image, ev.Labels = c.Name, c.Image, c.Labels
		}
		if ev.Action == string(events.ActionDestroy) {
			delete(en.known, ev.ID)
		}
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

// eventMatches tells whether m passes Docker's event filters: type, event,
// label, container, image, network, volume.
func eventMatches(m events.Message, f map[string][]string) bool {
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
		case "container", "image", "network", "volume":
			ok = string(m.Type) == key && slices.ContainsFunc(vals, func(v string) bool {
				return v == m.Actor.Attributes["name"] || (len(v) >= 12 && strings.HasPrefix(m.Actor.ID, v)) || v == m.Actor.ID
			})
		}
		if !ok {
			return false
		}
	}
	return true
}

// eventFilters are the filter keys `GET /events` knows.
var eventFilters = []string{"type", "event", "label", "container", "image", "network", "volume"}

// systemEvents is `GET /events?since=&until=&filters=`: the events of the
// state root's journal, whichever berth process recorded them (this
// server, the CLI, a shim), as JSON lines: with since, those recorded from
// then on first; then those to come, until the client goes away or until
// passes.
func (s *Server) systemEvents(w http.ResponseWriter, r *http.Request) error {
	f, err := listFilters(r)
	if err != nil {
		return err
	}
	for k := range f {
		if !slices.Contains(eventFilters, k) {
			return fmt.Errorf("filter %q: not supported by berth (want one of %s): %w", k, strings.Join(eventFilters, ", "), errdefs.ErrInvalidArgument)
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
	ctx := r.Context()
	if !until.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, until)
		defer cancel()
	}
	// Live events are taken from before the replay on, and those the
	// replay already sent (not newer than its last) are skipped.
	ch, cancel := s.events.subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	enc := json.NewEncoder(w)
	var last int64
	send := func(m events.Message) bool {
		if m.TimeNano <= last || !eventMatches(m, f) || (!until.IsZero() && m.TimeNano > until.UnixNano()) {
			return true
		}
		if enc.Encode(m) != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	if !since.IsZero() && s.eng != nil {
		past, err := s.replay(ctx, since, until)
		if err != nil {
			s.log.Warn("replaying the event journal", "err", err)
		}
		for _, m := range past {
			if !send(m) {
				return nil
			}
			last = max(last, m.TimeNano)
		}
	}
	if !until.IsZero() && !until.After(time.Now()) {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case m := <-ch:
			if !send(m) {
				return nil
			}
		}
	}
}

// replay returns the journal's events from since to until (zero: no end),
// oldest first.
func (s *Server) replay(ctx context.Context, since, until time.Time) ([]events.Message, error) {
	en := newEnricher(s.eng)
	var out []events.Message
	err := s.eng.Journal().Read(func(ev eventlog.Event) error {
		m := en.message(ctx, ev) // every event: the attributes of later ones
		if !ev.Time.Before(since) && (until.IsZero() || !ev.Time.After(until)) {
			out = append(out, m)
		}
		return nil
	})
	return out, err
}
