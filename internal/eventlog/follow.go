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
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
)

// ErrRotatedPast ends a Follow whose reader fell so far behind that a
// file it had not read yet was rotated away: events were lost to it.
var ErrRotatedPast = fmt.Errorf("event journal: rotated past this reader, which fell behind by more than %d files: %w", maxHeld, errdefs.ErrDataLoss)

// maxHeld bounds the files a follower holds open ahead of the one it
// reads: how far (times MaxSize) its reader may fall behind.
const maxHeld = 4

// FollowOptions say where a Follow starts.
type FollowOptions struct {
	// Ready, if not nil, is closed once every event appended after that
	// point will be seen.
	Ready chan<- struct{}
	// FromStart hands on every event the journal holds first (oldest
	// first: the rotated file's, then the current one's), then those
	// appended; else only those appended from now on.
	FromStart bool
}

// Follow calls fn with every event appended to the journal from now on
// (see FollowOptions), in order, once each, at fn's pace: fn may block
// (a slow client); the journal is read on as it returns, never buffered
// beyond a chunk of the file. A reader that falls behind keeps up to
// maxHeld rotated files open so that no rotation takes what it has not
// read; one that falls further ends with ErrRotatedPast once it has read
// all it holds. Follow returns fn's error, ctx's at its end, or an error
// when the journal cannot be watched.
func (l *Log) Follow(ctx context.Context, opt FollowOptions, fn func(Event) error) error {
	fl, err := l.NewFollower(opt.FromStart)
	if err != nil {
		return err
	}
	defer fl.Close()
	if opt.Ready != nil {
		close(opt.Ready)
	}
	return fl.Run(ctx, fn)
}

// Follower is a Follow in two steps: made, it has its place in the
// journal (every event appended after NewFollower returns is among those
// Run hands on); Run then reads on from there. Not safe for concurrent
// use but Close.
type Follower struct {
	l *Log

	mu sync.Mutex // guards the fields below
	// files are the file read (files[0]) and its successors, each the
	// current file right after the one before it was rotated.
	files []*os.File
	// passed is set when the successor of the last file held was rotated
	// away before it could be held.
	passed bool
}

// NewFollower holds the current file, positioned at its end (made empty
// if the journal has none yet), or with fromStart the rotated and current
// files from their start. Its Close releases them.
func (l *Log) NewFollower(fromStart bool) (*Follower, error) {
	if err := os.MkdirAll(l.dir, 0o711); err != nil {
		return nil, fmt.Errorf("event journal: %w", err)
	}
	// An empty current file, so that the first one is held from the
	// start like every later one (appenders make it the same way).
	f, err := os.OpenFile(filepath.Join(l.dir, File), os.O_RDONLY|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("event journal: %w", err)
	}
	f.Close()
	old, cur, err := l.open(!fromStart)
	if err != nil {
		return nil, err
	}
	fl := &Follower{l: l}
	if old != nil {
		fl.files = append(fl.files, old)
	}
	if cur != nil {
		fl.files = append(fl.files, cur)
	}
	if len(fl.files) == 0 {
		return nil, fmt.Errorf("event journal %s: removed while opened", filepath.Join(l.dir, File))
	}
	return fl, nil
}

// Close releases the files the follower holds.
func (fl *Follower) Close() {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	for _, f := range fl.files {
		f.Close()
	}
	fl.files = nil
}

// held is how many files the follower holds.
func (fl *Follower) held() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return len(fl.files)
}

// extend holds the successors of the last file held that exist now, up
// to maxHeld beyond the one read, or sets passed when one of them is gone.
func (fl *Follower) extend() error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	cur := filepath.Join(fl.l.dir, File)
	rot := filepath.Join(fl.l.dir, Rotated)
	for !fl.passed && len(fl.files) <= maxHeld {
		last := fl.files[len(fl.files)-1]
		var st syscall.Stat_t
		if err := syscall.Stat(cur, &st); errors.Is(err, fs.ErrNotExist) {
			return nil // rotated; its successor not made yet
		} else if err != nil {
			return fmt.Errorf("event journal: %w", err)
		}
		if sameFile(last, &st) {
			return nil
		}
		// last was rotated. While it is the rotated file, the current one
		// is its successor. Once it is gone, the rotated file is its
		// successor if that file begins by naming it; else the successor
		// was rotated away too.
		var next *os.File
		var err error
		if linkedAs(last, rot) {
			if next, err = openIfExists(cur); err != nil || next == nil {
				return err
			}
			// Rotated again meanwhile: next is last's successor only if
			// it is the rotated file now.
			if !linkedAs(last, rot) && !linkedAs(next, rot) {
				next.Close()
				continue
			}
		} else {
			if next, err = openIfExists(rot); err != nil || next == nil {
				fl.passed = next == nil && err == nil
				return err
			}
			if !follows(next, last) {
				next.Close()
				fl.passed = true
				return nil
			}
		}
		fl.files = append(fl.files, next)
	}
	return nil
}

