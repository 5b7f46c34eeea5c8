package dockerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/engine"
)

// eventsKept is how many past events `GET /events?since=` can replay.
const eventsKept = 1024

// eventHub hands the events of the operations this server performs to the
// clients of `GET /events`. Safe for concurrent use.
type eventHub struct {
	mu sync.Mutex // guards the fields below
	// past are the latest events, oldest first.
	past []events.Message
	subs map[chan events.Message]struct{}
}

// publish records m and hands it to every subscriber; a subscriber too slow
// to take it misses it rather than holding the server up.
func (h *eventHub) publish(m events.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.past) == eventsKept {
		h.past = slices.Delete(h.past, 0, 1)
	}
	h.past = append(h.past, m)
	for ch := range h.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// subscribe returns the events recorded since since (zero: none) and a
// channel of those to come, until cancel is called.
func (h *eventHub) subscribe(since time.Time) (past []events.Message, ch chan events.Message, cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !since.IsZero() {
		for _, m := range h.past {
			if m.TimeNano >= since.UnixNano() {
				past = append(past, m)
			}
		}
	}
	ch = make(chan events.Message, 256)
	if h.subs == nil {
		h.subs = map[chan events.Message]struct{}{}
	}
	h.subs[ch] = struct{}{}
	return past, ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, ch)
	}
}

// emit publishes an event of the given type and action about object id.
func (s *Server) emit(typ events.Type, action events.Action, id string, attrs map[string]string) {
	now := time.Now()
	if attrs == nil {
		attrs = map[string]string{}
	}
	s.events.publish(events.Message{Type: typ, Action: action, Actor: events.Actor{ID: id, Attributes: attrs},
		Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano()})
}

// emitObject publishes an event about a network, volume or image, with
// its name as attribute.
func (s *Server) emitObject(typ events.Type, action events.Action, id, name string) {
	s.emit(typ, action, id, map[string]string{"name": name})
}

// emitContainer publishes a container event: its labels, image and name
// as attributes, as Docker's.
func (s *Server) emitContainer(action events.Action, c *engine.Container, extra map[string]string) {
	attrs := maps.Clone(c.Config.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["image"], attrs["name"] = c.Config.Image, c.Config.Name
	maps.Copy(attrs, extra)
	s.emit(events.ContainerEventType, action, string(c.ID), attrs)
}

// watchExit publishes die (with the exit code) when container c's current
// run ends, and destroy when its shim removes it (--rm), unless this server
// already watches it. The watch ends with the
// server (Close).
func (s *Server) watchExit(c *engine.Container) {
	s.mu.Lock()
	if s.watching[c.ID] {
		s.mu.Unlock()
		return
	}
	s.watching[c.ID] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.watching, c.ID)
			s.mu.Unlock()
		}()
		st, err := s.eng.Wait(s.ctx, c.ID)
		if err != nil {
			return // gone, or the server stops
		}
		if cur, err := s.eng.Get(s.ctx, string(c.ID)); err == nil {
			c = cur // renamed meanwhile
		}
		s.emitContainer(events.ActionDie, c, map[string]string{"exitCode": fmt.Sprint(st.ExitCode)})
		if c.Config.AutoRemove && c.Config.AutoRemoveOwner == nil {
			// Its shim removes it: destroy once it is gone.
			if s.waitGone(s.ctx, c.ID) == nil {
				s.emitContainer(events.ActionDestroy, c, nil)
			}
		}
	}()
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
			ok = labelsMatch(m.Actor.Attributes, vals)
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

// systemEvents is `GET /events?since=&until=&filters=`: the events of this
// server's operations as JSON lines, until the client goes away or until
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
	past, ch, cancel := s.events.subscribe(since)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	enc := json.NewEncoder(w)
	send := func(m events.Message) bool {
		if !eventMatches(m, f) || (!until.IsZero() && m.TimeNano > until.UnixNano()) {
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
	for _, m := range past {
		if !send(m) {
			return nil
		}
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
