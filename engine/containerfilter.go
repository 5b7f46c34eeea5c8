package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/image"
)

// ContainerFilter is docker's container list filter, as `docker ps
// --filter` and GET /containers/json?filters= give it: the values of one
// key are OR'ed, the keys AND'ed, except label, whose values must all
// match (as dockerd). One filter serves the CLI and the API.
type ContainerFilter struct {
	names, ids, ancestors, networks, volumes []string
	statuses                                 []Status
	exited                                   []int
	labels                                   []string // "KEY" or "KEY=VALUE"
}

// ContainerFilterKeys are the keys ParseContainerFilter takes.
const ContainerFilterKeys = "name, id, status, label, ancestor, exited, network, volume"

// ParseContainerFilter reads filters by key. An unknown key, status or a
// malformed exit code is errdefs.ErrInvalidArgument naming the filter as
// KEY=VALUE.
func ParseContainerFilter(by map[string][]string) (ContainerFilter, error) {
	var f ContainerFilter
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range by {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		for _, v := range by[k] {
			bad := func(why string) error {
				return fmt.Errorf("filter %q: %s: %w", k+"="+v, why, errdefs.ErrInvalidArgument)
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
				f.labels = append(f.labels, v)
			case "status":
				st := Status(v)
				switch st {
				case StatusCreated, StatusRunning, StatusPaused, StatusRestarting, StatusExited, StatusDead, "removing":
				default:
					return f, bad("status must be one of created, restarting, running, removing, paused, exited, dead")
				}
				f.statuses = append(f.statuses, st)
			case "exited":
				n, err := strconv.Atoi(v)
				if err != nil {
					return f, bad("exited takes an exit code")
				}
				f.exited = append(f.exited, n)
			default:
				return f, bad(fmt.Sprintf("unknown key %q (%s)", k, ContainerFilterKeys))
			}
		}
	}
	return f, nil
}

// All tells whether the filter names states beyond running: then docker
// lists stopped containers without -a.
func (f ContainerFilter) All() bool { return len(f.statuses) > 0 || len(f.exited) > 0 }

// Match tells whether c passes every key of the filter.
func (f ContainerFilter) Match(c *Container) bool {
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
			return slices.ContainsFunc(c.Config.Networks, func(e EndpointConfig) bool { return e.Network == n }) ||
				(n == "host" || n == "none") && c.Config.NetworkMode == n
		}) &&
		anyOf(f.volumes, func(v string) bool {
			return slices.ContainsFunc(c.Config.Mounts, func(m Mount) bool { return m.Source == v || m.Target == v })
		}) &&
		(len(f.statuses) == 0 || slices.Contains(f.statuses, c.State.Status)) &&
		(len(f.exited) == 0 || c.State.Status == StatusExited && slices.Contains(f.exited, c.State.ExitCode)) &&
		LabelsMatch(c.Config.Labels, f.labels)
}

// LabelsMatch tells whether labels satisfy every label filter: "KEY" (any
// value) or "KEY=VALUE".
func LabelsMatch(labels map[string]string, filters []string) bool {
	for _, f := range filters {
		k, v, hasV := strings.Cut(f, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
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
