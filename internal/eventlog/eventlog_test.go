package eventlog

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
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
	l.max = 16 << 10 // about 120 events a file: 300 rotate it twice
	appendN(t, l, "before", 3)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan Event, 1000)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- l.Follow(ctx, ready, func(ev Event) { got <- ev }) }()
	<-ready
	const n = 300
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
	go func() { _ = l.Follow(ctx, ready, func(ev Event) { got <- ev }) }()
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

// A reader that finds the file it read rotated twice reads the one
// between from the rotated file.
func TestTailAfterTwoRotations(t *testing.T) {
	dir := t.TempDir()
	l := Open(dir)
	l.max = 1 << 10
	appendN(t, l, "gen0", 1)
	_, cur, err := l.open(true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	tl := &tail{l: l, f: cur, fn: func(ev Event) { got = append(got, ev.Attributes["n"]) }}
	defer tl.close()
	// Fill the files until the one the reader holds is gone from the
	// directory: two rotations.
	var fst syscall.Stat_t
	if err := syscall.Fstat(int(cur.Fd()), &fst); err != nil {
		t.Fatal(err)
	}
	n := 0
	for rotations := 0; rotations < 2; n++ {
		if err := l.Append(t.Context(), Event{Type: "container", Action: "start", ID: "a", Attributes: map[string]string{"n": strconv.Itoa(n)}}); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, File), &st); err != nil {
			t.Fatal(err)
		}
		if st.Ino != fst.Ino {
			rotations++
			fst = st
		}
	}
	if err := tl.catchUp(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("read %d events of %d after two rotations", len(got), n)
	}
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("event %d read is %s", i, v)
		}
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