// follows tells whether next is the file that became current when prev
// was rotated: its first line (Append's begin line) names prev.
func follows(next, prev *os.File) bool {
	var st syscall.Stat_t
	if syscall.Fstat(int(prev.Fd()), &st) != nil {
		return false
	}
	line, _, _ := bufio.NewReaderSize(io.NewSectionReader(next, 0, maxLine), 4096).ReadLine()
	var ev Event
	return json.Unmarshal(line, &ev) == nil && ev.Type == beginType && ev.Attributes[beginPrevious] == fileID(&st)
}

// linkedAs tells whether f is the file at path p.
func linkedAs(f *os.File, p string) bool {
	var st syscall.Stat_t
	return syscall.Stat(p, &st) == nil && sameFile(f, &st)
}

// Run hands on the events from the follower's place on, as Follow. It
// holds each file that follows the one it reads as it comes: a goroutine
// of its own does that while fn blocks.
func (fl *Follower) Run(ctx context.Context, fn func(Event) error) error {
	changed, unwatch, err := fl.l.watch.subscribe(fl.l.dir)
	if err != nil {
		return err
	}
	defer unwatch()
	var wg sync.WaitGroup
	defer wg.Wait() // after the cancel below
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := make(chan struct{}, 1)
	watchErr := make(chan error, 1)
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			if err := fl.extend(); err != nil {
				watchErr <- err
				return
			}
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	})
	r := &lineReader{buf: make([]byte, 32<<10), fn: fn}
	for {
		fl.mu.Lock()
		head, more := fl.files[0], len(fl.files) > 1
		fl.mu.Unlock()
		if err := r.drain(head); err != nil {
			return err
		}
		if !more {
			if err := fl.extend(); err != nil {
				return err
			}
			fl.mu.Lock()
			more, passed := len(fl.files) > 1, fl.passed
			fl.mu.Unlock()
			if passed && !more {
				// Once more: the last lines before its rotation.
				if err := r.drain(head); err != nil {
					return err
				}
				return ErrRotatedPast
			}
			if !more {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case err := <-watchErr:
					return err
				case <-wake:
				}
				continue
			}
		}
		// head was rotated before its successor was held: what it holds
		// now is all it will hold.
		if err := r.drain(head); err != nil {
			return err
		}
		fl.mu.Lock()
		fl.files = fl.files[1:]
		fl.mu.Unlock()
		head.Close()
		r.part = nil // a line cut short at the end of a file
	}
}

// lineReader hands on the complete lines of the files it reads.
type lineReader struct {
	buf  []byte
	part []byte // a line not yet complete
	fn   func(Event) error
}

// drain reads f to its end, handing on complete lines.
func (r *lineReader) drain(f *os.File) error {
	for {
		n, err := f.Read(r.buf)
		if n > 0 {
			r.part = append(r.part, r.buf[:n]...)
			for {
				i := bytes.IndexByte(r.part, '\n')
				if i < 0 {
					break
				}
				var ev Event
				line := r.part[:i]
				r.part = r.part[i+1:]
				if json.Unmarshal(line, &ev) == nil && ev.Type != beginType {
					if err := r.fn(ev); err != nil {
						return err
					}
				}
			}
			if len(r.part) > maxLine {
				r.part = nil
			}
			// Keep the unread rest small: it is copied to the front.
			r.part = append(r.part[:0:0], r.part...)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("event journal: %w", err)
		}
	}
}

// watcher is a Log's one inotify watch of its directory, shared by the
// followers of the process (an inotify instance each would run into the
// user's limit, 128 by default, with as many GET /events clients): each
// subscriber's channel is woken (the wakes coalesced) at every change in
// the directory, and at least every 2 s in case a notification was lost.
// It runs while it has subscribers. Safe for concurrent use.
type watcher struct {
	mu   sync.Mutex // guards the fields below
	subs map[chan struct{}]struct{}
	stop func() // ends the watch; nil while none runs
}

// subscribe returns a channel woken at each change in dir, and the
// function that ends the subscription.
func (w *watcher) subscribe(dir string) (<-chan struct{}, func(), error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop == nil {
		stop, err := w.startLocked(dir)
		if err != nil {
			return nil, nil, err
		}
		w.stop = stop
	}
	ch := make(chan struct{}, 1)
	if w.subs == nil {
		w.subs = map[chan struct{}]struct{}{}
	}
	w.subs[ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.subs, ch)
		if len(w.subs) == 0 && w.stop != nil {
			w.stop()
			w.stop = nil
		}
	}, nil
}

// startLocked starts watching dir; w.mu is held.
func (w *watcher) startLocked(dir string) (stop func(), err error) {
	fw, err := fsnotify.NewBufferedWatcher(64)
	if err != nil {
		return nil, fmt.Errorf("event journal: %w", err)
	}
	if err := fw.Add(dir); err != nil {
		fw.Close()
		return nil, fmt.Errorf("event journal: watch %s: %w", dir, err)
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-fw.Events:
			case <-fw.Errors:
			case <-tick.C:
			}
			w.mu.Lock()
			for ch := range w.subs {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			w.mu.Unlock()
		}
	}()
	return func() {
		close(done)
		fw.Close()
		// The loop may wait for w.mu, held by the caller: it is not
		// waited for; it ends at its next turn.
	}, nil
}
