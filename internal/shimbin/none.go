//go:build !shimembed

package shimbin

// binary is empty: this berth was built without the shimembed tag and
// carries no shim program.
var binary []byte
