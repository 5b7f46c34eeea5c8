package shim

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// maxLine is the longest log entry: a longer line is split into entries of
// this size, as Docker's json-file driver does.
const maxLine = 16 << 10

// readBuf is the largest read from a container's output pipe. Reads start
// at readBufMin and double while they fill the buffer: a quiet container's
// shim holds little (its memory is zeroed, so touched, when allocated).
const (
	readBuf    = 32 << 10
	readBufMin = 4 << 10
)

// logWriter appends JSON lines to container.log. Each batch of lines (what
// one read of a pipe gave) is one write, so lines of the two streams never
// interleave.
//
// With a maximum size, a write that would take the file past it first
// rotates: container.log becomes container.log.1, .1 becomes .2, and so on,
// keeping maxFile files in all (Docker's json-file scheme).
type logWriter struct {
	mu      sync.Mutex // guards f and size
	f       *os.File
	path    string
	size    int64
	maxSize int64 // 0: no rotation
	maxFile int   // files kept, the current one included; at least 1
	// tap, if set, gets each chunk of raw output (attach clients).
	tap func(stream byte, b []byte)
}

func openLogWriter(path string, maxSize int64, maxFile int) (*logWriter, error) {
	w := &logWriter{path: path, maxSize: maxSize, maxFile: max(maxFile, 1)}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *logWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return err
	}
	w.f, w.size = f, 0
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size()
	}
	return nil
}

func (w *logWriter) write(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(b) > 0 {
		chunk := b
		if room := w.maxSize - w.size; w.maxSize > 0 && int64(len(b)) > room {
			// The whole entries that fit; then a new file.
			i := bytes.LastIndexByte(b[:max(room, 0)], '\n')
			switch {
			case i >= 0:
				chunk = b[:i+1]
			case w.size > 0:
				if err := w.rotate(); err != nil {
					_, _ = os.Stderr.WriteString("log rotation: " + err.Error() + "\n")
					w.maxSize = 0 // keep logging, unrotated
				}
				continue
			default: // an entry longer than a file: alone in one
				if j := bytes.IndexByte(b, '\n'); j >= 0 {
					chunk = b[:j+1]
				}
			}
		}
		n, _ := w.f.Write(chunk)
		w.size += int64(n)
		b = b[len(chunk):]
	}
}

// rotate shifts the files by one, dropping the oldest, and starts a new
// current file. On error it keeps writing where it can.
func (w *logWriter) rotate() error {
	name := func(i int) string { return w.path + "." + strconv.Itoa(i) }
	_ = w.f.Close()
	var err error
	if w.maxFile == 1 {
		err = os.Remove(w.path)
	} else {
		_ = os.Remove(name(w.maxFile - 1))
		for i := w.maxFile - 2; i >= 1; i-- {
			_ = os.Rename(name(i), name(i+1))
		}
		err = os.Rename(w.path, name(1))
	}
	if oerr := w.open(); oerr != nil {
		return oerr
	}
	return err
}

func (w *logWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// copy reads r until EOF or error, writing its lines as log entries of
// stream, and then sends on done. Buffers grow with the output, up to
// readBuf and maxLine, and are kept.
func (w *logWriter) copy(r *os.File, stream string, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	lc := lineCutter{stream: stream}
	buf := make([]byte, readBufMin)
	frame := byte(ctrstate.FrameStdout)
	if stream == "stderr" {
		frame = ctrstate.FrameStderr
	}
	for {
		n, err := r.Read(buf)
		if n > 0 && w.tap != nil {
			w.tap(frame, buf[:n])
		}
		if n > 0 {
			lc.feed(time.Now(), buf[:n])
			if len(lc.out) > 0 {
				w.write(lc.out)
				lc.out = lc.out[:0]
			}
		}
		if err != nil {
			lc.flush(time.Now())
			if len(lc.out) > 0 {
				w.write(lc.out)
			}
			return
		}
		if n == len(buf) && len(buf) < readBuf {
			buf = make([]byte, 2*len(buf))
		}
	}
}

// lineCutter turns a byte stream into log entries: one per line, without the
// newline, lines longer than maxLine split. A line without its newline yet is
// held back until the newline, maxLine bytes or the end of the stream.
type lineCutter struct {
	stream string
	line   []byte // the current line so far, at most maxLine bytes
	out    []byte // encoded entries not yet written
}

func (c *lineCutter) feed(now time.Time, data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		chunk := data
		if i >= 0 {
			chunk = data[:i]
		}
		for len(c.line)+len(chunk) > maxLine {
			room := maxLine - len(c.line)
			c.line = append(c.line, chunk[:room]...)
			c.emit(now)
			chunk = chunk[room:]
		}
		c.line = append(c.line, chunk...)
		if i < 0 {
			return
		}
		c.emit(now)
		data = data[i+1:]
	}
}

// flush emits a last line that had no newline.
func (c *lineCutter) flush(now time.Time) {
	if len(c.line) > 0 {
		c.emit(now)
	}
}

func (c *lineCutter) emit(now time.Time) {
	b := append(c.out, `{"time":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","stream":"`...)
	b = append(b, c.stream...)
	b = append(b, `","log":`...)
	b = ctrstate.AppendJSONString(b, c.line)
	c.out = append(b, "}\n"...)
	c.line = c.line[:0]
}
