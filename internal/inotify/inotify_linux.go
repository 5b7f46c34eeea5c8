// Package inotify watches directories with Linux inotify(7) and, unlike
// fsnotify, reports when a file opened for writing is closed: a watcher of
// files that a program rewrites (an editor's save, a checkout) can act as
// soon as the write is complete instead of after a fixed quiet period.
package inotify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Op is what happened to a name in a watched directory; one event may
// carry several.
type Op uint32

// The operations an Event reports.
const (
	// Create: the name was created (a new file, or O_CREAT of one).
	Create Op = 1 << iota
	// Write: the file's content was modified (a write, a truncation).
	Write
	// CloseWrite: a descriptor that had the file open for writing was
	// closed: a write through it is complete.
	CloseWrite
	// MovedTo: a file was renamed to the name (an editor's save by rename):
	// its content is complete.
	MovedTo
	// Remove: the name was removed or renamed away.
	Remove
	// Overflow: the kernel's queue overflowed and events were lost; Name
	// is empty.
	Overflow
)

// Has reports whether o includes every operation of x.
func (o Op) Has(x Op) bool { return o&x == x }

func (o Op) String() string {
	var s []string
	for _, n := range []struct {
		op   Op
		name string
	}{{Create, "CREATE"}, {Write, "WRITE"}, {CloseWrite, "CLOSE_WRITE"}, {MovedTo, "MOVED_TO"}, {Remove, "REMOVE"}, {Overflow, "OVERFLOW"}} {
		if o.Has(n.op) {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, "|")
}

// Event is an operation on Name, the path of an entry of a watched
// directory (the directory's path as it was added, joined with the entry's
// name).
type Event struct {
	Name string
	Op   Op
}

func (e Event) String() string { return fmt.Sprintf("%s %q", e.Op, e.Name) }

// mask is what is asked of the kernel for each watched directory.
const mask = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO |
	unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_ONLYDIR

// Watcher reports the events of the directories added to it on Events,
// in the kernel's order, and read errors on Errors. Add and Close are safe
// for concurrent use. Close ends both channels.
type Watcher struct {
	Events <-chan Event
	Errors <-chan error

	f    *os.File      // the inotify descriptor, read through the runtime's poller
	done chan struct{} // closed by Close: the reader stops sending

	closeOnce sync.Once

	mu   sync.Mutex     // guards dirs
	dirs map[int]string // watch descriptor → directory
}

// New returns a Watcher with no directory watched yet.
func New() (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	events := make(chan Event, 64)
	errs := make(chan error, 1)
	w := &Watcher{Events: events, Errors: errs, f: os.NewFile(uintptr(fd), "inotify"), done: make(chan struct{}), dirs: map[int]string{}}
	go w.read(events, errs)
	return w, nil
}

// Add watches directory dir; adding it again is a no-op.
func (w *Watcher) Add(dir string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	rc, err := w.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	var wd int
	cerr := rc.Control(func(fd uintptr) { wd, err = unix.InotifyAddWatch(int(fd), dir, mask) })
	if err = errors.Join(cerr, err); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	w.dirs[wd] = dir
	return nil
}

// Watching reports whether dir has been added and is still watched.
func (w *Watcher) Watching(dir string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range w.dirs {
		if d == dir {
			return true
		}
	}
	return false
}

// Close stops the watch; Events and Errors are closed once the reader has
// ended, whether or not what it had read was received.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() { close(w.done) })
	return w.f.Close()
}

// read turns what the kernel reports into Events until the descriptor is
// closed.
func (w *Watcher) read(events chan<- Event, errs chan<- error) {
	defer close(errs)
	defer close(events)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if errors.Is(err, fs.ErrClosed) {
			return
		}
		if err != nil {
			select {
			case errs <- fmt.Errorf("inotify: %w", err):
			default:
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			raw := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			end := off + unix.SizeofInotifyEvent + int(raw.Len)
			if end > n {
				break
			}
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:end]), "\x00")
			off = end
			if ev, ok := w.event(raw.Wd, raw.Mask, name); ok {
				select {
				case events <- ev:
				case <-w.done:
					return
				}
			}
		}
	}
}

// event is the Event of one kernel record, if it is one to report.
func (w *Watcher) event(wd int32, m uint32, name string) (Event, bool) {
	if m&unix.IN_Q_OVERFLOW != 0 {
		return Event{Op: Overflow}, true
	}
	w.mu.Lock()
	dir, ok := w.dirs[int(wd)]
	if m&unix.IN_IGNORED != 0 {
		delete(w.dirs, int(wd)) // the directory is gone
	}
	w.mu.Unlock()
	if !ok || name == "" {
		return Event{}, false
	}
	var op Op
	for _, b := range []struct {
		bit uint32
		op  Op
	}{{unix.IN_CREATE, Create}, {unix.IN_MODIFY, Write}, {unix.IN_CLOSE_WRITE, CloseWrite}, {unix.IN_MOVED_TO, MovedTo}, {unix.IN_MOVED_FROM | unix.IN_DELETE, Remove}} {
		if m&b.bit != 0 {
			op |= b.op
		}
	}
	return Event{Name: filepath.Join(dir, name), Op: op}, op != 0
}
