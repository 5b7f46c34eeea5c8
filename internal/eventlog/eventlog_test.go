package eventlog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func appendN(t *testing.T, l *Log, who string, n int) {
	t.Helper()
	for i := range n {
		ev := Event{Type: "container", Action: "start", ID: who, Attributes: map[string]string{"n": strconv.Itoa(i)}}
		if err := l.Append(t.Context(), ev); err != nil {
			t.Error(err)
			return
		}
	}
}

func readAll(t *testing.T, l *Log) []Event {
	t.Helper()
	var out []Event
	if err := l.Read(func(ev Event) error { out = append(out, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadOfNoJournal(t *testing.T) {
	l := Open(t.TempDir())
	if evs := readAll(t, l); len(evs) != 0 {
		t.Fatalf("a journal never written holds %d events", len(evs))
	}
}

// Concurrent appenders (each with its own lock descriptor, as processes
// have) lose no event, interleave no line, and leave the journal in time
// order with each appender's events in its own order.
func TestConcurrentAppenders(t *testing.T) {
	l := Open(t.TempDir())
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			appendN(t, l, fmt.Sprint("w", w), each)
		}()
	}
	wg.Wait()
	evs := readAll(t, l)
	if len(evs) != writers*each {
		t.Fatalf("read %d events, want %d", len(evs), writers*each)
	}
	next := map[string]int{}
	for i, ev := range evs {
		if i > 0 && ev.Time.Before(evs[i-1].Time) {
			t.Fatalf("event %d is older than the one before it", i)
		}
		if n, _ := strconv.Atoi(ev.Attributes["n"]); n != next[ev.ID] {
			t.Fatalf("%s's event %d came where %d was due", ev.ID, n, next[ev.ID])
		}
		next[ev.ID]++
	}
}

// Rotation bounds the journal: the current file and one rotated, which
// together hold the latest events in order, contiguous.
func TestRotationBoundsTheJournal(t *testing.T) {
	dir := t.TempDir()
	l := Open(dir)
	l.max = 4 << 10
	appendN(t, l, "a", 1000)
	var total int64
	for _, f := range []string{File, Rotated} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > l.max+200 { // the limit, and the line that reached it
			t.Fatalf("%s is %d bytes, over the limit of %d", f, fi.Size(), l.max)
		}
		total += fi.Size()
	}
	evs := readAll(t, l)
	if len(evs) < 10 || int64(len(evs)) > total/20 {
		t.Fatalf("%d events kept in %d bytes", len(evs), total)
	}
	last := 999
	for i := len(evs) - 1; i >= 0; i-- {
		if n, _ := strconv.Atoi(evs[i].Attributes["n"]); n != last {
			t.Fatalf("event %d from the end is %d, want %d: the kept events are not the latest, contiguous", len(evs)-1-i, n, last)
		}
		last--
	}
}

// A torn line (an appender killed mid-write) is skipped, and the lines
// after it are read.
func TestTornLineIsSkipped(t *testing.T) {
	dir := t.TempDir()
	l := Open(dir)
	appendN(t, l, "a", 1)
	f, err := os.OpenFile(filepath.Join(dir, File), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"version":1,"time":"2026-01-01T00:00:00Z","act` + "\n")
	f.Close()
	appendN(t, l, "b", 1)
	evs := readAll(t, l)
	if len(evs) != 2 || evs[0].ID != "a" || evs[1].ID != "b" {
		t.Fatalf("read %+v, want a then b", evs)
	}
}

// Follow hands on what is appended after it started, across rotations,
// once each and in order, and nothing from before.
func TestFollowAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	l := Open(dir)
	// About 1000 events a file: 2500 rotate it twice. (A follower that
	// misses two rotations in a row, 2000 events between two of its
	// wake-ups, ends with ErrRotatedPast.)
	l.max = 128 << 10
	appendN(t, l, "before", 3)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan Event, 3000)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- l.Follow(ctx, FollowOptions{Ready: ready}, func(ev Event) error { got <- ev; return nil })
	}()
	<-ready
	const n = 2500
	go appendN(t, l, "after", n)
	timeout := time.After(20 * time.Second)
	for i := range n {
		select {
		case ev := <-got:
			if ev.ID != "after" || ev.Attributes["n"] != strconv.Itoa(i) {
				t.Fatalf("event %d followed: %s %s", i, ev.ID, ev.Attributes["n"])
			}
		case err := <-done:
			t.Fatalf("Follow ended: %v", err)
		case <-timeout:
			t.Fatalf("followed %d events of %d", i, n)
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Follow returned %v at cancel, want context.Canceled", err)
	}
	select {
	case ev := <-got:
		t.Fatalf("an extra event followed: %+v", ev)
	default:
	}
}

