package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// Winsize is a terminal's size.
type Winsize struct{ Rows, Cols uint16 }

// AttachIO are the caller's ends of an attach: nil Stdin sends nothing,
// nil Stdout or Stderr drops that output.
type AttachIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Resize carries the caller's terminal size, for a container with a
	// terminal. A size waiting on it when Attach begins is sent before
	// any input.
	Resize <-chan Winsize
	// CloseStdin closes the container's stdin when Stdin ends (a container
	// without a terminal then sees EOF).
	CloseStdin bool
}

// Attach connects the caller to the container's shim: Stdin goes to the
// container's stdin (OpenStdin) or terminal (Tty), and the container's raw
// output (the latest 64 KiB first, then as it comes) to Stdout and Stderr.
// It returns once the container has exited for good (the shim is gone),
// or when ctx is done. errdefs.ErrFailedPrecondition if the container is
// not running.
func (e *Engine) Attach(ctx context.Context, id ContainerID, aio AttachIO) error {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return err
	}
	if !active(st.Status) {
		return fmt.Errorf("container %q is %s, not running: %w", rec.Config.Name, st.Status, errdefs.ErrFailedPrecondition)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", ctrstate.AttachSocket(e.opt.RunDir, string(rec.ID)))
	if err != nil {
		return fmt.Errorf("container %q: attach: %w", rec.Config.Name, withClass(err, errdefs.ErrUnavailable))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	var wmu sync.Mutex
	send := func(typ byte, b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		hdr := [5]byte{typ}
		binary.BigEndian.PutUint32(hdr[1:], uint32(len(b)))
		if _, err := conn.Write(hdr[:]); err != nil {
			return err
		}
		_, err := conn.Write(b)
		return err
	}
	sendSize := func(ws Winsize) error {
		var b [4]byte
		binary.BigEndian.PutUint16(b[:2], ws.Rows)
		binary.BigEndian.PutUint16(b[2:], ws.Cols)
		return send(ctrstate.FrameResize, b[:])
	}
	// A size already waiting goes before any input: what the caller typed
	// first runs in a terminal of the caller's size.
	if aio.Resize != nil {
		select {
		case ws, ok := <-aio.Resize:
			if ok {
				if err := sendSize(ws); err != nil {
					return fmt.Errorf("container %q: attach: %w", rec.Config.Name, err)
				}
			}
		default:
		}
	}
	if aio.Stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := aio.Stdin.Read(buf)
				if n > 0 && send(ctrstate.FrameStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					if aio.CloseStdin {
						_ = send(ctrstate.FrameCloseStdin, nil)
					}
					return
				}
			}
		}()
	}
	if aio.Resize != nil {
		go func() {
			for ws := range aio.Resize {
				if sendSize(ws) != nil {
					return
				}
			}
		}()
	}
	var hdr [5]byte
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil // the shim is gone: the container exited for good
			}
			return fmt.Errorf("attach: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if int(n) > len(buf) {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(conn, buf[:n]); err != nil {
			return fmt.Errorf("attach: %w", err)
		}
		w := aio.Stdout
		if hdr[0] == ctrstate.FrameStderr {
			w = aio.Stderr
		}
		if w != nil {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
	}
}
