package ctrstate

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// An owner names a process for as long as it lives and never again: its
// PID and its start time (ProcStart), "1234.56789". Files and directories a
// process makes for a while (a Create's temporary directory, a build's
// scratch layers and RUN containers) carry their maker's owner, so that
// whoever comes next can tell what a killed process left from what a live
// one is still making.

// Self is the running process's owner. Should /proc be unreadable it is
// "<pid>.0", which OwnerAlive never finds alive: what such a process leaves
// is anybody's to sweep.
var Self = sync.OnceValue(func() string {
	pid := os.Getpid()
	start, _, err := ProcStart(pid)
	if err != nil {
		return strconv.Itoa(pid) + ".0"
	}
	return strconv.Itoa(pid) + "." + strconv.FormatUint(start, 10)
})

// OwnerAlive reports whether the process owner o names still runs (and is
// not a zombie). An owner that does not parse, or names start time 0, is
// dead.
func OwnerAlive(o string) bool {
	pid, start, ok := strings.Cut(o, ".")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	s, err := strconv.ParseUint(start, 10, 64)
	if err != nil || s == 0 {
		return false
	}
	return Alive(n, s)
}
