package engine

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/creack/pty"
)

func TestPrivExec(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("exec", "sleep", "100"))
	t.Cleanup(func() { _ = e.Remove(ctx, id, true) })
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	run := func(cfg ExecConfig, stdin string) (int, string, string, error) {
		var out, errb bytes.Buffer
		code, err := e.Exec(ctx, id, cfg, ExecIO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
		return code, out.String(), errb.String(), err
	}
	if code, out, _, err := run(ExecConfig{Cmd: []string{"sh", "-c", "cat; echo $FOO; pwd; id -u; exit 7"}, Env: []string{"FOO=bar"}, WorkingDir: "/tmp", User: "nobody"}, "in\n"); err != nil || code != 7 || out != "in\nbar\n/tmp\n65534\n" {
		t.Errorf("exec: %d %q %v", code, out, err)
	}
	if code, _, _, err := run(ExecConfig{Cmd: []string{"nope"}}, ""); code != 127 || err == nil {
		t.Errorf("missing command: %d %v", code, err)
	}
	if code, _, _, _ := run(ExecConfig{Cmd: []string{"sh", "-c", "kill -9 $$"}}, ""); code != 137 {
		t.Errorf("killed: %d, want 137", code)
	}
	t.Run("tty", func(t *testing.T) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		_ = pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 123})
		done := make(chan string)
		go func() {
			b, _ := io.ReadAll(ptmx)
			done <- string(b)
		}()
		code, err := e.Exec(ctx, id, ExecConfig{Cmd: []string{"sh", "-c", "test -t 0 && tty && stty size; exit 3"}, Tty: true}, ExecIO{Stdin: tty, Stdout: tty, Stderr: tty})
		_ = tty.Close()
		var out string
		select {
		case out = <-done:
		case <-time.After(5 * time.Second):
			_ = ptmx.Close()
			out = <-done
		}
		if err != nil || code != 3 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "40 123") {
			t.Errorf("exec -t: %d %v %q", code, err, out)
		}
	})
	procs, err := e.Top(ctx, id)
	if err != nil || len(procs) == 0 || !strings.Contains(procs[0].Cmd, "sleep 100") {
		t.Errorf("top: %+v %v", procs, err)
	}
	if err := e.Stop(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Exec(ctx, id, ExecConfig{Cmd: []string{"true"}}, ExecIO{}); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("exec in a stopped container: %v", err)
	}
}

func TestPrivAttach(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	t.Run("stdin without a terminal", func(t *testing.T) {
		cfg := busybox("attach", "sh", "-c", "echo ready; read line; echo got:$line; cat; echo err >&2; exit 4")
		cfg.OpenStdin = true
		id := mustCreate(t, e, cfg)
		t.Cleanup(func() { _ = e.Remove(ctx, id, true) })
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		var out, errb syncBuffer
		err := e.Attach(ctx, id, AttachIO{Stdin: strings.NewReader("hello\nrest\n"), Stdout: &out, Stderr: &errb, CloseStdin: true})
		if err != nil {
			t.Fatal(err)
		}
		if st := waitExited(t, e, id); st.ExitCode != 4 || out.String() != "ready\ngot:hello\nrest\n" || errb.String() != "err\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", st.ExitCode, out.String(), errb.String())
		}
	})
	t.Run("terminal", func(t *testing.T) {
		cfg := busybox("attach-tty", "sh")
		cfg.OpenStdin, cfg.Tty = true, true
		id := mustCreate(t, e, cfg)
		t.Cleanup(func() { _ = e.Remove(ctx, id, true) })
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		resize := make(chan Winsize, 1)
		resize <- Winsize{Rows: 33, Cols: 99}
		pr, pw := io.Pipe()
		var out syncBuffer
		done := make(chan error, 1)
		go func() { done <- e.Attach(ctx, id, AttachIO{Stdin: pr, Stdout: &out, Resize: resize}) }()
		// The size waiting when Attach begins goes before the input.
		_, _ = pw.Write([]byte("stty size; exit 6\n"))
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("attach did not end; output %q", out.String())
		}
		close(resize)
		if st := waitExited(t, e, id); st.ExitCode != 6 || !strings.Contains(out.String(), "33 99") {
			t.Errorf("exit %d, output %q", st.ExitCode, out.String())
		}
	})
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
