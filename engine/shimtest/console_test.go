package shimtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// consoleHelper is the test binary run by the fake runtime's create with
// --console-socket (SHIMTEST_HELPER=console; args: the socket, the start
// fifo, the bundle): as runc does, it makes a terminal and sends its
// master side over the socket; then it becomes the container's process,
// in a session of its own with the terminal as its controlling terminal
// and stdio, waiting for start as the other containers do.
func consoleHelper(args []string) {
	die := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "console helper: %s: %v\n", what, err)
		os.Exit(121)
	}
	if len(args) != 3 {
		die("usage", fmt.Errorf("args %q", args))
	}
	sock, fifo, bundle := args[0], args[1], args[2]
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		die("open /dev/ptmx", err)
	}
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		die("unlockpt", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		die("ptsname", err)
	}
	slaveName := "/dev/pts/" + strconv.Itoa(n)
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		die("socket", err)
	}
	if err := unix.Connect(c, &unix.SockaddrUnix{Name: sock}); err != nil {
		die("connect "+sock, err)
	}
	if err := unix.Sendmsg(c, []byte(slaveName), unix.UnixRights(master), nil, 0); err != nil {
		die("sendmsg", err)
	}
	_ = unix.Close(c)
	_ = unix.Close(master)
	if _, err := unix.Setsid(); err != nil {
		die("setsid", err)
	}
	slave, err := unix.Open(slaveName, unix.O_RDWR, 0)
	if err != nil {
		die("open "+slaveName, err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		die("TIOCSCTTY", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup2(slave, fd); err != nil {
			die("dup2", err)
		}
	}
	if slave > 2 {
		_ = unix.Close(slave)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHIMTEST_HELPER=") {
			env = append(env, kv)
		}
	}
	argv := []string{"/bin/sh", "-c", `read _ <"$0"; cd "$1" && exec /bin/sh ./cmd`, fifo, bundle}
	die("exec", syscall.Exec(argv[0], argv, env))
}

// TestTTY: with --tty the shim takes the terminal the runtime sends to its
// console socket: the terminal's output is logged as stdout, attach
// clients write to it and resize it.
func TestTTY(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skip("no /dev/ptmx")
	}
	e := newEnv(t, `echo tty-hello
read line
stty size
echo "got:$line"
`)
	s := e.startShim("--tty", "--stdin")
	s.mustStart()
	run := e.verbCalls("run")
	if len(run) != 1 {
		t.Fatalf("run calls: %q", run)
	}
	var sock string
	for i, a := range run[0] {
		if a == "--console-socket" && i+1 < len(run[0]) {
			sock = run[0][i+1]
		}
	}
	if sock == "" {
		t.Fatalf("run without --console-socket: %q", run[0])
	}
	// The terminal turns \n into \r\n.
	e.waitLog("stdout", "tty-hello\r")
	c := dialAttach(t, e)
	c.expect(ctrstate.FrameStdout, "tty-hello\r\n") // the replay
	c.send(ctrstate.FrameResize, []byte{0, 40, 0, 100})
	c.send(ctrstate.FrameStdin, []byte("input\n"))
	c.expect(ctrstate.FrameStdout, "got:input\r\n")
	s.waitExit0()
	if st := e.state(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Errorf("state.json: %s", e.rawState())
	}
	got := strings.Join(streamLogs(e.readLog(), "stdout"), "|")
	if want := "tty-hello\r|input\r|40 100\r|got:input\r"; got != want {
		t.Errorf("container.log stdout %q, want %q", got, want)
	}
	if n := len(streamLogs(e.readLog(), "stderr")); n != 0 {
		t.Errorf("%d stderr entries with a terminal", n)
	}
	c.expectEOF(5 * time.Second)
	s.requireNoLeftovers()
}
