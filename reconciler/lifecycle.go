package reconciler

import (
	"maps"
	"slices"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
	"github.com/berth-dev/berth/volmgr"
)

// lifecycle plans start, stop and rm of the project's existing containers:
// start goes dependencies first, stop and rm dependents first. Containers of
// services not selected are left alone; without a file (desired nil) every
// container of the project counts, in name order.
func (b *builder) lifecycle() error {
	rank := map[string]int{}
	deps := map[string][]string{}
	if b.desired != nil {
		order, err := topoOrder(b.desired.Services)
		if err != nil {
			return err
		}
		for i, n := range order {
			rank[n] = i
		}
		for _, s := range b.desired.Services {
			for _, d := range s.DependsOn {
				deps[s.Name] = append(deps[s.Name], d.Service)
			}
		}
	}
	forward := b.opt.Mode == ModeStart
	ctrs := slices.Clone(b.observed.Containers)
	slices.SortStableFunc(ctrs, func(x, y ObservedContainer) int {
		if forward {
			return rank[x.Service] - rank[y.Service]
		}
		return rank[y.Service] - rank[x.Service]
	})
	stepsOf := map[string][]int{}
	removed := map[string]int{} // container name → its removal step
	for _, c := range ctrs {
		if len(b.opt.Services) > 0 && !slices.Contains(b.opt.Services, c.Service) ||
			len(b.opt.Containers) > 0 && !slices.Contains(b.opt.Containers, c.Name) {
			continue
		}
		// Wait for the steps of the services this one must follow: its
		// dependencies when starting, its dependents when stopping.
		var after []int
		for svc, ids := range stepsOf {
			if forward && slices.Contains(deps[c.Service], svc) || !forward && slices.Contains(deps[svc], c.Service) {
				after = append(after, ids...)
			}
		}
		var a Action
		running := c.Status == engine.StatusRunning || c.Status == engine.StatusPaused || c.Status == engine.StatusRestarting
		switch b.opt.Mode {
		case ModeStart:
			if running || c.OneOff {
				continue
			}
			a = StartContainer{Name: c.Name, ID: c.ID, Hooks: b.hooksOfName(c.Service)}
		case ModeStop:
			if !running {
				continue
			}
			a = StopContainer{Name: c.Name, ID: c.ID, Timeout: b.stopTimeoutOf(c.Service), Hooks: b.hooksOfName(c.Service)}
		case ModeRemove:
			if running && !b.opt.Force {
				continue
			}
			a = RemoveContainer{Name: c.Name, ID: c.ID, Reason: "rm", Timeout: b.stopTimeoutOf(c.Service), Hooks: b.hooksOfName(c.Service)}
		}
		id := b.add(a, after...)
		stepsOf[c.Service] = append(stepsOf[c.Service], id)
		if _, rm := a.(RemoveContainer); rm {
			removed[c.Name] = id
		}
	}
	if b.opt.RemoveVolumes {
		b.removeAnonymousVolumes(removed)
	}
	if b.opt.Mode == ModeStart && b.opt.Wait && b.desired != nil {
		b.awaitStarted(stepsOf)
	}
	return nil
}

// removeAnonymousVolumes adds, for rm -v and run --rm, the removal of the
// anonymous volumes the removed containers (name → step) mount, once no
// container that stays mounts them.
func (b *builder) removeAnonymousVolumes(removed map[string]int) {
	after := map[string][]int{}
	kept := map[string]bool{}
	for _, c := range b.observed.Containers {
		id, gone := removed[c.Name]
		for _, v := range c.Volumes {
			if !gone {
				kept[v] = true
				continue
			}
			after[v] = append(after[v], id)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(after)) {
		vol := b.observed.Volumes[v]
		if kept[v] || vol == nil {
			continue
		}
		if _, anon := vol.Labels[volmgr.LabelAnonymous]; anon {
			b.add(RemoveVolume{Name: v}, after[v]...)
		}
	}
}

// stopTimeoutOf is the stop timeout of a service by name, for containers
// that may outlive their service in the file.
func (b *builder) stopTimeoutOf(service string) time.Duration {
	if b.desired != nil {
		if i := slices.IndexFunc(b.desired.Services, func(s spec.Service) bool { return s.Name == service }); i >= 0 {
			return b.stopTimeout(&b.desired.Services[i])
		}
	}
	return b.timeout(DefaultStopTimeout)
}
