// Package shimtest is a black-box test suite of berth's container shim
// (cmd/berth-shim): it runs the shim binary, as the engine does, against a
// fake OCI runtime (testdata/runtime.sh) and checks what the engine relies
// on: the readiness pipe, state.json, container.log, health.json, the
// attach socket, the runtime's command lines, restarts, auto-removal and
// the container init. No root, runc or real container is needed.
//
// The binary under test is $BERTH_TEST_SHIM if set; else cmd/berth-shim
// built as `make build` builds it (testutil.BuildShim).
package shimtest
