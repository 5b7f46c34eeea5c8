// Command testresolver is the berth binary as far as the network tests of
// other packages need it: a network's DNS resolver (`testresolver resolver
// …`). Those tests build it and pass it as netmgr.Options.Exe, so that they
// do not depend on every package of cmd/berth compiling.
package main

import (
	"os"

	"github.com/berth-dev/berth/netmgr"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "resolver" {
		os.Exit(netmgr.ResolverMain(os.Args[2:]))
	}
	_, _ = os.Stderr.WriteString("usage: testresolver resolver --root DIR --network NAME [--upstream HOST:PORT]…\n")
	os.Exit(2)
}
