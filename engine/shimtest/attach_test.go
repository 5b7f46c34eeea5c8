package shimtest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// attachClient is a client of the shim's attach socket: frames of one type
// byte, a 4-byte big-endian length and the payload.
type attachClient struct {
	t    *testing.T
	conn net.Conn

	mu     sync.Mutex
	cond   *sync.Cond
	got    map[byte][]byte // payloads received, by frame type, not yet consumed
	frames []byte          // types of the frames received, in order
	err    error           // why reading ended; nil while it goes on
}

func dialAttach(t *testing.T, e *env) *attachClient {
	t.Helper()
	path := ctrstate.AttachSocket(e.runDir, e.id)
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("attach socket: %v", err)
	}
	c := &attachClient{t: t, conn: conn, got: map[byte][]byte{}}
	c.cond = sync.NewCond(&c.mu)
	t.Cleanup(func() { _ = conn.Close() })
	go c.read()
	return c
}

func (c *attachClient) read() {
	var hdr [5]byte
	for {
		_, err := io.ReadFull(c.conn, hdr[:])
		var payload []byte
		if err == nil {
			payload = make([]byte, binary.BigEndian.Uint32(hdr[1:]))
			_, err = io.ReadFull(c.conn, payload)
		}
		c.mu.Lock()
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("a frame cut short")
			}
			c.err = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		c.got[hdr[0]] = append(c.got[hdr[0]], payload...)
		c.frames = append(c.frames, hdr[0])
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// waitCond waits until cond (called with c.mu held) holds or the reader
// stops, at most timeout; it reports whether cond held.
func (c *attachClient) waitCond(timeout time.Duration, cond func() bool) bool {
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	c.mu.Lock()
	defer c.mu.Unlock()
	for !cond() {
		if c.err != nil || time.Now().After(deadline) {
			return cond()
		}
		c.cond.Wait()
	}
	return true
}

// expect waits until the payloads of frames of type typ received so far
// hold text, and consumes them up to its end.
func (c *attachClient) expect(typ byte, text string) {
	c.t.Helper()
	ok := c.waitCond(readyTimeout, func() bool {
		i := strings.Index(string(c.got[typ]), text)
		if i < 0 {
			return false
		}
		c.got[typ] = c.got[typ][i+len(text):]
		return true
	})
	if !ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.t.Fatalf("attach: no frame %d with %q; got %q (reading: %v)", typ, text, c.got, c.err)
	}
}

// expectEOF waits for the shim to end the connection.
func (c *attachClient) expectEOF(timeout time.Duration) {
	c.t.Helper()
	c.waitCond(timeout, func() bool { return c.err != nil })
	c.mu.Lock()
	defer c.mu.Unlock()
	if !errors.Is(c.err, io.EOF) {
		c.t.Errorf("attach connection: %v, want EOF", c.err)
	}
}

func (c *attachClient) send(typ byte, payload []byte) {
	c.t.Helper()
	b := make([]byte, 5+len(payload))
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	copy(b[5:], payload)
	_ = c.conn.SetWriteDeadline(time.Now().Add(readyTimeout))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("attach: send: %v", err)
	}
}

// TestAttachStdin: with --stdin the container's stdin is the shim's, fed
// by attach clients: a client gets the earlier output replayed, then what
// the container writes, framed by stream; its input reaches the container
// and closing it ends the container's stdin. The output is logged too.
func TestAttachStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "echo before\necho errbefore >&2\nexec cat\n")
	s := e.startShim("--stdin")
	s.mustStart()
	path := ctrstate.AttachSocket(e.runDir, e.id)
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("attach directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	// What is logged has been sent to the replay too.
	e.waitLog("stdout", "before")
	e.waitLog("stderr", "errbefore")
	c := dialAttach(t, e)
	c.expect(ctrstate.FrameStdout, "before\n")
	c.expect(ctrstate.FrameStderr, "errbefore\n")

	c.send(ctrstate.FrameStdin, []byte("hello\n"))
	c.expect(ctrstate.FrameStdout, "hello\n")
	e.waitLog("stdout", "hello")
	// A second client gets the output so far, then what comes.
	c2 := dialAttach(t, e)
	c2.expect(ctrstate.FrameStdout, "before\nhello\n")
	c2.send(ctrstate.FrameStdin, []byte("from c2\n"))
	c.expect(ctrstate.FrameStdout, "from c2\n")
	c2.expect(ctrstate.FrameStdout, "from c2\n")

	c.send(ctrstate.FrameStdin, []byte("world"))
	c.send(ctrstate.FrameCloseStdin, nil)
	c.expect(ctrstate.FrameStdout, "world")
	s.waitExit0()
	c.expectEOF(5 * time.Second)
	c2.expectEOF(5 * time.Second)
	if st := e.state(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Errorf("state.json: %s", e.rawState())
	}
	got := strings.Join(streamLogs(e.readLog(), "stdout"), "|")
	if want := "before|hello|from c2|world"; got != want {
		t.Errorf("container.log stdout %q, want %q", got, want)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("the attach socket is left after the shim exited")
	}
	s.requireNoLeftovers()
}

// TestNoStdin: without --stdin the container's stdin is /dev/null.
func TestNoStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "cat\nreadlink /proc/$$/fd/0\n")
	s := e.startShim()
	s.mustStart()
	s.waitExit0()
	got := strings.Join(streamLogs(e.readLog(), "stdout"), "|")
	if got != os.DevNull {
		t.Errorf("container's stdin: %q, want %s", got, os.DevNull)
	}
}
