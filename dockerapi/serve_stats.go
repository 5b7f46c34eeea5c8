package dockerapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/engine"
)

// statsInterval is how often a stats stream samples, as Docker's.
const statsInterval = time.Second

// StatsResponse is Docker's stats document of a sample of container c,
// with pre (zero: none) as the sample before it.
func StatsResponse(c *engine.Container, cur, pre engine.Stats) container.StatsResponse {
	cpu := func(s engine.Stats) container.CPUStats {
		return container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: s.CPUTotal}, SystemUsage: s.SystemCPU, OnlineCPUs: uint32(s.OnlineCPUs)}
	}
	out := container.StatsResponse{
		ID: string(c.ID), Name: "/" + c.Config.Name, OSType: "linux", Read: cur.Read, PreRead: pre.Read,
		CPUStats: cpu(cur), PreCPUStats: cpu(pre),
		MemoryStats: container.MemoryStats{Usage: cur.MemUsage, Limit: cur.MemLimit},
		PidsStats:   container.PidsStats{Current: cur.PIDs, Limit: cur.PIDsLimit},
		BlkioStats: container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{
			{Op: "read", Value: cur.BlkRead}, {Op: "write", Value: cur.BlkWrite}}},
	}
	if len(cur.Networks) > 0 {
		out.Networks = map[string]container.NetworkStats{}
		for name, n := range cur.Networks {
			out.Networks[name] = container.NetworkStats{RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
				TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped}
		}
	}
	return out
}

// sample reads a stats sample of c: an empty one (its time alone) when c
// does not run, as Docker answers for a stopped container.
func (s *Server) sample(ctx context.Context, c *engine.Container) (engine.Stats, error) {
	st, err := s.eng.Stats(ctx, c.ID)
	if errdefs.IsFailedPrecondition(err) {
		return engine.Stats{Read: time.Now().UTC()}, nil
	}
	return st, err
}

// containerStats is `GET /containers/{id}/stats?stream=&one-shot=`: a
// sample every second until the client goes away, or one (with the one a
// second before it as precpu_stats, unless one-shot).
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := s.container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	stream := r.URL.Query().Get("stream") == "" || boolParam(r, "stream")
	pre, err := s.sample(ctx, c)
	if err != nil {
		return err
	}
	if !stream && boolParam(r, "one-shot") {
		return writeJSON(w, http.StatusOK, StatsResponse(c, pre, engine.Stats{}))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	enc := json.NewEncoder(w)
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	if stream {
		// The first document has no earlier sample, as Docker's.
		if enc.Encode(StatsResponse(c, pre, engine.Stats{})) != nil {
			return nil
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, err := s.sample(ctx, c)
		if err != nil {
			if ctx.Err() == nil && !errdefs.IsNotFound(err) {
				s.log.Warn("stats", "container", c.Config.Name, "err", err)
			}
			return nil
		}
		if enc.Encode(StatsResponse(c, cur, pre)) != nil || !stream {
			return nil
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		pre = cur
	}
}
