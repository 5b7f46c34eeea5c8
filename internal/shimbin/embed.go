//go:build shimembed

package shimbin

import _ "embed" // the shim program

// binary is cmd/berth-shim, built and put in place by `make build`.
//
//go:embed berth-shim
var binary []byte
