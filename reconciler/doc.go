// Package reconciler owns every lifecycle of a Compose project. Converge is
// its one entry point: it takes the project's lock, Observe reads the
// project's containers, networks and volumes once, Compute turns the desired
// project and the observed state into a Plan (pure data, no I/O), and Apply
// walks the plan's steps in dependency order, in parallel, making no
// decisions of its own. up, create, down (with --rmi), start, stop, rm and
// run's one-off container and its removal are all plans.
//
// The reconciler talks to the engine and the managers through the small
// interfaces in runtime.go; engine.Engine, netmgr.Manager, the engine's
// volume store and image.Store implement them, and so does the in-memory
// fake the tests use.
package reconciler
