package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ShimCFlags are the C compiler's flags for the shim, as the Makefile's
// build target passes them (static: it runs inside containers as their
// init).
var ShimCFlags = []string{"-static", "-Os", "-s", "-std=gnu11", "-Wall", "-Wextra", "-Werror"}

// BuildShim compiles berth's shim (cmd/berth-shim, C) into path as `make
// build` does: with the compiler $SHIM_CC names, else musl-gcc when it is
// installed (`make deps` installs it), else cc. Without a C compiler it
// fails with the compiler's error.
func BuildShim(path string) error {
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "cmd", "berth-shim")
	files, err := filepath.Glob(filepath.Join(src, "*.c"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("build the shim: no C sources in %s", src)
	}
	cc := os.Getenv("SHIM_CC")
	if cc == "" {
		cc = "cc"
		if _, err := exec.LookPath("musl-gcc"); err == nil {
			cc = "musl-gcc"
		}
	}
	args := append(append(append([]string{}, ShimCFlags...), "-o", path), files...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("build the shim: %s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return nil
}
