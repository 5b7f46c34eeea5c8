package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
)

// containerFilter is `container ls --filter`, parsed once: docker's keys,
// values of one key OR'ed, keys AND'ed.
type containerFilter struct {
	names, ids, ancestors, networks, volumes []string
	statuses                                 []engine.Status
	exited                                   []int
	labels                                   map[string]string
}

// parseContainerFilter reads KEY=VALUE filters: name, id, status, label,
// ancestor, exited, network, volume.
func parseContainerFilter(in []string) (containerFilter, error) {
	f := containerFilter{labels: map[string]string{}}
	for _, s := range in {
		k, v, ok := strings.Cut(s, "=")
		if !ok || v == "" {
			return f, fmt.Errorf("--filter %q: want KEY=VALUE: %w", s, errdefs.ErrInvalidArgument)
		}
		switch k {
		case "name":
			f.names = append(f.names, v)
		case "id":
			f.ids = append(f.ids, v)
		case "ancestor":
			f.ancestors = append(f.ancestors, v)
		case "network":
			f.networks = append(f.networks, v)
		case "volume":
			f.volumes = append(f.volumes, v)
		case "label":
			lk, lv, _ := strings.Cut(v, "=")
			f.labels[lk] = lv
		case "status":
			st := engine.Status(v)
			switch st {
			case engine.StatusCreated, engine.StatusRunning, engine.StatusPaused, engine.StatusRestarting,
				engine.StatusExited, engine.StatusDead, "removing":
			default:
				return f, fmt.Errorf("--filter %q: status must be one of created, restarting, running, removing, paused, exited, dead: %w", s, errdefs.ErrInvalidArgument)
			}
			f.statuses = append(f.statuses, st)
		case "exited":
			n, err := strconv.Atoi(v)
			if err != nil {
				return f, fmt.Errorf("--filter %q: exited takes an exit code: %w", s, errdefs.ErrInvalidArgument)
			}
			f.exited = append(f.exited, n)
		default:
			return f, fmt.Errorf("--filter %q: unknown key %q (name, id, status, label, ancestor, exited, network, volume): %w", s, k, errdefs.ErrInvalidArgument)
		}
	}
	return f, nil
}

// all tells whether the filter names states beyond running: then docker
// lists stopped containers without -a.
func (f containerFilter) all() bool { return len(f.statuses) > 0 || len(f.exited) > 0 }

// match tells whether c passes every key of the filter.
func (f containerFilter) match(c *engine.Container) bool {
	anyOf := func(vals []string, ok func(string) bool) bool {
		return len(vals) == 0 || slices.ContainsFunc(vals, ok)
	}
	return anyOf(f.names, func(n string) bool { return strings.Contains(c.Config.Name, strings.TrimPrefix(n, "/")) }) &&
		anyOf(f.ids, func(id string) bool { return strings.HasPrefix(string(c.ID), id) }) &&
		anyOf(f.ancestors, func(a string) bool {
			// A name without a tag is :latest's, as Docker resolves it.
			return sameImageRef(c.Config.Image, a) ||
				strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), strings.TrimPrefix(a, "sha256:"))
		}) &&
		anyOf(f.networks, func(n string) bool {
			return slices.ContainsFunc(c.Config.Networks, func(e engine.EndpointConfig) bool { return e.Network == n }) ||
				(n == "host" || n == "none") && c.Config.NetworkMode == n
		}) &&
		anyOf(f.volumes, func(v string) bool {
			return slices.ContainsFunc(c.Config.Mounts, func(m engine.Mount) bool { return m.Source == v || m.Target == v })
		}) &&
		(len(f.statuses) == 0 || slices.Contains(f.statuses, c.State.Status)) &&
		(len(f.exited) == 0 || c.State.Status == engine.StatusExited && slices.Contains(f.exited, c.State.ExitCode)) &&
		matchLabels(c.Config.Labels, f.labels)
}

// sameImageRef tells whether references a and b name the same image
// reference once normalised ("busybox" and "docker.io/library/busybox:latest").
func sameImageRef(a, b string) bool {
	na, err := image.Normalize(a)
	if err != nil {
		return a == b
	}
	nb, err := image.Normalize(b)
	return err == nil && na == nb
}
