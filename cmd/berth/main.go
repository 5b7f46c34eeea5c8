// Command berth is a daemonless, declarative app runner: the Compose verbs
// (up, down, ps, logs, config, …) at the top and the engine's own commands
// under image, container, volume and network. The per-container shim and
// the containers' init are a small program of their own, cmd/berth-shim,
// which `make build` embeds (see internal/shimbin); built without it, berth
// is that shim itself (`berth shim`, hidden) and, bind-mounted into a
// container, its init process.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/berth-dev/berth/engine/shim"
	"github.com/berth-dev/berth/netmgr"
)

func main() {
	if shim.IsInit() {
		os.Exit(shim.InitMain(os.Args[1:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "shim" { // hidden from help
		os.Exit(shim.Main(os.Args[2:]))
	}
	if len(os.Args) == 3 && os.Args[1] == "shim-install" { // hidden: the embedded shim, for benchmarks
		os.Exit(installShim(os.Args[2]))
	}
	if len(os.Args) > 1 && os.Args[1] == "resolver" { // hidden: a network's DNS resolver
		os.Exit(netmgr.ResolverMain(os.Args[2:]))
	}
	// A CLI run is short and its live heap small: collecting less often
	// takes ~6 ms off a no-op `up` of 20 services. The shim and the resolver
	// above keep the default, as they live long.
	debug.SetGCPercent(400)
	os.Exit(run(context.Background(), os.Args[1:]))
}
