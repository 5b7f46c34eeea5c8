package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/atomicfile"
)

// ResourceUpdate is what `docker update` changes in a container: every
// field that is not nil replaces the container's value; the others stay.
type ResourceUpdate struct {
	MemLimit       *int64   // bytes
	MemReservation *int64   // bytes
	MemSwapLimit   *int64   // bytes; -1: unlimited swap
	CPUs           *float64 // replaces CPUQuota and CPUPeriod
	CPUShares      *int64
	CPUQuota       *int64 // µs per CPUPeriod
	CPUPeriod      *int64 // µs
	CPURTRuntime   *int64
	CPURTPeriod    *int64
	CpusetCpus     *string
	CpusetMems     *string
	PidsLimit      *int64 // -1: unlimited
	BlkioWeight    *uint16
	Restart        *RestartPolicy
}

// apply merges u into res and restart as `docker update` does, and
// refuses the combinations it refuses: --cpus with --cpu-quota or
// --cpu-period, and a quota or period while the container has --cpus.
func (u ResourceUpdate) apply(res *Resources, restart *RestartPolicy) error {
	quotaOrPeriod := u.CPUQuota != nil || u.CPUPeriod != nil
	switch {
	case u.CPUs != nil && quotaOrPeriod:
		return fmt.Errorf("conflicting options: cpus and cpu-quota or cpu-period cannot both be set: %w", errdefs.ErrInvalidArgument)
	case quotaOrPeriod && res.CPUs > 0:
		return fmt.Errorf("conflicting options: the container has cpus %g: update cpus instead of cpu-quota or cpu-period: %w", res.CPUs, errdefs.ErrInvalidArgument)
	}
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&res.MemLimit, u.MemLimit)
	set(&res.MemReservation, u.MemReservation)
	set(&res.MemSwapLimit, u.MemSwapLimit)
	set(&res.CPUShares, u.CPUShares)
	set(&res.CPUQuota, u.CPUQuota)
	set(&res.CPUPeriod, u.CPUPeriod)
	set(&res.CPURTRuntime, u.CPURTRuntime)
	set(&res.CPURTPeriod, u.CPURTPeriod)
	set(&res.PidsLimit, u.PidsLimit)
	if u.CPUs != nil {
		res.CPUs, res.CPUQuota, res.CPUPeriod = *u.CPUs, 0, 0
	}
	if u.CpusetCpus != nil {
		res.CpusetCpus = *u.CpusetCpus
	}
	if u.CpusetMems != nil {
		res.CpusetMems = *u.CpusetMems
	}
	if u.BlkioWeight != nil {
		if res.Blkio == nil {
			res.Blkio = &Blkio{}
		}
		res.Blkio.Weight = *u.BlkioWeight
	}
	if u.Restart != nil {
		*restart = *u.Restart
	}
	return nil
}

// updateResources are the cgroup values an update writes to a running
// container: those of res, checked as Create checks them.
func updateResources(res Resources) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if err := setResources(r, res); err != nil {
		return nil, err
	}
	if b := res.Blkio; b != nil && b.Weight != 0 {
		if b.Weight < 10 || b.Weight > 1000 {
			return nil, invalid("blkio-weight %d: want 10-1000", b.Weight)
		}
		r.BlockIO = &specs.LinuxBlockIO{Weight: ptr(b.Weight)}
	}
	return r, nil
}

// Update changes the resources and restart policy of container ref, as
// `docker update`: a running or paused container's cgroups get the new
// values at once (through the runtime's update), and every later start
// uses them; a running container's shim applies a new restart policy from
// its next exit. errdefs.ErrNotFound for an unknown container;
// ErrInvalidArgument for a value Create would refuse, or a restart policy
// for a container removed when it exits.
func (e *Engine) Update(ctx context.Context, ref string, u ResourceUpdate) error {
	dir, rec, unlock, err := e.lockRecord(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	name := rec.Config.Name
	if u.Restart != nil && rec.Config.AutoRemove && u.Restart.Name != "" && u.Restart.Name != "no" {
		return fmt.Errorf("container %q: restart policy cannot be updated: the container is removed when it exits: %w", name, errdefs.ErrInvalidArgument)
	}
	res, restart := rec.Config.Resources, rec.Config.Restart
	if res.Blkio != nil {
		b := *res.Blkio
		res.Blkio = &b
	}
	if err := u.apply(&res, &restart); err != nil {
		return fmt.Errorf("container %q: %w", name, err)
	}
	lr, err := updateResources(res)
	if err != nil {
		return fmt.Errorf("container %q: %w", name, err)
	}
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return err
	}
	live := st.Status == StatusRunning || st.Status == StatusPaused
	if live {
		if err := e.runtimeUpdate(ctx, dir, rec, lr); err != nil {
			return fmt.Errorf("container %q: update: %w", name, err)
		}
	}
	if active(st.Status) {
		// The shim runs the same bundle again when its policy restarts
		// the container: the new run must have the new limits too.
		if err := patchBundle(dir, lr); err != nil {
			return fmt.Errorf("container %q: update: %w", name, err)
		}
	}
	rec.Config.Resources, rec.Config.Restart = res, restart
	if err := e.writeRecord(dir, rec); err != nil {
		return err
	}
	if u.Restart != nil && active(st.Status) {
		if err := atomicfile.WriteFile(filepath.Join(dir, ctrstate.RestartFile), []byte(restartArg(restart)+"\n"), 0o644); err != nil {
			return fmt.Errorf("container %q: restart policy: %w", name, err)
		}
	}
	e.containerEvent(ctx, "update", rec)
	return nil
}

// runtimeUpdate writes r to the cgroups of rec's running container with
// the runtime's update command.
func (e *Engine) runtimeUpdate(ctx context.Context, dir string, rec *record, r *specs.LinuxResources) error {
	rt, err := e.runtime(rec.Config.Runtime)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".update-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = rt.run(ctx, "update", "--resources", f.Name(), string(rec.ID))
	return err
}

// restartArg is a policy as the shim's --restart reads it.
func restartArg(p RestartPolicy) string {
	if p.Name == "on-failure" {
		return fmt.Sprintf("on-failure:%d", p.MaxRetries)
	}
	if p.Name == "" {
		return "no"
	}
	return p.Name
}

// patchBundle sets the updated cgroup values in the bundle's config.json,
// which the shim's restarts use; its devices and block I/O throttles stay.
func patchBundle(dir string, lr *specs.LinuxResources) error {
	p := filepath.Join(dir, ctrstate.BundleDir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("bundle %s: %w", p, err)
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	r := s.Linux.Resources
	r.Memory, r.CPU, r.Pids = lr.Memory, lr.CPU, lr.Pids
	if lr.BlockIO != nil {
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = lr.BlockIO.Weight
	}
	if b, err = json.Marshal(&s); err != nil {
		return err
	}
	return atomicfile.Replace(p, b, 0o600)
}
