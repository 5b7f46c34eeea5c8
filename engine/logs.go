package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// followPoll is the longest pause between two looks at a followed log.
const followPoll = 100 * time.Millisecond

// Logs calls fn for each selected log line of the container, oldest first:
// the last Tail lines (all when negative), then those from Since to Until
// (zero: unbounded). With Follow it keeps reading new lines (polling, with
// a back-off from 1ms to 100ms) until the container is not running and its
// log is complete, ctx is done (ctx's error), or Until has passed. An error
// from fn stops Logs and is returned. A line that is not valid JSON (torn by
// a crash) is passed over.
func (e *Engine) Logs(ctx context.Context, id ContainerID, opt LogOptions, fn func(LogLine) error) error {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	if rec.Config.Logging.Driver == LogDriverNone && !opt.Follow {
		return fmt.Errorf("container %q: configured logging driver does not support reading: %w", rec.Config.Name, errdefs.ErrFailedPrecondition)
	}
	if opt.Details {
		attrs, err := logAttrs(rec)
		if err != nil {
			return err
		}
		if len(attrs) > 0 {
			inner := fn
			fn = func(l LogLine) error {
				l.Attrs = attrs
				return inner(l)
			}
		}
	}
	lr := logReader{path: filepath.Join(dir, ctrstate.LogFile), opt: opt, fn: fn}
	defer func() {
		if lr.f != nil { // a followed log stays open until here
			_ = lr.f.Close()
		}
	}()
	if rotated := rotatedLogs(lr.path); len(rotated) > 0 {
		if err := lr.readHistory(rotated); err != nil || !opt.Follow {
			return err
		}
	} else if !opt.Follow {
		_, err := lr.readAvailable()
		return err
	}
	backoff := time.Millisecond
	for {
		// Look at the state before reading: if the run was over then, what
		// is read next is all there will be.
		st, err := e.observeDir(ctx, dir)
		if err != nil {
			return err
		}
		over := !active(st.Status) // followed across restarts
		n, err := lr.readAvailable()
		if err != nil || lr.pastUntil {
			return err
		}
		if rotated, err := lr.reopenIfRotated(); err != nil {
			return err
		} else if rotated {
			continue
		}
		if over {
			return nil
		}
		if !opt.Until.IsZero() && time.Now().After(opt.Until) {
			return nil
		}
		if n > 0 {
			backoff = time.Millisecond
			continue
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, followPoll)
	}
}

// logReader reads container.log from where it stopped last time.
type logReader struct {
	path string
	opt  LogOptions
	fn   func(LogLine) error

	f         *os.File
	offset    int64  // of the first byte not yet consumed
	partial   []byte // a line read without its newline yet
	pastUntil bool
}

// readAvailable passes the complete lines now in the file to fn and
// returns how many bytes it consumed.
func (r *logReader) readAvailable() (int64, error) {
	if r.f == nil {
		f, err := os.Open(r.path)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		r.f = f
		if r.opt.Tail >= 0 {
			off, err := tailOffset(f, r.opt.Tail)
			if err != nil {
				return 0, err
			}
			r.offset = off
		}
		if !r.opt.Follow {
			defer func() { _ = r.f.Close(); r.f = nil }()
		}
	}
	var consumed int64
	buf := make([]byte, 64<<10)
	for !r.pastUntil {
		n, err := r.f.ReadAt(buf, r.offset+int64(len(r.partial)))
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				r.partial = append(r.partial, data...)
				break
			}
			line := data[:i]
			if len(r.partial) > 0 {
				line = append(r.partial, line...)
			}
			r.offset += int64(len(line)) + 1
			consumed += int64(len(line)) + 1
			r.partial = r.partial[:0]
			data = data[i+1:]
			if err := r.emit(line); err != nil {
				return consumed, err
			}
			if r.pastUntil {
				break
			}
		}
		if err == io.EOF || (err == nil && n < len(buf)) {
			return consumed, nil
		}
		if err != nil {
			return consumed, fmt.Errorf("%s: %w", r.path, err)
		}
	}
	return consumed, nil
}

func (r *logReader) emit(line []byte) error {
	var l LogLine
	if err := json.Unmarshal(line, &l); err != nil {
		return nil // torn by a crash: passed over
	}
	if !r.opt.Since.IsZero() && l.Time.Before(r.opt.Since) {
		return nil
	}
	if !r.opt.Until.IsZero() && l.Time.After(r.opt.Until) {
		r.pastUntil = true
		return nil
	}
	return r.fn(l)
}

// tailOffset returns the offset of the first of the last n complete lines
// of f.
func tailOffset(f *os.File, n int) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if n == 0 {
		return size, nil
	}
	buf := make([]byte, 32<<10)
	// The last newline ends the last complete line (what follows it is a
	// line being written, not counted); each newline before it starts one
	// more line back.
	count := -1
	for pos := size; pos > 0; {
		chunk := min(int64(len(buf)), pos)
		pos -= chunk
		if _, err := f.ReadAt(buf[:chunk], pos); err != nil && err != io.EOF {
			return 0, err
		}
		for i := chunk - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			count++
			if count == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}
