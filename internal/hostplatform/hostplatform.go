// Package hostplatform tells whether a platform ("os/arch[/variant]", as
// --platform and Compose's platform: take it) is the host's: berth runs
// linux images of the host's architecture only, with no emulation.
package hostplatform

import (
	"runtime"
	"strings"
)

// String is the host's platform, "linux/<GOARCH>".
func String() string { return "linux/" + runtime.GOARCH }

// Is reports whether p names the host's platform: linux and the host's
// architecture, in any of its spellings (x86_64, aarch64), with any
// variant, case-insensitive.
func Is(p string) bool { return isFor(p, runtime.GOARCH) }

func isFor(p, goarch string) bool {
	parts := strings.Split(strings.ToLower(p), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "linux" {
		return false
	}
	arch := parts[1]
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64":
		arch = "arm64"
	}
	return arch == goarch
}
