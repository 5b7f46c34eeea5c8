//go:build berthprof

package main

import (
	"os"
	"runtime/pprof"
)

// With the berthprof tag, BERTH_CPUPROFILE=FILE writes a CPU profile of the
// whole run (for profiling only; never in a release build).
func init() {
	p := os.Getenv("BERTH_CPUPROFILE")
	if p == "" {
		return
	}
	f, err := os.Create(p)
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
}
