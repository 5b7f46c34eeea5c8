package engine

import (
	"sync"
	"syscall"
)

// x32Served reports whether the running kernel serves x32 system calls
// (CONFIG_X86_X32_ABI, and not turned off at boot): it asks for getpid
// through the x32 ABI, which such a kernel answers and any other refuses
// with ENOSYS.
var x32Served = sync.OnceValue(func() bool {
	const x32Bit, getpid = 0x40000000, 39
	_, _, errno := syscall.RawSyscall(x32Bit|getpid, 0, 0, 0)
	return errno != syscall.ENOSYS
})
