package engine

import (
	"bytes"
	"sync"
	"syscall"

	"github.com/berth-dev/berth/internal/smallfile"
)

// x32Served reports whether the running kernel serves x32 system calls
// (CONFIG_X86_X32_ABI, and not turned off at boot): it asks for getpid
// through the x32 ABI, which such a kernel answers and any other refuses
// with ENOSYS. A berth that runs under a seccomp filter of its own (in a
// container) does not ask, since a filter without x32 would kill it for
// asking, and keeps Docker's profile whole.
var x32Served = sync.OnceValue(func() bool {
	if underSeccomp() {
		return true
	}
	const x32Bit, getpid = 0x40000000, 39
	_, _, errno := syscall.RawSyscall(x32Bit|getpid, 0, 0, 0)
	return errno != syscall.ENOSYS
})

// underSeccomp reports whether this process runs under a seccomp filter,
// or cannot tell.
func underSeccomp() bool {
	b, err := smallfile.Read("/proc/self/status")
	if err != nil {
		return true
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("Seccomp:")); ok {
			return string(bytes.TrimSpace(v)) != "0"
		}
	}
	return true
}
