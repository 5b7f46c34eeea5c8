// Package testcontainers drives berth serve with testcontainers-go, a
// client that knows only the Docker Engine API: its own module, so that
// testcontainers' dependencies stay out of berth's. Its test carries the
// e2e build tag and runs the built binary (hack/e2e.sh runs it).
package testcontainers
