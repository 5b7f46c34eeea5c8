package engine

import (
	"context"
	"errors"

	"github.com/containerd/errdefs"
)

// VolumePruneOptions select the volumes Prune removes.
type VolumePruneOptions struct {
	// All removes named volumes too, not only anonymous ones.
	All bool
	// Labels: only volumes carrying every pair; a pair with an empty value
	// matches any value of its key.
	Labels map[string]string
}

// Prune removes the volumes no container (running or not) mounts, as
// `docker volume prune`, and returns their names. A volume a container
// takes meanwhile stays. The errors of single volumes are joined; the
// others are removed all the same.
func (v *VolumeStore) Prune(ctx context.Context, opt VolumePruneOptions) ([]string, error) {
	users, err := v.Users(ctx)
	if err != nil {
		return nil, err
	}
	vols, err := v.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, vol := range vols {
		_, anonymous := vol.Labels[LabelAnonymousVolume]
		if len(users[vol.Name]) > 0 || (!opt.All && !anonymous) || !selectedBy(vol.Labels, opt.Labels) {
			continue
		}
		if err := v.Remove(ctx, vol.Name); errdefs.IsConflict(err) {
			continue // used by a container made meanwhile
		} else if err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, vol.Name)
	}
	return removed, errors.Join(errs...)
}

// selectedBy tells whether have holds every pair of want; an empty value
// matches any value of its key.
func selectedBy(have, want map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}
