package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// preStartConfigs are the containers of s's pre_start hooks: each hook's
// specification (completed with the service's by Load), named
// <project>-<service>-pre_start-<i>, labelled as the service's one-off
// containers are plus the hook label, answering to no alias. Besides its
// own volumes a hook gets the service's named volumes and binds, what
// Docker Compose shares with it through volumes_from (the first replica's
// anonymous volumes are not shared: berth makes them with the replica).
func preStartConfigs(p *spec.Project, s *spec.Service) (RunPreStart, error) {
	a := RunPreStart{Project: p.Name, Service: s.Name}
	for i := range s.PreStart {
		h := s.PreStart[i]
		h.Name, h.ContainerName, h.Scale = s.Name, "", 1
		h.PreStart, h.PostStart, h.PreStop = nil, nil, nil
		for _, m := range h.Mounts {
			if m.Type == "volume" && m.Source == "" {
				return a, fmt.Errorf("service %q: pre_start[%d]: an anonymous volume is not supported in a pre_start container: %w", s.Name, i, errdefs.ErrNotImplemented)
			}
		}
		for _, m := range s.Mounts {
			if (m.Type == "bind" || (m.Type == "volume" && m.Source != "")) && !slices.ContainsFunc(h.Mounts, func(o spec.Mount) bool { return o.Target == m.Target }) {
				h.Mounts = append(h.Mounts, m)
			}
		}
		cfg, err := ContainerConfig(p, &h, 1)
		if err != nil {
			return a, fmt.Errorf("pre_start[%d]: %w", i, err)
		}
		cfg.Name = p.Name + "-" + s.Name + "-pre_start-" + strconv.Itoa(i)
		delete(cfg.Labels, spec.LabelContainerNumber)
		delete(cfg.Labels, spec.LabelConfigHash)
		cfg.Labels[spec.LabelOneOff] = spec.LabelTrue
		cfg.Labels[spec.LabelHook] = spec.HookPreStart
		cfg.Restart = engine.RestartPolicy{}
		cfg.Ports = nil
		for j := range cfg.Networks {
			cfg.Networks[j].Aliases = nil
		}
		a.Configs = append(a.Configs, cfg)
	}
	return a, nil
}

// runPreStart runs a's containers in turn, each to completion. Containers
// a failed run left are removed first. One that exits non-zero is kept for
// inspection and stops the rest, with Docker Compose's message; one that
// succeeds is removed.
func runPreStart(ctx context.Context, d Deps, a RunPreStart) error {
	labels := map[string]string{spec.LabelProject: a.Project, spec.LabelService: a.Service, spec.LabelHook: spec.HookPreStart}
	stale, err := d.Runtime.List(ctx, labels)
	if err != nil {
		return err
	}
	for _, c := range stale {
		if err := d.Runtime.Remove(ctx, c.ID, true); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("service %q: removing the pre_start container %s a failed run left: %w", a.Service, c.Config.Name, err)
		}
	}
	for i, cfg := range a.Configs {
		if err := checkHostPaths(a.Service, cfg); err != nil {
			return err
		}
		c, err := d.Runtime.Create(ctx, cfg)
		if err != nil {
			return fmt.Errorf("service %q pre_start[%d]: %w", a.Service, i, err)
		}
		if err := d.Runtime.Start(ctx, c.ID); err != nil {
			return errors2(fmt.Errorf("service %q pre_start[%d]: %w", a.Service, i, err), d.Runtime.Remove(context.WithoutCancel(ctx), c.ID, true))
		}
		st, err := waitExited(ctx, d, labels, c.ID)
		if err != nil {
			return fmt.Errorf("service %q pre_start[%d]: %w", a.Service, i, err)
		}
		if st.ExitCode != 0 {
			return fmt.Errorf("service %q pre_start[%d] exited with code %d (hook container %s retained for inspection): %w",
				a.Service, i, st.ExitCode, cfg.Name, errdefs.ErrFailedPrecondition)
		}
		if err := d.Runtime.Remove(ctx, c.ID, true); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// waitExited polls container id (found by labels) until it has exited.
func waitExited(ctx context.Context, d Deps, labels map[string]string, id engine.ContainerID) (engine.State, error) {
	delay := 10 * time.Millisecond
	for {
		ctrs, err := d.Runtime.List(ctx, labels)
		if err != nil {
			return engine.State{}, err
		}
		i := slices.IndexFunc(ctrs, func(c *engine.Container) bool { return c.ID == id })
		if i < 0 {
			return engine.State{}, fmt.Errorf("container %s: gone while it ran: %w", id, errdefs.ErrNotFound)
		}
		if st := ctrs[i].State; st.Status == engine.StatusExited || st.Status == engine.StatusDead {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return engine.State{}, context.Cause(ctx)
		case <-time.After(delay):
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

func errors2(a, b error) error {
	if b == nil || errdefs.IsNotFound(b) {
		return a
	}
	return fmt.Errorf("%w (and removing it: %v)", a, b)
}
