package build

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
)

// runConfig is the part of a RUN step's container that the build's
// options set: the same for every step.
func (o Options) runConfig() engine.ContainerConfig {
	r := o.Resources
	if r.Blkio != nil {
		b := *r.Blkio
		r.Blkio = &b
	}
	return engine.ContainerConfig{
		Cmd:          []string{},
		Labels:       map[string]string{LabelBuild: "1"},
		ExtraHosts:   slices.Clone(o.ExtraHosts),
		ShmSize:      o.ShmSize,
		Ulimits:      maps.Clone(o.Ulimits),
		Resources:    r,
		CgroupParent: o.CgroupParent,
		SecurityOpt:  slices.Clone(o.SecurityOpt),
	}
}

// checkRunConfig checks, before anything is built, what the options set
// on RUN containers, as the engine will when it makes the first: a bad
// --security-opt or --ulimit fails the build at once, not at its first
// RUN step. The message names the option.
func checkRunConfig(o Options) error {
	c := o.runConfig()
	c.Entrypoint = []string{"true"}
	in := engine.SpecInputs{ID: "berth-build-check", Rootfs: "/"}
	if f := engine.SeccompFile(c); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("security_opt seccomp=%s: %w", f, err)
		}
		in.SeccompProfile = data
	}
	if _, err := engine.OCISpec(c, image.Config{}, in); err != nil {
		return fmt.Errorf("RUN containers: %w", err)
	}
	return nil
}
