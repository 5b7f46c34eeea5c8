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
// holds much more than twice MaxSize. The first line of each file after a
// rotation is the journal's own begin line, naming the rotated file by
// device and inode; readers never hand it on. A reader that must see the
// two files without a rotation between takes a shared flock on the
// current one. A follower (Follow) reads at its consumer's pace and holds
// open the files it has yet to read; the begin lines tell it a file's
// successor even after both were rotated. The shim (cmd/berth-shim)
// appends its die and start events the same way; the format, names,
// locking and size limit change there together.
package eventlog

import (
	"bufio"
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

	// watch is the one watcher of the journal's directory that wakes the
	// process's followers (follow.go).
	watch watcher
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
		if st.Size == 0 {
			// A new file begins with the identity of the one before it.
			if h, ok := beginLine(filepath.Join(l.dir, Rotated), ev.Time); ok {
				line = append(h, line...)
			}
		}
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

// beginType and beginAction name the first line of each file after the
// first: the journal's own, never handed on; its attribute previous is
// the rotated file's identity (fileID), so that a follower can tell the
// file that came right after the one it read from a later one.
const (
	beginType     = "journal"
	beginAction   = "begin"
	beginPrevious = "previous"
)

// beginLine is the first line of a new current file, whose predecessor
// is the rotated file at rot; false when there is none. The current
// file's lock is held: no rotation can change rot meanwhile.
func beginLine(rot string, t time.Time) ([]byte, bool) {
	var st syscall.Stat_t
	if syscall.Stat(rot, &st) != nil {
		return nil, false
	}
	b, err := json.Marshal(Event{Version: Version, Time: t, Type: beginType, Action: beginAction,
		Attributes: map[string]string{beginPrevious: fileID(&st)}})
	if err != nil {
		return nil, false
	}
	return append(b, '\n'), true
}

// fileID names a file by device and inode: "DEV:INO", in decimal.
func fileID(st *syscall.Stat_t) string { return fmt.Sprintf("%d:%d", st.Dev, st.Ino) }

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
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Type == beginType {
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

func sameFile(f *os.File, st *syscall.Stat_t) bool {
	var fst syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &fst) != nil {
		return false
	}
	return fst.Dev == st.Dev && fst.Ino == st.Ino
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
