// Package deploy converges a Compose project onto a cluster scheduler:
// Docker Swarm today (deploy/swarm), Kubernetes later. It owns the shape
// every target shares, the same as `up`'s: the target translates the
// project into objects in its own API's terms and observes what the
// cluster holds; Compute compares the two into a Plan (pure data, printed
// by --dry-run); Apply carries the plan out; Wait returns when every
// service runs its desired tasks. deploy runs no container itself.
package deploy
