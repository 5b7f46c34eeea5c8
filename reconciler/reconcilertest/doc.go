// Package reconcilertest holds the test doubles of the reconciler's
// dependencies and the conformance suites that keep them honest: Fake, an
// in-memory engine, network manager, volume store and image store; and
// RunRuntimeSuite, RunNetworksSuite, RunVolumesSuite and RunImagesSuite,
// which check any implementation against the contracts written on the
// reconciler's interfaces (reconciler/runtime.go), one named subtest per
// clause. The reconciler's tests run the suites against Fake and, as root,
// against the real engine and managers.
//
// The package does not import the reconciler, whose own (internal) tests
// import it. Its interfaces Runtime, Networks, Volumes and Images are the
// reconciler's, method for method; the reconciler's tests check that at
// compile time, in both directions.
package reconcilertest
