// Command berth-shim is berth's per-container shim (`berth-shim shim …`)
// and, bind-mounted into a container at /.berth/init, that container's
// init: package shim and nothing else, so that the process that stays
// beside every container is small.
//
// It is not installed on its own. `make build` builds it first and embeds
// it into berth (the shimembed build tag, see internal/shimbin); berth
// writes it under its state root on first use and starts it from there.
// A berth built without it (plain `go build ./cmd/berth`) runs itself as
// the shim and the init instead: the same code, in a bigger process.
package main

import (
	"os"

	"github.com/berth-dev/berth/engine/shim"
)

func main() {
	shim.MaybeInit()
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	_, _ = os.Stderr.WriteString("berth-shim is started by berth: berth-shim shim --root DIR --run-dir DIR --runtime PATH --id ID\n")
	os.Exit(2)
}
