// Package eventlog is the journal of what berth did to containers,
// networks, volumes and images: an append-only file of JSON lines under the
// state root that every berth process (the CLI, berth serve, the shims)
// appends to and that `GET /events` (and `berth events --since`) replays
// and follows. berth has no daemon to see every change; the journal is how
// one process learns what another did.
//
// # On disk
//
//	<root>/events.jsonl     the current file: one Event per line
//	<root>/events.jsonl.1   the file before it (rotated)
//
// An appender opens the current file, takes an exclusive flock on it and
// checks that it is still the current file (else it was rotated meanwhile:
// it opens the new one); if the file has reached MaxSize it renames it to
// .1 and starts again; it stamps the event's time and appends one line
// with a single write. So lines never interleave, times never go backwards
// within the journal (while the clock does not), and the journal never
// holds much more than twice MaxSize. A reader that must see the two files
// without a rotation between takes a shared flock on the current one. The
// shim (cmd/berth-shim) appends its die and start events the same way; the
// format, names, locking and size limit change there together.
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
)

// Names in the state root, shared with cmd/berth-shim.
const (
	File    = "events.jsonl"
	Rotated = File + ".1"
)

// MaxSize is the size at which the current file is rotated.
const MaxSize = 4 << 20

// Version is the version of the lines this package writes.
const Version = 1

// maxLine bounds one line a reader accepts; longer ones are skipped.
const maxLine = 256 << 10

// Event is one line of the journal.
type Event struct {
	Version int `json:"version"`
	// Time is when it happened; Append sets it.
	Time time.Time `json:"time"`
	// Type is container (also when empty: the first lines were only
	// about containers), network, volume or image.
	Type   string `json:"type,omitempty"`
	Action string `json:"action"` // Docker's: create, start, die, destroy, …
	// ID is the object's: a container's or network's ID, a volume's
	// name, an image's ID or reference.
	ID string `json:"id"`
	// Name, Image and Labels are the object's; a shim's die and start
	// carry none (readers add the container's).
	Name   string            `json:"name,omitempty"`
	Image  string            `json:"image,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Attributes are the event's own: a die's exitCode, a kill's signal,
	// a rename's oldName, a network's type, a volume's driver.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Log is the journal under one state root. Safe for concurrent use by
// several goroutines and processes.
type Log struct {
	dir string
	// max is MaxSize, smaller in tests.
	max int64
}

// Open returns the journal under the state root dir; nothing is made
// until the first Append.
func Open(dir string) *Log { return &Log{dir: dir, max: MaxSize} }

// Dir is the directory of the journal's files: the state root.
func (l *Log) Dir() string { return l.dir }

// Append stamps ev with the time and the version and appends it.
func (l *Log) Append(ctx context.Context, ev Event) error {
	ev.Version = Version
	p := filepath.Join(l.dir, File)
	for range 5 {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("event journal: %w", err)
		}
		if err := flockRetry(f, unix.LOCK_EX); err != nil {
			f.Close()
			return fmt.Errorf("event journal: %w", err)
		}
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil || !sameFile(f, &st) {
			f.Close() // rotated while we waited: the new one
			continue
		}
		if st.Size > 0 && st.Size >= l.max {
			err := os.Rename(p, filepath.Join(l.dir, Rotated))
			f.Close()
			if err != nil {
				return fmt.Errorf("event journal: rotate: %w", err)
			}
			continue
		}
		ev.Time = time.Now().UTC()
		line, err := json.Marshal(ev)
		if err != nil {
			f.Close()
			return fmt.Errorf("event journal: %w", err)
		}
		line = append(line, '\n')
		if st.Size > 0 {
			// A line cut short (a crash, a full disk) is ended first, so
			// that it does not take this one with it.
			last := make([]byte, 1)
			if _, err := f.ReadAt(last, st.Size-1); err == nil && last[0] != '\n' {
				line = append([]byte{'\n'}, line...)
			}
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
	return fmt.Errorf("event journal %s: rotated under every attempt", p)
}

func flockRetry(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
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
// exist) with no rotation between: under a shared flock on the current
// one. With atEnd, only the current file is opened, positioned at its end.
func (l *Log) open(atEnd bool) (old, cur *os.File, err error) {
	p := filepath.Join(l.dir, File)
	for range 5 {
		if cur, err = openIfExists(p); err != nil {
			return nil, nil, err
		}
		if cur == nil {
			if atEnd {
				return nil, nil, nil
			}
			old, err = openIfExists(filepath.Join(l.dir, Rotated))
			return old, nil, err
		}
		if err := flockRetry(cur, unix.LOCK_SH); err != nil {
			cur.Close()
			return nil, nil, fmt.Errorf("event journal: %w", err)
		}
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil || !sameFile(cur, &st) {
			cur.Close() // rotated meanwhile
			continue
		}
		if !atEnd {
			if old, err = openIfExists(filepath.Join(l.dir, Rotated)); err != nil {
				cur.Close()
				return nil, nil, err
			}
		} else if _, err := cur.Seek(0, io.SeekEnd); err != nil {
			cur.Close()
			return nil, nil, fmt.Errorf("event journal: %w", err)
		}
		// Unlocked, still open: the lock was only for the opening.
		if err := unix.Flock(int(cur.Fd()), unix.LOCK_UN); err != nil {
			cur.Close()
			if old != nil {
				old.Close()
			}
			return nil, nil, fmt.Errorf("event journal: %w", err)
		}
		return old, cur, nil
	}
	return nil, nil, fmt.Errorf("event journal %s: rotated under every attempt", p)
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
	if err := os.MkdirAll(l.dir, 0o711); err != nil {
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

// Record appends ev and logs the failure instead of returning it: the
// change it reports was made, and a full disk must not undo it.
func (l *Log) Record(ctx context.Context, log *slog.Logger, ev Event) {
	if l == nil {
		return
	}
	if err := l.Append(ctx, ev); err != nil && log != nil {
		log.WarnContext(ctx, "event not recorded", "type", ev.Type, "action", ev.Action, "id", ev.ID, "err", err)
	}
}

// DockerAttributes are the event's attributes as Docker's events carry
// them: the labels, image and name, and the event's own.
func (ev Event) DockerAttributes() map[string]string {
	out := make(map[string]string, len(ev.Labels)+len(ev.Attributes)+2)
	maps.Copy(out, ev.Labels)
	if ev.Image != "" {
		out["image"] = ev.Image
	}
	if ev.Name != "" {
		out["name"] = ev.Name
	}
	maps.Copy(out, ev.Attributes)
	return out
}
