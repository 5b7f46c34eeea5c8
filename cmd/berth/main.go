// Command berth is a daemonless, declarative app runner: the Compose verbs
// (up, down, ps, logs, config, …) at the top and the engine's own commands
// under image, container, volume and network. The per-container shim and
// the containers' init are a small C program of their own, cmd/berth-shim,
// which `make build` compiles and embeds (see internal/shimbin); a berth
// built without it does everything but start containers.
package main

import (
	"context"
	"os"

	// First: the garbage collector's policy for a CLI run (the resolver
	// keeps Go's defaults), set before the other packages initialise.
	_ "github.com/berth-dev/berth/internal/gctune"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "shim-install" { // hidden: the embedded shim, for benchmarks
		os.Exit(installShim(os.Args[2]))
	}
	if len(os.Args) == 3 && os.Args[1] == "log-compress" { // hidden: the shim's, after it rotated a log
		if err := engine.CompressRotatedLogs(os.Args[2]); err != nil {
			_, _ = os.Stderr.WriteString("berth log-compress: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == "resolver" { // hidden: a network's DNS resolver
		os.Exit(netmgr.ResolverMain(os.Args[2:]))
	}
	code := run(context.Background(), os.Args[1:])
	stopProfile()
	os.Exit(code)
}

// stopProfile ends a profile begun at start (see profile_berthprof.go); a
// no-op in ordinary builds.
var stopProfile = func() {}
