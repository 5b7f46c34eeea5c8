// Package bench measures berth against its peers, Docker Compose on Docker
// Engine and podman-compose, on the same Compose projects and the same
// busybox image in one run: cold `up -d`, no-op `up -d`, `up -d` after one
// service changed, and `down -v`, for projects of 1, 5 and 20 services.
//
// The benchmarks are in the package's tests and run only with BERTH_BENCH=1,
// as root; hack/bench-compose.sh installs the peers, builds berth, runs them
// and writes RESULTS.md. See README.md.
package bench
