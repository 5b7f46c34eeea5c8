package shim

import (
	"bytes"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// maxLine is the longest log entry: a longer line is split into entries of
// this size, as Docker's json-file driver does.
const maxLine = 16 << 10

// readBuf is the size of one read from a container's output pipe.
const readBuf = 32 << 10

// logWriter appends JSON lines to container.log. Each batch of lines (what
// one read of a pipe gave) is one write, so lines of the two streams never
// interleave.
type logWriter struct {
	mu sync.Mutex // guards f
	f  *os.File
}

func openLogWriter(path string) (*logWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, err
	}
	return &logWriter{f: f}, nil
}

func (w *logWriter) write(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.f.Write(b)
}

func (w *logWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// copy reads r until EOF or error, writing its lines as log entries of
// stream, and then sends on done. Buffers are allocated once per stream.
func (w *logWriter) copy(r *os.File, stream string, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	lc := lineCutter{stream: stream, line: make([]byte, 0, maxLine), out: make([]byte, 0, 2*readBuf)}
	buf := make([]byte, readBuf)
	for {
		n, err := r.Read(buf)
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
