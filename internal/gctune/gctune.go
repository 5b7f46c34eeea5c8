// Package gctune sets the garbage collector's policy for a berth process
// before the other packages' initialisation runs: compose-go's JSON
// schema library alone allocates 1.7 MB while it initialises, which under
// Go's default policy starts a collection before main begins. Only
// cmd/berth imports it. Go initialises packages in the order of their
// import paths, once their own imports are, so this package runs before
// every github.com package whose path sorts after it (inittrace shows it).
package gctune

import (
	"os"
	"runtime/debug"
)

// CLIPercent is GOGC for a CLI run: a run is short and its live heap
// small, so collecting less often than Go's default of 100 takes ~6 ms off
// a no-op `up` of 20 services.
const CLIPercent = 400

// CLIMemoryLimit is the soft memory limit of a run when GOMEMLIMIT is not
// set: a long one (a build of a context of 100k files) collects as often as
// it must to stay near it, rather than grow to 5x its live heap.
const CLIMemoryLimit = 128 << 20

func init() {
	if isResolver(os.Args) {
		return // a network's DNS resolver lives long: Go's defaults
	}
	debug.SetGCPercent(CLIPercent)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(CLIMemoryLimit)
	}
}

// isResolver tells whether args are those of `berth resolver`, the hidden
// command a network's DNS resolver runs as.
func isResolver(args []string) bool {
	return len(args) > 1 && args[1] == "resolver"
}
