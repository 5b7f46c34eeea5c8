package dockerapi

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
)

func TestEventMatches(t *testing.T) {
	m := events.Message{Type: events.ContainerEventType, Action: "health_status: healthy",
		Actor: events.Actor{ID: "0123456789abcdef0123", Attributes: map[string]string{"name": "web", "com.example": "x"}}}
	tests := []struct {
		name    string
		filters map[string][]string
		want    bool
	}{
		{"none", nil, true},
		{"type", map[string][]string{"type": {"container"}}, true},
		{"other type", map[string][]string{"type": {"network", "volume"}}, false},
		{"event prefix", map[string][]string{"event": {"health_status"}}, true},
		{"other event", map[string][]string{"event": {"die"}}, false},
		{"label", map[string][]string{"label": {"com.example=x"}}, true},
		{"label value differs", map[string][]string{"label": {"com.example=y"}}, false},
		{"container by name", map[string][]string{"container": {"web"}}, true},
		{"container by short ID", map[string][]string{"container": {"0123456789ab"}}, true},
		{"container by too short a prefix", map[string][]string{"container": {"0123"}}, false},
		{"network filter on a container", map[string][]string{"network": {"web"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := eventMatches(m, tc.filters); got != tc.want {
				t.Fatalf("eventMatches(%v) = %v, want %v", tc.filters, got, tc.want)
			}
		})
	}
}

func TestEventHubReplaysSinceAndHandsOn(t *testing.T) {
	var h eventHub
	base := time.Unix(1000, 0)
	for i := range eventsKept + 10 {
		h.publish(events.Message{Action: "start", TimeNano: base.Add(time.Duration(i) * time.Second).UnixNano()})
	}
	past, ch, cancel := h.subscribe(base.Add(time.Duration(eventsKept+5) * time.Second))
	defer cancel()
	if len(past) != 5 {
		t.Fatalf("replayed %d events since the %dth, want 5", len(past), eventsKept+5)
	}
	all, _, cancelAll := h.subscribe(base)
	cancelAll()
	if len(all) != eventsKept {
		t.Fatalf("kept %d events, want the last %d", len(all), eventsKept)
	}
	h.publish(events.Message{Action: "die"})
	select {
	case m := <-ch:
		if m.Action != "die" {
			t.Fatalf("got %q, want die", m.Action)
		}
	default:
		t.Fatal("the subscriber was not handed the new event")
	}
}
