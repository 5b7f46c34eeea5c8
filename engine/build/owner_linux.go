package build

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// An owner names a process for as long as it lives and never again: its
// PID and its start time (field 22 of /proc/PID/stat, clock ticks since
// boot), "1234.56789". Scratch files and RUN containers carry their
// builder's owner, so that the next build can tell what a killed one left.

var self = sync.OnceValue(func() string {
	o, err := ownerOf(os.Getpid())
	if err != nil {
		return fmt.Sprintf("%d.0", os.Getpid()) // /proc unreadable: never matches a live owner
	}
	return o
})

// ownerOf is the owner of the running process pid.
func ownerOf(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted from the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return fmt.Sprintf("%d.%s", pid, f[19]), nil
}

// ownerAlive tells whether the process o names still runs. An owner that
// does not parse is dead.
func ownerAlive(o string) bool {
	pid, _, ok := strings.Cut(o, ".")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	cur, err := ownerOf(n)
	return err == nil && cur == o
}
