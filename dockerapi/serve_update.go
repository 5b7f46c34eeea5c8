package dockerapi

import (
	"fmt"
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/engine"
)

// containerUpdate is `POST /containers/{id}/update` (docker update): the
// fields the body sets (not zero) change; the others stay.
func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) error {
	var body container.UpdateConfig
	if err := decodeBody(r, &body, false); err != nil {
		return err
	}
	u, err := resourceUpdate(body)
	if err != nil {
		return err
	}
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.eng.Update(r.Context(), string(c.ID), u); err != nil {
		return err
	}
	s.emitContainer(events.ActionUpdate, c, nil)
	return writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: []string{}})
}

// resourceUpdate is the engine's update for a Docker API body: what the
// body sets, as docker update sends only the flags given.
func resourceUpdate(b container.UpdateConfig) (engine.ResourceUpdate, error) {
	var u engine.ResourceUpdate
	res := b.Resources
	set := func(v int64) *int64 {
		if v == 0 {
			return nil
		}
		return &v
	}
	u.MemLimit, u.MemReservation, u.MemSwapLimit = set(res.Memory), set(res.MemoryReservation), set(res.MemorySwap)
	u.CPUShares, u.CPUQuota, u.CPUPeriod = set(res.CPUShares), set(res.CPUQuota), set(res.CPUPeriod)
	u.CPURTRuntime, u.CPURTPeriod = set(res.CPURealtimeRuntime), set(res.CPURealtimePeriod)
	if res.NanoCPUs != 0 {
		cpus := float64(res.NanoCPUs) / 1e9
		u.CPUs = &cpus
	}
	if res.CpusetCpus != "" {
		u.CpusetCpus = &res.CpusetCpus
	}
	if res.CpusetMems != "" {
		u.CpusetMems = &res.CpusetMems
	}
	if res.PidsLimit != nil {
		n := *res.PidsLimit
		if n <= 0 {
			n = -1
		}
		u.PidsLimit = &n
	}
	if res.BlkioWeight != 0 {
		u.BlkioWeight = &res.BlkioWeight
	}
	if p := b.RestartPolicy; p.Name != "" {
		switch p.Name {
		case "no", "always", "unless-stopped", "on-failure":
		default:
			return u, fmt.Errorf("invalid restart policy %q: %w", p.Name, errdefs.ErrInvalidArgument)
		}
		if p.Name != "on-failure" && p.MaximumRetryCount != 0 {
			return u, fmt.Errorf("invalid restart policy: maximum retry count can only be used with 'on-failure': %w", errdefs.ErrInvalidArgument)
		}
		u.Restart = &engine.RestartPolicy{Name: string(p.Name), MaxRetries: p.MaximumRetryCount}
	}
	return u, nil
}
