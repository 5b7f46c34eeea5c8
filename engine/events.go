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
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// The event journal: berth has no daemon to remember what happened, so
// the engine appends one JSON line per container operation to
// <root>/events.jsonl (create, start, stop, kill, pause, unpause, rename,
// update, destroy), whichever process made it. `events --since` reads it
// back. At journalMax bytes the file moves to events.jsonl.1, replacing
// the one before.
const (
	journalFile    = "events.jsonl"
	journalVersion = 1
)

// journalMax is the size at which the journal is rotated; a variable for
// tests.
var journalMax int64 = 4 << 20

// Event is one container event: an entry of the journal, or a
// container's last exit (die) read from its state.
type Event struct {
	Version    int               `json:"version"`
	Time       time.Time         `json:"time"`
	Action     string            `json:"action"` // create, start, stop, kill, die, pause, unpause, rename, update, destroy
	ID         ContainerID       `json:"id"`
	Name       string            `json:"name"`
	Image      string            `json:"image"`
	Labels     map[string]string `json:"labels,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"` // exitCode of die, signal of kill, oldName of rename
}

func (e *Engine) journalPath() string { return filepath.Join(e.opt.Root, journalFile) }

// journal appends an event of rec to the journal. It is best effort: the
// operation it records is done, so a failure is logged, not returned.
func (e *Engine) journal(ctx context.Context, action string, rec *record, attrs map[string]string) {
	if rec == nil {
		return
	}
	ev := Event{Version: journalVersion, Time: time.Now().UTC(), Action: action, ID: rec.ID,
		Name: rec.Config.Name, Image: rec.Config.Image, Labels: rec.Config.Labels, Attributes: attrs}
	if err := e.appendJournal(ev); err != nil {
		e.log.WarnContext(ctx, "recording an event failed", "container", rec.Config.Name, "action", action, "err", err)
	}
}

// appendJournal writes ev as one line under an exclusive flock on the
// journal, which every writer takes: a rotation never loses a line.
func (e *Engine) appendJournal(ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	p := e.journalPath()
	for range 3 {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return err
		}
		var fst, pst unix.Stat_t
		if unix.Fstat(int(f.Fd()), &fst) != nil || unix.Stat(p, &pst) != nil || fst.Ino != pst.Ino {
			f.Close() // rotated away while we waited: open the new one
			continue
		}
		if fst.Size >= journalMax {
			err := os.Rename(p, p+".1")
			f.Close()
			if err != nil {
				return err
			}
			continue
		}
		_, err = f.Write(append(b, '\n'))
		return errors.Join(err, f.Close())
	}
	return fmt.Errorf("event journal %s: rotated under every attempt", p)
}

// Events returns the container events from since to until (zero: no
// bound), oldest first: the journal's, and each existing container's last
// exit (die), which the shim records. A removed container's exits are
// not known; lines of a version this engine does not know are an error.
func (e *Engine) Events(ctx context.Context, since, until time.Time) ([]Event, error) {
	in := func(t time.Time) bool {
		return (since.IsZero() || !t.Before(since)) && (until.IsZero() || !t.After(until))
	}
	var out []Event
	for _, p := range []string{e.journalPath() + ".1", e.journalPath()} {
		evs, bad, err := readJournal(p)
		if err != nil {
			return nil, err
		}
		if bad > 0 {
			e.log.WarnContext(ctx, "event journal: lines that are not JSON skipped", "path", p, "lines", bad)
		}
		for _, ev := range evs {
			if in(ev.Time) {
				out = append(out, ev)
			}
		}
	}
	ctrs, err := e.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, c := range ctrs {
		st := c.State
		if st.FinishedAt.IsZero() || !in(st.FinishedAt) || st.FinishedAt.Before(st.StartedAt) {
			continue
		}
		out = append(out, Event{Version: journalVersion, Time: st.FinishedAt.UTC(), Action: "die", ID: c.ID,
			Name: c.Config.Name, Image: c.Config.Image, Labels: maps.Clone(c.Config.Labels),
			Attributes: map[string]string{"exitCode": fmt.Sprint(st.ExitCode)}})
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// readJournal reads one journal file; a missing one has no events. bad
// counts the lines that are not JSON (one cut short by a full disk or a
// crash), which are skipped.
func readJournal(p string) (_ []Event, bad int, _ error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			bad++
			continue
		}
		if ev.Version != journalVersion {
			return nil, bad, fmt.Errorf("event journal %s:%d: version %d: not known to this berth", p, n, ev.Version)
		}
		out = append(out, ev)
	}
	return out, bad, sc.Err()
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
		var ev Event
		if json.Unmarshal(line, &ev) == nil && ev.Version == journalVersion {
			out = append(out, ev)
		}
	}
}
