package engine

import "slices"

// Redacted returns a copy of c fit to show a user: the contents of configs
// and secrets (file mounts) are left out; their targets stay.
func (c *Container) Redacted() *Container {
	cp := *c
	cp.Config.Mounts = slices.Clone(c.Config.Mounts)
	for i := range cp.Config.Mounts {
		if cp.Config.Mounts[i].Content != nil {
			cp.Config.Mounts[i].Content = nil
			cp.Config.Mounts[i].Source = "(content not shown)"
		}
	}
	return &cp
}
