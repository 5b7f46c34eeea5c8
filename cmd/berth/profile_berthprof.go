//go:build berthprof

package main

import (
	"os"
	"runtime/pprof"
)

// With the berthprof tag, BERTH_CPUPROFILE=FILE writes a CPU profile of the
// whole run, and BERTH_MEMPROFILE=FILE a heap profile (allocations over the
// run, and what is in use at its end) when it ends (for profiling only;
// never in a release build).
func init() {
	cpu, mem := os.Getenv("BERTH_CPUPROFILE"), os.Getenv("BERTH_MEMPROFILE")
	if cpu == "" && mem == "" {
		return
	}
	stop := func() {}
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			panic(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			panic(err)
		}
		stop = func() { pprof.StopCPUProfile(); f.Close() }
	}
	stopProfile = func() {
		stop()
		if mem == "" {
			return
		}
		f, err := os.Create(mem)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			panic(err)
		}
	}
}
