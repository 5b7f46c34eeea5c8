package dockerapi

import (
	"cmp"
	"maps"
	"time"

	"github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/engine"
)

// Volume is `GET /volumes/{name}` and an element of `GET /volumes`: v as
// `docker volume inspect` shows it.
func Volume(v *engine.Volume) volume.Volume {
	out := volume.Volume{
		Name:       v.Name,
		Driver:     cmp.Or(v.Driver, "local"),
		Mountpoint: v.Mountpoint,
		Scope:      "local",
		Labels:     maps.Clone(v.Labels),
		Options:    maps.Clone(v.Options),
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if !v.Created.IsZero() {
		out.CreatedAt = v.Created.Format(time.RFC3339)
	}
	return out
}
