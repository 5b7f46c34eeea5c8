package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/internal/eventlog"
)

// system events' --filter values reach Docker's filter (dockerapi's), and
// a line is printed as docker events prints it.
func TestDockerEventFilters(t *testing.T) {
	m := dockerapi.EventMessage(eventlog.Event{Time: time.Unix(1767268800, 5), Action: "health_status: healthy", ID: "0123456789abcdef0123",
		Name: "web", Image: "busybox", Labels: map[string]string{"tier": "front"}})
	for _, tc := range []struct {
		name    string
		filters []string
		want    bool
	}{
		{"none", nil, true},
		{"by name", []string{"container=web"}, true},
		{"by short ID", []string{"container=0123456789ab"}, true},
		{"by another name", []string{"container=db"}, false},
		{"event prefix", []string{"event=health_status"}, true},
		{"other event", []string{"event=start", "event=die"}, false},
		{"one of two events", []string{"event=start", "event=health_status"}, true},
		{"label key", []string{"label=tier"}, true},
		{"label value", []string{"label=tier=back"}, false},
		{"image and type", []string{"image=busybox", "type=container"}, true},
		{"type", []string{"type=network"}, false},
		{"volume", []string{"volume=data"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := keyedFilters(tc.filters, dockerapi.EventFilters...)
			if err != nil {
				t.Fatal(err)
			}
			if got := dockerapi.EventMatches(m, f); got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := keyedFilters([]string{"colour=red"}, dockerapi.EventFilters...); err == nil {
		t.Error("an unknown filter key is taken")
	}
	var out bytes.Buffer
	if err := writeDockerEvent(&globalOptions{stdout: &out}, m); err != nil {
		t.Fatal(err)
	}
	if want := " container health_status: healthy 0123456789abcdef0123 (image=busybox, name=web, tier=front)\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("line %q, want it to end with %q", out.String(), want)
	}
}
