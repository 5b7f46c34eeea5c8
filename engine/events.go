package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/eventlog"
)

// The event journal (<root>/events.jsonl, written through internal/eventlog
// by every berth process and the shims: see Journal) read back for
// `events --since` and followed by `events`. This file reads only; the
// container events are its lines of type container (or none).
const (
	journalFile    = eventlog.File
	journalVersion = eventlog.Version
)

// Event is one container event of the journal.
type Event struct {
	Version    int               `json:"version"`
	Time       time.Time         `json:"time"`
	Type       string            `json:"type,omitempty"` // container when empty; other types are skipped
	Action     string            `json:"action"`         // create, start, stop, kill, die, pause, unpause, rename, update, destroy
	ID         ContainerID       `json:"id"`
	Name       string            `json:"name"`
	Image      string            `json:"image"`
	Labels     map[string]string `json:"labels,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"` // exitCode of die, signal of kill, oldName of rename
}

func (e *Engine) journalPath() string { return filepath.Join(e.opt.Root, journalFile) }

// Events returns the container events from since to until (zero: no
// bound), oldest first. An event the shim recorded (die, a restart's
// start, health) carries only the container's ID: its name, image and
// labels come from the container's earlier events or its record.
func (e *Engine) Events(ctx context.Context, since, until time.Time) ([]Event, error) {
	in := func(t time.Time) bool {
		return (since.IsZero() || !t.Before(since)) && (until.IsZero() || !t.After(until))
	}
	var out []Event
	known := map[ContainerID]Event{}
	err := e.events.Read(func(le eventlog.Event) error {
		if le.Version != journalVersion {
			return fmt.Errorf("event journal: version %d: not known to this berth", le.Version)
		}
		ev := fromJournal(le)
		if !ev.isContainer() {
			return nil
		}
		// The name, image and labels as they were then: the last event
		// before this one that had them.
		if ev.Name != "" {
			known[ev.ID] = ev
		} else if k, ok := known[ev.ID]; ok {
			ev.Name, ev.Image, ev.Labels = k.Name, k.Image, maps.Clone(k.Labels)
		}
		if in(ev.Time) {
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ctrs []*Container
	for i, ev := range out {
		if ev.Name != "" {
			continue
		}
		if ctrs == nil {
			var err error
			if ctrs, err = e.List(ctx, nil); err != nil {
				return nil, err
			}
		}
		for _, c := range ctrs {
			if c.ID == ev.ID {
				out[i].Name, out[i].Image, out[i].Labels = c.Config.Name, c.Config.Image, maps.Clone(c.Config.Labels)
			}
		}
	}
	return out, nil
}

// isContainer tells an event of a container (the journal also has
// networks', volumes' and images').
func (ev Event) isContainer() bool { return ev.Type == "" || ev.Type == "container" }

// fromJournal is a journal line as the engine's Event.
func fromJournal(le eventlog.Event) Event {
	return Event{Version: le.Version, Time: le.Time, Type: le.Type, Action: le.Action, ID: ContainerID(le.ID),
		Name: le.Name, Image: le.Image, Labels: le.Labels, Attributes: le.Attributes}
}

// EventCursor follows the journal from where it was made: Next returns
// the events appended since. Not safe for concurrent use.
type EventCursor struct {
	path string
	ino  uint64 // the journal file read, by inode; 0: none yet
	off  int64  // bytes of it consumed: whole lines only
}

// FollowEvents returns a cursor at the journal's present end.
func (e *Engine) FollowEvents() (*EventCursor, error) {
	c := &EventCursor{path: e.journalPath()}
	var st unix.Stat_t
	switch err := unix.Stat(c.path, &st); {
	case err == nil:
		c.ino, c.off = st.Ino, st.Size
	case !errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("event journal %s: %w", c.path, err)
	}
	return c, nil
}

// Next returns the events appended to the journal since the last call,
// oldest first, across a rotation. A line still being written is left for
// the next call.
func (c *EventCursor) Next() ([]Event, error) {
	var st unix.Stat_t
	if err := unix.Stat(c.path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("event journal %s: %w", c.path, err)
	}
	var out []Event
	if c.ino != 0 && st.Ino != c.ino {
		// Rotated: the rest of the file read so far is events.jsonl.1.
		var old unix.Stat_t
		if unix.Stat(c.path+".1", &old) == nil && old.Ino == c.ino {
			evs, _, err := readLines(c.path+".1", c.off)
			if err != nil {
				return nil, err
			}
			out = append(out, evs...)
		}
		c.off = 0
	}
	c.ino = st.Ino
	evs, n, err := readLines(c.path, c.off)
	if err != nil {
		return nil, err
	}
	c.off += n
	return append(out, evs...), nil
}

// readLines reads the whole lines of p from offset off: their events and
// how many bytes they took. Lines of another version or not JSON are
// skipped.
func readLines(p string, off int64) ([]Event, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(off, 0); err != nil {
		return nil, 0, err
	}
	r := bufio.NewReader(f)
	var out []Event
	var n int64
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			// io.EOF: a line without its newline is still being written.
			if errors.Is(err, io.EOF) {
				return out, n, nil
			}
			return out, n, err
		}
		n += int64(len(line))
		var le eventlog.Event
		if json.Unmarshal(line, &le) == nil && le.Version == journalVersion {
			if ev := fromJournal(le); ev.isContainer() {
				out = append(out, ev)
			}
		}
	}
}
