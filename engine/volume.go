package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/volmgr"
)

// Volume is a named volume, as the engine's volume store returns it.
type Volume = volmgr.Volume

// VolumeOptions are the options of a new named volume.
type VolumeOptions = volmgr.CreateOptions

// LabelAnonymousVolume marks an anonymous volume, as Docker does.
const LabelAnonymousVolume = volmgr.LabelAnonymous

// ValidateVolumeName checks a volume name as Docker does
// (errdefs.ErrInvalidArgument).
func ValidateVolumeName(name string) error { return volmgr.ValidateName(name) }

// VolumeStore is the engine's volume store: volmgr.Store, with a Remove
// that refuses a volume any container (running or not) mounts.
type VolumeStore struct {
	*volmgr.Store
	e *Engine
}

// Volumes returns the engine's volume store.
func (e *Engine) Volumes() *VolumeStore { return &VolumeStore{Store: e.vols, e: e} }

// Users maps each volume to the names of the containers, running or not,
// that mount it, sorted.
func (v *VolumeStore) Users(ctx context.Context) (map[string][]string, error) {
	all, err := v.e.allRecords()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, ent := range all {
		for _, m := range ent.rec.volumeMounts() {
			if m.Type == "volume" && m.Source != "" && !slices.Contains(users[m.Source], ent.rec.Config.Name) {
				users[m.Source] = append(users[m.Source], ent.rec.Config.Name)
			}
		}
	}
	for _, u := range users {
		slices.Sort(u)
	}
	return users, nil
}

// Remove deletes the volume and its data unless a container mounts it
// (errdefs.ErrConflict naming the containers). It holds the engine's name
// lock, so no container is made meanwhile: one made right after finds no
// volume when it starts. errdefs.ErrNotFound if there is no such volume.
func (v *VolumeStore) Remove(ctx context.Context, name string) error {
	if err := volmgr.ValidateName(name); err != nil {
		return err
	}
	unlock, err := v.e.lockNames(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	users, err := v.Users(ctx)
	if err != nil {
		return err
	}
	if u := users[name]; len(u) > 0 {
		return fmt.Errorf("volume %q is in use by container %s: %w", name, strings.Join(u, ", "), errdefs.ErrConflict)
	}
	return v.Store.Remove(ctx, name)
}

// ReleaseVolumes unmounts the file systems (driver options) of the volumes
// among mounts that no container mounts any more. Its caller has just
// removed a container's record; a container made afterwards mounts them
// again when it starts.
func (e *Engine) ReleaseVolumes(ctx context.Context, mounts []Mount) error {
	var errs []error
	for _, m := range mounts {
		if m.Type != "volume" || m.Source == "" {
			continue
		}
		err := e.vols.Release(ctx, m.Source, func() (bool, error) {
			users, err := e.Volumes().Users(ctx)
			return len(users[m.Source]) > 0, err
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
