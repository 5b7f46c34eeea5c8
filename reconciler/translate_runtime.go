package reconciler

import (
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// translateRuntime sets the container's process, security and resource
// settings beyond the basics ContainerConfig sets itself.
func translateRuntime(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	return nil
}
