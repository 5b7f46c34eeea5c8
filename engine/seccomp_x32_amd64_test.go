package engine

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// installX32Trap puts this process under a seccomp filter that kills it on
// an x32 getpid (what the probe asks) and allows everything else.
func installX32Trap() error {
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: 0x40000000 | 39},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_KILL_PROCESS},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}

// A berth under a seccomp filter of its own (in a container) must not ask
// the kernel for an x32 call: a filter without x32 kills the asker.
func TestX32ProbeUnderSeccomp(t *testing.T) {
	switch os.Getenv("BERTH_TEST_X32_CHILD") {
	case "probe": // what berth does
		if err := installX32Trap(); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("served=" + map[bool]string{true: "yes", false: "no"}[x32Served()] + "\n")
		return
	case "raw": // the trap works: asking directly is fatal
		if err := installX32Trap(); err != nil {
			t.Fatal(err)
		}
		syscall.RawSyscall(0x40000000|39, 0, 0, 0)
		return
	}
	run := func(mode string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestX32ProbeUnderSeccomp$")
		cmd.Env = append(os.Environ(), "BERTH_TEST_X32_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("raw")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGSYS {
		t.Fatalf("an x32 getpid under the trap: %v, want death by SIGSYS (output %q)", err, out)
	}
	out, err = run("probe")
	if err != nil || !strings.Contains(out, "served=yes") {
		t.Errorf("x32Served under a seccomp filter: %v, output %q; want served=yes, without asking", err, out)
	}
}
