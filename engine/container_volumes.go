package engine

import "slices"

// VolumeMounts are the container's mounts and the anonymous volumes the
// engine makes for its image's VOLUMEs that none of them covers: every
// volume it uses.
func (c *Container) VolumeMounts() []Mount {
	return (&record{Config: c.Config, ImageConfig: c.ImageConfig}).volumeMounts()
}

// volumeMounts are the record's mounts and its image's VOLUMEs that none
// of them covers.
func (r *record) volumeMounts() []Mount {
	return append(slices.Clone(r.Config.Mounts), imageVolumes(r, r.Config.Mounts)...)
}
