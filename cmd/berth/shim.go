package main

import (
	"os"

	"github.com/berth-dev/berth/internal/shimbin"
)

// installShim is `berth shim-install DIR` (hidden): it installs the shim
// this berth carries into DIR, as every command that opens the engine does
// under <root>/bin, and prints its path. The engine's benchmarks use it to
// run the shim berth ships. Exit code 1 when berth carries none.
func installShim(dir string) int {
	path, err := shimbin.Install(dir)
	switch {
	case err != nil:
		_, _ = os.Stderr.WriteString("berth shim-install: " + err.Error() + "\n")
		return 1
	case path == "":
		_, _ = os.Stderr.WriteString("berth shim-install: this berth carries no shim (built without the shimembed tag)\n")
		return 1
	}
	_, _ = os.Stdout.WriteString(path + "\n")
	return 0
}
