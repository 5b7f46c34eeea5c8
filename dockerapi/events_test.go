package dockerapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/eventlog"
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

// newEventsServer serves the API over an engine in a temporary root (no
// image: the test makes volumes and appends container events itself), and
// closes it when the test ends.
func newEventsServer(t *testing.T) (*httptest.Server, *engine.Engine) {
	t.Helper()
	root := t.TempDir()
	images, err := image.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Root: root, RunDir: root + "/run", Exe: "/bin/true"}, images, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := New(t.Context(), Options{Engine: eng, Version: "test", Root: root})
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		api.Close()
	})
	return srv, eng
}

// eventStream is GET path's body as a stream of messages; it ends with
// the test.
func eventStream(t *testing.T, srv *httptest.Server, path string) <-chan events.Message {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	ch := make(chan events.Message, 100)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		dec := json.NewDecoder(resp.Body)
		for {
			var m events.Message
			if dec.Decode(&m) != nil {
				return
			}
			ch <- m
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan events.Message) events.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no event in 10s")
	}
	panic("unreachable")
}

// Events recorded by other processes (another engine on the same root, a
// shim's bare die) reach a live stream, with Docker's fields and the
// container's attributes; since/until replays them from the journal and
// ends; filters apply to both.
func TestEventsFromTheJournal(t *testing.T) {
	srv, eng := newEventsServer(t)
	before := time.Now()
	live := eventStream(t, srv, "/v1.51/events?filters="+url.QueryEscape(`{"type":["container","volume"]}`))

	// What a CLI process does: its own journal handle on the same root.
	other := eventlog.Open(eng.Journal().Dir())
	id := strings.Repeat("ab", 32)
	cfg := engine.ContainerConfig{Name: "web", Image: "busybox:latest", Labels: map[string]string{"com.example": "x"}}
	if err := other.Append(t.Context(), engine.ContainerEvent("create", engine.ContainerID(id), cfg)); err != nil {
		t.Fatal(err)
	}
	// What a shim appends when the container exits: no name, image or labels.
	if err := other.Append(t.Context(), eventlog.Event{Type: "container", Action: "die", ID: id, Attributes: map[string]string{"exitCode": "3"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Volumes().Create(t.Context(), "data", map[string]string{"com.example": "y"}); err != nil {
		t.Fatal(err)
	}
	if err := other.Append(t.Context(), eventlog.Event{Type: "network", Action: "create", ID: "n1", Name: "net"}); err != nil {
		t.Fatal(err)
	}

	check := func(m events.Message, typ events.Type, action events.Action, actor string, attrs map[string]string) {
		t.Helper()
		if m.Type != typ || m.Action != action || m.Actor.ID != actor || m.Scope != "local" {
			t.Fatalf("event %+v, want %s %s of %s", m, typ, action, actor)
		}
		for k, v := range attrs {
			if m.Actor.Attributes[k] != v {
				t.Fatalf("%s %s: attribute %s=%q, want %q (%v)", typ, action, k, m.Actor.Attributes[k], v, m.Actor.Attributes)
			}
		}
		if m.TimeNano < before.UnixNano() || m.Time != m.TimeNano/1e9 {
			t.Fatalf("%s %s: time %d, timeNano %d", typ, action, m.Time, m.TimeNano)
		}
	}
	ctr := map[string]string{"name": "web", "image": "busybox:latest", "com.example": "x"}
	check(next(t, live), "container", "create", id, ctr)
	check(next(t, live), "container", "die", id, map[string]string{"name": "web", "image": "busybox:latest", "com.example": "x", "exitCode": "3"})
	check(next(t, live), "volume", "create", "data", map[string]string{"driver": "local"})

	since := strconv.FormatFloat(float64(before.UnixNano())/1e9-0.001, 'f', 6, 64)
	until := strconv.FormatFloat(float64(time.Now().UnixNano())/1e9+0.001, 'f', 6, 64)
	for _, tc := range []struct {
		filters string
		want    []string
	}{
		{"", []string{"create " + id, "die " + id, "create data", "create n1"}},
		{`{"event":["die"]}`, []string{"die " + id}},
		{`{"label":["com.example=x"]}`, []string{"create " + id, "die " + id}},
		{`{"container":["web"]}`, []string{"create " + id, "die " + id}},
		{`{"type":["volume","network"]}`, []string{"create data", "create n1"}},
	} {
		var got []string
		for m := range eventStream(t, srv, "/v1.51/events?since="+since+"&until="+until+"&filters="+url.QueryEscape(tc.filters)) {
			got = append(got, string(m.Action)+" "+m.Actor.ID)
			if m.Action == "die" {
				check(m, "container", "die", id, map[string]string{"name": "web", "exitCode": "3"})
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("replay with filters %s: %q, want %q", tc.filters, got, tc.want)
		}
	}

	// since, no until: the replay, then what comes, nothing twice.
	both := eventStream(t, srv, "/v1.51/events?since="+since+"&filters="+url.QueryEscape(`{"type":["volume"]}`))
	check(next(t, both), "volume", "create", "data", nil)
	if err := eng.Volumes().Remove(t.Context(), "data"); err != nil {
		t.Fatal(err)
	}
	check(next(t, both), "volume", "destroy", "data", map[string]string{"driver": "local"})
	check(next(t, live), "volume", "destroy", "data", nil)
}

// A stream with until in the future hands on what comes until then, and
// ends.
func TestEventsUntilEndsTheStream(t *testing.T) {
	srv, eng := newEventsServer(t)
	until := time.Now().Add(time.Second)
	ch := eventStream(t, srv, "/v1.51/events?until="+strconv.FormatFloat(float64(until.UnixNano())/1e9, 'f', 9, 64))
	if _, err := eng.Volumes().Create(t.Context(), "v", nil); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ch); m.Type != "volume" || m.Action != "create" {
		t.Fatalf("event %+v, want volume create", m)
	}
	select {
	case m, ok := <-ch:
		if ok {
			t.Fatalf("an event after the last: %+v", m)
		}
		if time.Now().Before(until) {
			t.Fatal("the stream ended before until")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end at until")
	}
}
