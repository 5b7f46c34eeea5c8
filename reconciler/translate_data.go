package reconciler

import (
	"fmt"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// translateData sets the container's mounts: named volumes, binds, tmpfs.
func translateData(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	for i, m := range s.Mounts {
		em := engine.Mount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly,
			NoCopy: m.NoCopy, Subpath: m.Subpath, Propagation: m.Propagation, CreateHostPath: m.CreateHostPath,
			TmpfsSize: m.TmpfsSize, TmpfsMode: m.TmpfsMode}
		switch m.Type {
		case "volume":
			if m.Source == "" {
				return fmt.Errorf("service %q: volumes[%d]: anonymous volumes are not supported by berth yet: %w", s.Name, i, errdefs.ErrNotImplemented)
			}
			v, ok := projectVolume(p, m.Source)
			if !ok {
				return fmt.Errorf("service %q: volumes[%d]: volume %q is not declared in the project: %w", s.Name, i, m.Source, errdefs.ErrInvalidArgument)
			}
			em.Source = v.Name
		case "bind", "tmpfs":
		default:
			return fmt.Errorf("service %q: volumes[%d]: mount type %q is not supported by berth yet: %w", s.Name, i, m.Type, errdefs.ErrNotImplemented)
		}
		c.Mounts = append(c.Mounts, em)
	}
	return nil
}
