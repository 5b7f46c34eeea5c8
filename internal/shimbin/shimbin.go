// Package shimbin carries berth's shim program (cmd/berth-shim) inside the
// berth binary and installs it where the engine can start it.
//
// Why a second program: the shim stays beside every container for as long
// as it runs, and a process's resident memory is mostly the pages of its
// own binary. berth re-executed as the shim held about 13 MiB; a Go
// program with the shim alone still held 2.6 MiB (a Go program that only
// sleeps holds 1.8), more than podman's conmon. cmd/berth-shim is C,
// linked statically against musl: 90 KB, about 130 KiB resident. Why
// embedded: berth stays one file to install and upgrade, and the shim that
// runs is always the one built with the berth that started it.
//
// `make build` compiles cmd/berth-shim, then builds berth with the
// shimembed build tag and the shim put in place by an -overlay (nothing
// generated is written into the source tree), passing its SHA-256 with -X
// so that the CLI does not hash it at every run. A berth built without the
// tag carries no shim: Install returns "" and the engine refuses to start
// containers, saying how to build berth.
package shimbin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// sum is the SHA-256 of binary in hex, set by the linker (-X); "": computed.
var sum string

// Embedded reports whether this berth carries the shim program.
func Embedded() bool { return len(binary) > 0 }

// Install makes sure dir holds the embedded shim as
// berth-shim-<first 16 hex digits of its SHA-256>, mode 0755, and returns
// that path; "" and no error when berth carries no shim. The file is
// content-addressed: one written by an earlier run is used as it is when
// it is a regular file of the right size and mode; else it is written
// atomically (temporary file, sync, rename) and read back to check its
// digest. Files of other builds stay, since the containers they
// supervise may still restart through them. Safe for concurrent use by
// several processes.
func Install(dir string) (string, error) {
	if !Embedded() {
		return "", nil
	}
	digest, err := digestOf()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "berth-shim-"+digest[:16])
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == 0o755 && fi.Size() == int64(len(binary)) {
		return path, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("shim %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return "", fmt.Errorf("shim: %w", err)
	}
	if err := atomicfile.WriteFile(path, binary, 0o755); err != nil {
		return "", fmt.Errorf("shim: %w", err)
	}
	if err := verify(path, digest); err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}

// digestOf is the shim's SHA-256 in hex: sum, checked for form, or
// computed.
func digestOf() (string, error) {
	if sum == "" {
		d := sha256.Sum256(binary)
		return hex.EncodeToString(d[:]), nil
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("shim: bad digest %q linked in", sum)
	}
	return sum, nil
}

// verify checks that the file at path has the digest want.
func verify(path, want string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("shim: %w", err)
	}
	got := sha256.Sum256(data)
	if hex.EncodeToString(got[:]) != want {
		return fmt.Errorf("shim %s: written with digest %x, want %s (is the linked-in digest the shim's?)", path, got, want)
	}
	if !bytes.Equal(data, binary) {
		return fmt.Errorf("shim %s: content differs from the embedded shim", path)
	}
	return nil
}