// Follow of a journal that does not exist yet sees its first events.
func TestFollowOfANewJournal(t *testing.T) {
	l := Open(t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan Event, 10)
	ready := make(chan struct{})
	go func() { _ = l.Follow(ctx, FollowOptions{Ready: ready}, func(ev Event) error { got <- ev; return nil }) }()
	<-ready
	appendN(t, l, "first", 1)
	select {
	case ev := <-got:
		if ev.ID != "first" {
			t.Fatalf("followed %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first event of a new journal was not followed")
	}
}

// rotate appends events of who numbered from *n on until the journal
// has been rotated once more, and calls between (if not nil) after each
// append.
func rotate(t *testing.T, l *Log, who string, n *int) {
	t.Helper()
	var before syscall.Stat_t
	if err := syscall.Stat(filepath.Join(l.dir, File), &before); err != nil {
		t.Fatal(err)
	}
	for {
		if err := l.Append(t.Context(), Event{Type: "container", Action: "start", ID: who, Attributes: map[string]string{"n": strconv.Itoa(*n)}}); err != nil {
			t.Fatal(err)
		}
		*n++
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(l.dir, File), &st); err != nil {
			t.Fatal(err)
		}
		if st.Ino != before.Ino {
			return
		}
	}
}

// slowFollow runs a follower of l whose reader blocks on its first event
// until release is closed; the events it hands on arrive on got, and
// Follow's end on done.
func slowFollow(t *testing.T, l *Log, release <-chan struct{}) (fl *Follower, got <-chan Event, done <-chan error) {
	t.Helper()
	fl, err := l.NewFollower(false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	evs := make(chan Event, 1<<16)
	end := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer fl.Close()
		end <- fl.Run(ctx, func(ev Event) error {
			<-release
			evs <- ev
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return fl, evs, end
}

// A reader that does not read while the journal is rotated (up to
// maxHeld times) loses nothing: the files it has not read are held open
// for it, and it reads them in order once it reads again.
func TestSlowFollowerLosesNothing(t *testing.T) {
	l := Open(t.TempDir())
	l.max = 4 << 10
	release := make(chan struct{})
	fl, got, done := slowFollow(t, l, release)
	n := 0
	for i := range maxHeld {
		rotate(t, l, "slow", &n)
		// The follower holds each file before the next rotation: its
		// watcher runs while its reader blocks.
		deadline := time.Now().Add(10 * time.Second)
		for fl.held() != i+2 {
			if time.Now().After(deadline) {
				t.Fatalf("the follower holds %d files after %d rotations", fl.held(), i+1)
			}
			time.Sleep(time.Millisecond)
		}
	}
	appendN(t, l, "last", 1)
	close(release)
	for i := range n + 1 {
		select {
		case ev := <-got:
			want := strconv.Itoa(i)
			if i == n {
				want = "0"
			}
			if ev.Attributes["n"] != want {
				t.Fatalf("event %d read: %s %s", i, ev.ID, ev.Attributes["n"])
			}
		case err := <-done:
			t.Fatalf("Follow ended after %d events of %d: %v", i, n+1, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("read %d events of %d", i, n+1)
		}
	}
	if h := fl.held(); h != 1 {
		t.Errorf("the follower holds %d files once it has caught up, want 1", h)
	}
}

// A reader that falls further behind than the files held for it reads
// what it holds, in order and without a gap, then ends with
// ErrRotatedPast.
func TestSlowFollowerRotatedPast(t *testing.T) {
	l := Open(t.TempDir())
	l.max = 4 << 10
	release := make(chan struct{})
	_, got, done := slowFollow(t, l, release)
	n := 0
	for range maxHeld + 3 {
		rotate(t, l, "slow", &n)
	}
	close(release)
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not end")
	}
	if !errors.Is(err, ErrRotatedPast) {
		t.Fatalf("Follow ended with %v, want ErrRotatedPast", err)
	}
	i := 0
	for len(got) > 0 {
		if ev := <-got; ev.Attributes["n"] != strconv.Itoa(i) {
			t.Fatalf("event %d read is %s: a gap", i, ev.Attributes["n"])
		}
		i++
	}
	if i == 0 || i >= n {
		t.Fatalf("read %d events of %d before the end", i, n)
	}
	t.Logf("read %d events of %d before the rotation passed", i, n)
}

// A follower that did not look while its file was rotated twice (it is
// gone from the directory, its successor is the rotated file) tells that
// successor by its begin line and reads on without a gap; after three
// rotations the file between is gone: ErrRotatedPast, once the file held
// is read.
func TestFollowerUnwatchedRotations(t *testing.T) {
	for _, rotations := range []int{2, 3} {
		t.Run(strconv.Itoa(rotations), func(t *testing.T) {
			l := Open(t.TempDir())
			l.max = 4 << 10
			fl, err := l.NewFollower(false)
			if err != nil {
				t.Fatal(err)
			}
			defer fl.Close()
			n := 0
			for range rotations {
				rotate(t, l, "a", &n)
			}
			appendN(t, l, "last", 1)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var got []string
			errEnough := errors.New("enough")
			err = fl.Run(ctx, func(ev Event) error {
				got = append(got, ev.ID+ev.Attributes["n"])
				if ev.ID == "last" {
					return errEnough
				}
				return nil
			})
			for i, g := range got {
				if want := "a" + strconv.Itoa(i); g != want && !(g == "last0" && i == n) {
					t.Fatalf("event %d read is %s, want %s: a gap", i, g, want)
				}
			}
			if rotations == 2 && (!errors.Is(err, errEnough) || len(got) != n+1) {
				t.Fatalf("after 2 rotations: read %d events of %d, %v", len(got), n+1, err)
			}
			if rotations == 3 && (!errors.Is(err, ErrRotatedPast) || len(got) == 0 || len(got) >= n) {
				t.Fatalf("after 3 rotations: read %d events of %d, %v; want the first file's, then ErrRotatedPast", len(got), n+1, err)
			}
		})
	}
}

// FromStart hands on what the journal holds (both files), then what is
// appended, each once and in order.
func TestFollowFromStart(t *testing.T) {
	l := Open(t.TempDir())
	l.max = 4 << 10
	appendN(t, l, "x", 1)
	n := 1
	rotate(t, l, "x", &n)
	appendN(t, l, "y", 3)
	var got []string
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	evs := make(chan Event, 1000)
	go func() {
		done <- l.Follow(ctx, FollowOptions{Ready: ready, FromStart: true}, func(ev Event) error { evs <- ev; return nil })
	}()
	<-ready
	appendN(t, l, "z", 2)
	for len(got) < n+5 {
		select {
		case ev := <-evs:
			got = append(got, ev.ID+ev.Attributes["n"])
		case err := <-done:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("followed %d events of %d: %q", len(got), n+5, got)
		}
	}
	var want []string
	for i := range n {
		want = append(want, "x"+strconv.Itoa(i))
	}
	want = append(want, "y0", "y1", "y2", "z0", "z1")
	if !slices.Equal(got, want) {
		t.Fatalf("followed %q\nwant %q", got, want)
	}
}

// fn's error ends Follow and is returned.
func TestFollowEndsWithFnError(t *testing.T) {
	l := Open(t.TempDir())
	appendN(t, l, "a", 2)
	errStop := errors.New("stop")
	err := l.Follow(t.Context(), FollowOptions{FromStart: true}, func(Event) error { return errStop })
	if !errors.Is(err, errStop) {
		t.Fatalf("Follow returned %v, want fn's error", err)
	}
}

// The lines other writers make: the shim's (cmd/berth-shim: no name, the
// type given) and the first journal's (container events, no type).
func TestLinesOfOtherWriters(t *testing.T) {
	dir := t.TempDir()
	lines := `{"version":1,"time":"2026-12-07T14:00:00.123456789Z","type":"container","action":"die","id":"ab","attributes":{"exitCode":"3","execDuration":"0"}}
{"version":1,"time":"2026-12-07T14:00:01Z","action":"start","id":"cd","name":"web","image":"busybox","labels":{"a":"b"}}
`
	if err := os.WriteFile(filepath.Join(dir, File), []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	evs := readAll(t, Open(dir))
	if len(evs) != 2 {
		t.Fatalf("read %d events, want 2", len(evs))
	}
	if ev := evs[0]; ev.Action != "die" || ev.ID != "ab" || ev.Attributes["exitCode"] != "3" || ev.Time.Nanosecond() != 123456789 {
		t.Errorf("the shim's line read as %+v", ev)
	}
	want := map[string]string{"a": "b", "image": "busybox", "name": "web"}
	if ev := evs[1]; ev.Type != "" || ev.Action != "start" || !maps.Equal(ev.DockerAttributes(), want) {
		t.Errorf("a container line without type read as %+v, attributes %v", ev, ev.DockerAttributes())
	}
}

// BenchmarkAppend is the cost an operation pays to record its event.
func BenchmarkAppend(b *testing.B) {
	l := Open(b.TempDir())
	ev := Event{Type: "container", Action: "start", ID: strings.Repeat("ab", 32), Name: "web", Image: "busybox",
		Labels: map[string]string{"com.docker.compose.project": "p", "com.docker.compose.service": "web"}}
	for b.Loop() {
		if err := l.Append(b.Context(), ev); err != nil {
			b.Fatal(err)
		}
	}
}

// inotifyFDs counts this process's inotify instances.
func inotifyFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// The followers of one Log share one inotify instance (the user's limit
// is 128 on the whole machine), each woken by it; it goes with the last.
func TestFollowersShareOneWatch(t *testing.T) {
	l := Open(t.TempDir())
	before := inotifyFDs(t)
	const n = 150
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		fl, err := l.NewFollower(false)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer fl.Close()
			_ = fl.Run(ctx, func(ev Event) error {
				got <- strconv.Itoa(i) + ev.ID
				return nil
			})
		})
	}
	// Every follower subscribed: the watch is there, once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.watch.mu.Lock()
		subs := len(l.watch.subs)
		l.watch.mu.Unlock()
		if subs == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d followers subscribed of %d", subs, n)
		}
		time.Sleep(time.Millisecond)
	}
	if d := inotifyFDs(t) - before; d != 1 {
		t.Errorf("%d inotify instances for %d followers, want 1", d, n)
	}
	appendN(t, l, "x", 1)
	for i := range n {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d followers of %d saw the event", i, n)
		}
	}
	cancel()
	wg.Wait()
	if d := inotifyFDs(t) - before; d != 0 {
		t.Errorf("%d inotify instances left after the followers ended", d)
	}
}
