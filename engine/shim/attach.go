package shim

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// replayMax is how much of the latest output a new attach client is sent
// first (what the container wrote before the client came).
const replayMax = 64 << 10

// attachServer lets clients (berth container run -i, attach) write to the
// container's stdin or terminal and read its raw output, on the abstract
// socket ctrstate.AttachSocket. Only clients of the shim's own user are
// served. Frames are ctrstate's: one type byte, a 4-byte big-endian
// length, the payload.
type attachServer struct {
	l *unixListener

	mu      sync.Mutex
	clients map[*os.File]bool
	replay  []byte   // the latest output, at most replayMax, as frames
	stdin   *os.File // the container's stdin pipe (without a terminal); nil when closed
	tty     *os.File // the terminal's master side (with one)
}

func (s *shim) listenAttach() error {
	path := ctrstate.AttachSocket(s.opt.runDir, s.opt.id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return errors.New("attach socket: " + err.Error())
	}
	_ = os.Remove(path) // left by a shim that was killed
	l, err := listenUnix(path)
	if err != nil {
		return errors.New("attach socket: " + err.Error())
	}
	s.attach = &attachServer{l: l, clients: map[*os.File]bool{}}
	go s.attach.serve()
	return nil
}

// setStreams points the server at the current run's stdin and terminal.
func (a *attachServer) setStreams(stdin, tty *os.File) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stdin, a.tty = stdin, tty
	a.replay = a.replay[:0]
}

func (a *attachServer) serve() {
	for {
		c, err := a.l.accept()
		if err != nil {
			return
		}
		if !sameUser(c) {
			_ = c.Close()
			continue
		}
		a.mu.Lock()
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, werr := c.Write(a.replay)
		if werr == nil {
			a.clients[c] = true
		}
		a.mu.Unlock()
		if werr != nil {
			_ = c.Close()
			continue
		}
		go a.read(c)
	}
}

func sameUser(c *os.File) bool {
	cred, err := peerCred(c)
	return err == nil && cred != nil && (cred.Uid == 0 || int(cred.Uid) == os.Getuid())
}

// read takes a client's frames: stdin data, a terminal size, the end of
// its stdin.
func (a *attachServer) read(c *os.File) {
	defer func() {
		a.mu.Lock()
		delete(a.clients, c)
		a.mu.Unlock()
		_ = c.Close()
	}()
	var hdr [5]byte
	buf := make([]byte, 32<<10)
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := be32(hdr[1:])
		if n > uint32(len(buf)) {
			return
		}
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return
		}
		a.mu.Lock()
		switch hdr[0] {
		case ctrstate.FrameStdin:
			switch {
			case a.tty != nil:
				_, _ = a.tty.Write(buf[:n])
			case a.stdin != nil:
				_, _ = a.stdin.Write(buf[:n])
			}
		case ctrstate.FrameCloseStdin:
			if a.stdin != nil {
				_ = a.stdin.Close()
				a.stdin = nil
			}
		case ctrstate.FrameResize:
			if a.tty != nil && n == 4 {
				ws := &unix.Winsize{Row: be16(buf[:2]), Col: be16(buf[2:4])}
				_ = unix.IoctlSetWinsize(int(a.tty.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
		a.mu.Unlock()
	}
}

// output sends a chunk of the container's output to every client, and
// keeps it for the replay. A client that cannot take it within a second
// is dropped: the container's output never waits for a client.
func (a *attachServer) output(stream byte, b []byte) {
	if a == nil {
		return
	}
	frame := make([]byte, 5+len(b))
	frame[0] = stream
	putBE32(frame[1:], uint32(len(b)))
	copy(frame[5:], b)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.replay)+len(frame) <= replayMax {
		a.replay = append(a.replay, frame...)
	}
	for c := range a.clients {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(frame); err != nil {
			delete(a.clients, c)
			_ = c.Close()
		}
	}
}

// close ends every client's stream: the container is gone for good.
func (a *attachServer) close() {
	if a == nil {
		return
	}
	_ = a.l.close()
	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range a.clients {
		_ = c.Close()
	}
	if a.stdin != nil {
		_ = a.stdin.Close()
	}
}

// endRun detaches the streams of a run that ended.
func (a *attachServer) endRun() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stdin != nil {
		_ = a.stdin.Close()
	}
	a.stdin, a.tty = nil, nil
}
