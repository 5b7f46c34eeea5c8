// Package shim is the per-container supervisor: `berth shim …` (hidden),
// started detached by the engine for each container it starts.
package shim

// Main runs the shim with its command-line arguments and returns the exit code.
func Main(args []string) int { return 1 }
