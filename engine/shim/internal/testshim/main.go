// Command testshim is the berth binary as far as the engine's tests need it:
// the shim (`testshim shim …`) and the container init (run as /.berth/init).
// The engine's tests build it and pass it as Options.Exe.
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
	_, _ = os.Stderr.WriteString("usage: testshim shim --root DIR --run-dir DIR --runtime PATH --id ID\n")
	os.Exit(2)
}
