// Package eventlog is the journal of what berth did to containers,
// networks, volumes and images: an append-only file of JSON lines under the
// state root that every berth process (the CLI, berth serve, the shims)
// appends to and that `GET /events` replays and follows. berth has no
// daemon to see every change; the journal is how one process learns what
// another did.
//
// # On disk
//
//	<root>/events/events.jsonl     the current file: one Event per line
//	<root>/events/events.jsonl.1   the file before it (rotated)
//	<root>/events/lock             flock: appenders exclusive, a reader opening both files shared
//
// An appender takes the lock, stamps the event's time, rotates the current
// file to .1 when the line would take it past MaxSize, appends one line with
// a single write, and releases the lock: lines never interleave, times never
// go backwards within the journal (while the clock does not), and the
// journal never holds more than about twice MaxSize. The shim
// (cmd/berth-shim) appends its die and start events the same way; the
// format, names and size limit change there together.
package eventlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/flock"
)

// Names under the journal's directory, shared with cmd/berth-shim.
const (
	File     = "events.jsonl"
	Rotated  = "events.jsonl.1"
	LockFile = "lock"
)

// MaxSize is the size past which the current file is rotated.
const MaxSize = 1 << 20

// maxLine bounds one line a reader accepts; longer ones are skipped.
const maxLine = 256 << 10

