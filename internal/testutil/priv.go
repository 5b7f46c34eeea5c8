// Package testutil holds helpers shared by berth's tests.
package testutil

import (
	"os"
	"strconv"
	"testing"
)

// RequirePrivileged skips a test that needs root, except in CI (CI=true),
// where it fails: a misconfigured runner must not turn privileged tests green.
func RequirePrivileged(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("privileged test running without root in CI")
	}
	t.Skip("requires root")
}

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}
