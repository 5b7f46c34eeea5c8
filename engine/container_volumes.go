package engine

import "slices"

// VolumeMounts are the container's mounts and the anonymous volumes the
// engine makes for its image's VOLUMEs that none of them covers: every
// volume it uses.
func (c *Container) VolumeMounts() []Mount {
	rec := &record{Config: c.Config, ImageConfig: c.ImageConfig}
	return append(slices.Clone(c.Config.Mounts), imageVolumes(rec, c.Config.Mounts)...)
}
