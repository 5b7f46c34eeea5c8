package main

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
)

// parseContainerFilter reads `container ls --filter` KEY=VALUE values into
// the engine's filter, which the API's container list uses too.
func parseContainerFilter(in []string) (engine.ContainerFilter, error) {
	by := map[string][]string{}
	for _, s := range in {
		k, v, ok := strings.Cut(s, "=")
		if !ok || v == "" {
			return engine.ContainerFilter{}, fmt.Errorf("--filter %q: want KEY=VALUE (%s): %w", s, engine.ContainerFilterKeys, errdefs.ErrInvalidArgument)
		}
		by[k] = append(by[k], v)
	}
	return engine.ParseContainerFilter(by)
}
