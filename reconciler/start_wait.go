package reconciler

import "slices"

// awaitStarted adds, for start --wait, a wait until each selected service
// (with replicas) is ready, after the steps that start its containers
// (stepsOf, by service): as up --wait, its running containers count too.
func (b *builder) awaitStarted(stepsOf map[string][]int) {
	b.started = map[string][]int{}
	b.awaits = map[string]int{}
	for _, s := range b.desired.Services {
		if s.Scale == 0 || len(b.opt.Services) > 0 && !slices.Contains(b.opt.Services, s.Name) {
			continue
		}
		b.started[s.Name] = stepsOf[s.Name]
		b.await(s.Name, ConditionReady)
	}
}
