package dockerapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/eventlog"
)

func TestEventMatches(t *testing.T) {
	m := events.Message{Type: events.ContainerEventType, Action: "health_status: healthy",
		Actor: events.Actor{ID: "0123456789abcdef0123", Attributes: map[string]string{"name": "web", "image": "busybox:latest", "com.example": "x"}}}
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
		{"container by any prefix, as Docker", map[string][]string{"container": {"0123"}}, true},
		{"container by another name", map[string][]string{"container": {"db"}}, false},
		{"network filter naming the container, as Docker", map[string][]string{"network": {"web"}}, true},
		{"network filter naming another", map[string][]string{"network": {"net1"}}, false},
		{"image of a container", map[string][]string{"image": {"busybox"}}, true},
		{"image of a container by its tagged name", map[string][]string{"image": {"busybox:latest"}}, true},
		{"another image", map[string][]string{"image": {"alpine"}}, false},
		{"labels: all of them", map[string][]string{"label": {"com.example=x", "com.other"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EventMatches(m, tc.filters); got != tc.want {
				t.Fatalf("EventMatches(%v) = %v, want %v", tc.filters, got, tc.want)
			}
		})
	}
	// An image's event: by its name, without the tag.
	img := events.Message{Type: events.ImageEventType, Action: "tag",
		Actor: events.Actor{ID: "sha256:abc", Attributes: map[string]string{"name": "docker.io/library/busybox:1"}}}
	if !EventMatches(img, map[string][]string{"image": {"busybox"}}) || EventMatches(img, map[string][]string{"image": {"alpine"}}) {
		t.Error("image=busybox on a tag event of busybox:1: want a match, and none for image=alpine")
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

// slowClient sends GET path to srv on a connection with a small receive
// buffer and reads nothing until the caller reads the returned reader.
func slowClient(t *testing.T, srv *httptest.Server, path string) *bufio.Reader {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	conn, err := d.DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: berth\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", path, resp, err)
	}
	return bufio.NewReader(httputil.NewChunkedReader(br))
}

// slowVolumeEvents opens a slow client's stream of volume events, then
// appends n volume events of about 1 KiB each (v0, v1, …), as another
// process would, while it reads nothing; it returns the stream to read.
func slowVolumeEvents(t *testing.T, n int) *json.Decoder {
	t.Helper()
	srv, eng := newEventsServer(t)
	br := slowClient(t, srv, "/v1.51/events?filters="+url.QueryEscape(`{"type":["volume"]}`))
	l := eventlog.Open(eng.Journal().Dir())
	pad := strings.Repeat("x", 1000)
	for i := range n {
		if err := l.Append(t.Context(), eventlog.Event{Type: "volume", Action: "create", ID: "v" + strconv.Itoa(i),
			Attributes: map[string]string{"driver": "local", "pad": pad}}); err != nil {
			t.Fatal(err)
		}
	}
	return json.NewDecoder(br)
}

// A client that reads nothing while events worth several journal files
// are appended loses none: its follower waits on it, lagging behind in
// the journal (rotated files held open for it), and hands on every event
// in order once it reads; nothing is queued for it meanwhile.
func TestEventsSlowClientLosesNothing(t *testing.T) {
	const n = 12000 // about 13 MiB: three rotations
	dec := slowVolumeEvents(t, n)
	for i := range n {
		var m events.Message
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("event %d of %d: %v", i, n, err)
		}
		if m.Actor.ID != "v"+strconv.Itoa(i) {
			t.Fatalf("event %d is %s: one was lost", i, m.Actor.ID)
		}
	}
}

// A client so slow that the journal's rotation passed what it had not
// read gets, after all that was still held for it, Docker's error message
// as the stream's last line.
func TestEventsClientRotatedPast(t *testing.T) {
	const n = 36000 // about 37 MiB: nine rotations
	dec := slowVolumeEvents(t, n)
	for i := 0; ; i++ {
		var m struct {
			events.Message
			Error string `json:"message"`
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("after %d events: %v, want the error message", i, err)
		}
		if m.Error != "" {
			if !strings.Contains(m.Error, "rotated past") || i == 0 || i >= n {
				t.Fatalf("after %d events of %d: message %q", i, n, m.Error)
			}
			t.Logf("the stream ended after %d events of %d: %s", i, n, m.Error)
			break
		}
		if m.Actor.ID != "v"+strconv.Itoa(i) {
			t.Fatalf("event %d is %s: a gap before the end", i, m.Actor.ID)
		}
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		t.Fatalf("after the error message: %s, %v; want the end", extra, err)
	}
}