// Event is one line of the journal.
type Event struct {
	// Time is when it happened, in nanoseconds since the Unix epoch;
	// Append sets it.
	Time   int64  `json:"time"`
	Type   string `json:"type"`   // container, network, volume, image
	Action string `json:"action"` // Docker's: create, start, die, destroy, …
	// ID is the object's: a container's or network's ID, a volume's
	// name, an image's ID or reference.
	ID    string            `json:"id"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Log is the journal in one directory. Safe for concurrent use by several
// goroutines and processes.
type Log struct {
	dir string
	// max is MaxSize, smaller in tests.
	max int64
}

// Open returns the journal in dir (<root>/events); nothing is made until
// the first Append.
func Open(dir string) *Log { return &Log{dir: dir, max: MaxSize} }

// Dir is the journal's directory.
func (l *Log) Dir() string { return l.dir }

// Append stamps ev with the time and appends it.
func (l *Log) Append(ctx context.Context, ev Event) error {
	unlock, err := flock.Lock(context.WithoutCancel(ctx), filepath.Join(l.dir, LockFile))
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	defer unlock()
	ev.Time = time.Now().UnixNano()
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	line = append(line, '\n')
	cur := filepath.Join(l.dir, File)
	if fi, err := os.Stat(cur); err == nil && fi.Size() > 0 && fi.Size()+int64(len(line)) > l.max {
		if err := os.Rename(cur, filepath.Join(l.dir, Rotated)); err != nil {
			return fmt.Errorf("event journal: rotate: %w", err)
		}
	}
	f, err := os.OpenFile(cur, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	return nil
}

// Read calls fn with every event in the journal, oldest first: the rotated
// file's, then the current one's. A missing journal has none.
func (l *Log) Read(fn func(Event) error) error {
	old, cur, err := l.open(false)
	if err != nil {
		return err
	}
	for _, f := range []*os.File{old, cur} {
		if f == nil {
			continue
		}
		err = readLines(f, fn)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// open opens the rotated and current files (nil for one that does not
// exist) under the shared lock, so that no rotation comes between. With
// atEnd, only the current file is opened, positioned at its end.
func (l *Log) open(atEnd bool) (old, cur *os.File, err error) {
	if _, err := os.Stat(l.dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	unlock, err := flock.LockShared(context.Background(), filepath.Join(l.dir, LockFile))
	if err != nil {
		return nil, nil, fmt.Errorf("event journal: %w", err)
	}
	defer unlock()
	if !atEnd {
		if old, err = openIfExists(filepath.Join(l.dir, Rotated)); err != nil {
			return nil, nil, err
		}
	}
	if cur, err = openIfExists(filepath.Join(l.dir, File)); err != nil {
		if old != nil {
			old.Close()
		}
		return nil, nil, err
	}
	if atEnd && cur != nil {
		if _, err := cur.Seek(0, io.SeekEnd); err != nil {
			cur.Close()
			return nil, nil, fmt.Errorf("event journal: %w", err)
		}
	}
	return old, cur, nil
}

func openIfExists(p string) (*os.File, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("event journal: %w", err)
	}
	return f, nil
}

// readLines calls fn with each complete line's event from r's position to
// its end; a line that does not parse (cut short by a crash) is skipped.
func readLines(r io.Reader, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		var ev Event
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("event journal: %w", err)
	}
	return nil
}

// Follow calls fn with every event appended to the journal from now on,
// in order, until ctx ends; it returns ctx's error, or another error when
// the journal cannot be watched. ready, if not nil, is closed once every
// event appended after that point will be seen.
func (l *Log) Follow(ctx context.Context, ready chan<- struct{}, fn func(Event)) error {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	w, err := fsnotify.NewBufferedWatcher(256)
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	defer w.Close()
	if err := w.Add(l.dir); err != nil {
		return fmt.Errorf("event journal: watch %s: %w", l.dir, err)
	}
	_, cur, err := l.open(true)
	if err != nil {
		return err
	}
	t := &tail{l: l, f: cur, fn: fn}
	defer t.close()
	if ready != nil {
		close(ready)
	}
	// A safety net for a lost notification (an overflowed queue).
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		if err := t.catchUp(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.Events:
		case <-w.Errors:
		case <-tick.C:
		}
	}
}

// tail reads the current file as it grows and moves on to its successor
// after a rotation.
type tail struct {
	l    *Log
	f    *os.File // nil until the file exists
	part []byte   // a line not yet complete
	fn   func(Event)
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
	}
}

// catchUp hands on every complete line written since the last call,
// following rotations.
func (t *tail) catchUp() error {
	for {
		if t.f == nil {
			f, err := openIfExists(filepath.Join(t.l.dir, File))
			if err != nil || f == nil {
				return err
			}
			t.f = f
		}
		if err := t.drain(); err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(t.l.dir, File), &st); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("event journal: %w", err)
		} else if err == nil && sameFile(t.f, &st) {
			return nil
		}
		// Rotated away. The old file's last lines were written before
		// the rename (appends and rotations take the lock).
		if err := t.drain(); err != nil {
			return err
		}
		rot, cur, err := t.l.open(false)
		if err != nil {
			return err
		}
		old := t.f
		t.f, t.part = nil, nil
		if rot != nil && !sameFiles(rot, old) {
			// Rotated twice since: the file between is the rotated one
			// (more rotations than that lost what came between).
			t.f = rot
			err = t.drain()
			rot.Close()
			t.part = nil
		} else if rot != nil {
			rot.Close()
		}
		old.Close()
		t.f = cur
		if err != nil {
			return err
		}
	}
}

func sameFiles(a, b *os.File) bool {
	var st syscall.Stat_t
	if syscall.Fstat(int(b.Fd()), &st) != nil {
		return false
	}
	return sameFile(a, &st)
}

func sameFile(f *os.File, st *syscall.Stat_t) bool {
	var fst syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &fst) != nil {
		return false
	}
	return fst.Dev == st.Dev && fst.Ino == st.Ino
}

// drain reads t.f to its end, handing on complete lines.
func (t *tail) drain() error {
	buf := make([]byte, 32<<10)
	for {
		n, err := t.f.Read(buf)
		if n > 0 {
			t.part = append(t.part, buf[:n]...)
			for {
				i := bytes.IndexByte(t.part, '\n')
				if i < 0 {
					break
				}
				var ev Event
				if json.Unmarshal(t.part[:i], &ev) == nil {
					t.fn(ev)
				}
				t.part = t.part[i+1:]
			}
			if len(t.part) > maxLine {
				t.part = nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("event journal: %w", err)
		}
	}
}

// Record appends an event about object id, with attrs, and logs the
// failure instead of returning it: the change it reports was made, and a
// full disk must not undo it.
func (l *Log) Record(ctx context.Context, log *slog.Logger, typ, action, id string, attrs map[string]string) {
	if l == nil {
		return
	}
	if err := l.Append(ctx, Event{Type: typ, Action: action, ID: id, Attrs: attrs}); err != nil && log != nil {
		log.WarnContext(ctx, "event not recorded", "type", typ, "action", action, "id", id, "err", err)
	}
}

// Attrs returns labels (not changed) with the pairs kv (key, value, …)
// over them.
func Attrs(labels map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(labels)+len(kv)/2)
	maps.Copy(out, labels)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
