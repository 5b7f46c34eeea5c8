// Package reconciler converges the machine onto a Compose project: Observe
// reads the project's containers, networks and volumes once; Compute turns the
// desired project and the observed state into a Plan, pure data with no I/O;
// Apply walks the plan's steps in dependency order, in parallel, and makes no
// decisions of its own. up, down, start, stop and scale are all plans.
//
// The reconciler talks to the engine and the managers through the small
// interfaces in runtime.go; engine.Engine, netmgr.Manager and volmgr.Store
// implement them, and reconcilertest-style fakes in the tests do too.
package reconciler
