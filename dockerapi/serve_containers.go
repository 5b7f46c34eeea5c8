package dockerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
)

// LoadObjects gathers the networks (of nets; nil: none) and the volumes
// of eng that containers' documents mention.
func LoadObjects(ctx context.Context, eng *engine.Engine, nets *netmgr.Manager) (Objects, error) {
	o := Objects{Networks: map[string]*netmgr.Network{}, Volumes: map[string]*engine.Volume{}}
	if nets != nil {
		ns, err := nets.List(ctx, nil)
		if err != nil {
			return o, err
		}
		for _, n := range ns {
			o.Networks[n.Name] = n
		}
	}
	vols, err := eng.Volumes().List(ctx, nil)
	if err != nil {
		return o, err
	}
	for _, v := range vols {
		o.Volumes[v.Name] = v
	}
	return o, nil
}

func (s *Server) objects(ctx context.Context) (Objects, error) {
	return LoadObjects(ctx, s.eng, s.opt.Networks)
}

// container finds the container a path names (ID, ID prefix or name): a
// 404 "No such container" when there is none.
func (s *Server) container(ctx context.Context, ref string) (*engine.Container, error) {
	c, err := s.eng.Get(ctx, strings.TrimPrefix(ref, "/"))
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("No such container: %s: %w", ref, errdefs.ErrNotFound)
	}
	return c, err
}

func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) error {
	var req container.CreateRequest
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	cfg, err := CreateConfig(r.URL.Query().Get("name"), req)
	if err != nil {
		return err
	}
	if cfg.AutoRemove && req.Config != nil && (req.AttachStdout || req.AttachStderr) {
		// An attached `docker run --rm`: this server removes the container
		// once the client has read its output and exit code (containerWait),
		// as the CLI's own foreground run does; killed before, the next
		// sweep does.
		if cfg.AutoRemoveOwner, err = engine.Self(); err != nil {
			return err
		}
	}
	if _, err := s.eng.Images().Resolve(r.Context(), cfg.Image); err != nil {
		if errdefs.IsNotFound(err) {
			err = fmt.Errorf("No such image: %s: %w", cfg.Image, errdefs.ErrNotFound)
		}
		return err
	}
	c, err := s.eng.Create(r.Context(), cfg)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.CreateResponse{ID: string(c.ID), Warnings: []string{}})
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) error {
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	o, err := s.objects(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ContainerInspect(c, o))
}

// listFilters reads Docker's filters parameter: {"key": {"value": true}}
// or, from old clients, {"key": ["value"]}.
func listFilters(r *http.Request) (map[string][]string, error) {
	raw := r.URL.Query().Get("filters")
	out := map[string][]string{}
	if raw == "" {
		return out, nil
	}
	var m map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &m); err == nil {
		for k, vs := range m {
			for v, on := range vs {
				if on {
					out[k] = append(out[k], v)
				}
			}
		}
		return out, nil
	}
	var l map[string][]string
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return nil, fmt.Errorf("filters %q: %v: %w", raw, err, errdefs.ErrInvalidArgument)
	}
	return l, nil
}

func (s *Server) containerList(w http.ResponseWriter, r *http.Request) error {
	filters, err := listFilters(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", -1)
	if err != nil {
		return err
	}
	ctrs, err := s.eng.List(r.Context(), nil)
	if err != nil {
		return err
	}
	o, err := s.objects(r.Context())
	if err != nil {
		return err
	}
	filter, err := engine.ParseContainerFilter(filters)
	if err != nil {
		return err
	}
	all := boolParam(r, "all") || filter.All()
	slices.SortFunc(ctrs, func(a, b *engine.Container) int { return b.Created.Compare(a.Created) })
	now := time.Now()
	out := []container.Summary{}
	for _, c := range ctrs {
		if !all && c.State.Status != engine.StatusRunning && c.State.Status != engine.StatusPaused && c.State.Status != engine.StatusRestarting {
			continue
		}
		if filter.Match(c) && (limit <= 0 || len(out) < limit) {
			out = append(out, ContainerSummary(c, o, now))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// lifecycle runs op on the container the path names and answers 204.
func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request, op func(context.Context, *engine.Container) error) error {
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err == nil {
		err = op(r.Context(), c)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) error {
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.State.Status == engine.StatusRunning {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if err := s.eng.Start(r.Context(), c.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stopTimeout reads t= (or timeout=) in seconds; -1 (the container's own)
// when absent.
func stopTimeout(r *http.Request) (time.Duration, error) {
	name := "t"
	if r.URL.Query().Get("t") == "" {
		name = "timeout"
	}
	n, err := intParam(r, name, -1)
	if err != nil || n < 0 {
		return -1, err
	}
	return time.Duration(n) * time.Second, nil
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) error {
	timeout, err := stopTimeout(r)
	if err != nil {
		return err
	}
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.State.Status != engine.StatusRunning && c.State.Status != engine.StatusPaused && c.State.Status != engine.StatusRestarting {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if err := s.eng.Stop(r.Context(), c.ID, timeout); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) error {
	timeout, err := stopTimeout(r)
	if err != nil {
		return err
	}
	return s.lifecycle(w, r, func(ctx context.Context, c *engine.Container) error {
		if err := s.eng.Stop(ctx, c.ID, timeout); err != nil {
			return err
		}
		if err := s.eng.Start(ctx, c.ID); err != nil {
			return err
		}
		s.emitContainer(events.ActionRestart, c, nil)
		return nil
	})
}

func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) error {
	sig := r.URL.Query().Get("signal")
	return s.lifecycle(w, r, func(ctx context.Context, c *engine.Container) error {
		if sig == "" {
			sig = "SIGKILL"
		}
		return s.eng.Kill(ctx, c.ID, sig)
	})
}

func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) error {
	return s.lifecycle(w, r, func(ctx context.Context, c *engine.Container) error {
		return s.eng.Pause(ctx, c.ID)
	})
}

func (s *Server) containerUnpause(w http.ResponseWriter, r *http.Request) error {
	return s.lifecycle(w, r, func(ctx context.Context, c *engine.Container) error {
		return s.eng.Unpause(ctx, c.ID)
	})
}

func (s *Server) containerDelete(w http.ResponseWriter, r *http.Request) error {
	force := boolParam(r, "force")
	return s.lifecycle(w, r, func(ctx context.Context, c *engine.Container) error {
		if !force && c.State.Status == engine.StatusRunning {
			return fmt.Errorf("cannot remove container %q: container is running: stop the container before removing or force remove: %w", c.Config.Name, errdefs.ErrConflict)
		}
		// v: the container's anonymous volumes go with it; the engine
		// removes what it made itself for the image's VOLUMEs.
		return s.eng.Remove(ctx, c.ID, force)
	})
}

// waitForStart returns once c has left the created state (it was started,
// and may have exited already), or ctx's error.
func (s *Server) waitForStart(ctx context.Context, c *engine.Container) (*engine.Container, error) {
	return s.waitUntil(ctx, c, func(c *engine.Container) bool { return c.State.Status != engine.StatusCreated })
}

// waitUntil polls c until cond holds of it, or ctx's error.
func (s *Server) waitUntil(ctx context.Context, c *engine.Container, cond func(*engine.Container) bool) (*engine.Container, error) {
	delay := time.Millisecond
	for !cond(c) {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
		var err error
		if c, err = s.eng.Get(ctx, string(c.ID)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// containerWait answers `POST /containers/{id}/wait?condition=…` once the
// container is not running (not-running, the default), has run and exited
// (next-exit), or is gone (removed). The header goes out at once, the body
// when the condition holds, as Docker does.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	cond := container.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return fmt.Errorf("condition %q: want not-running, next-exit or removed: %w", cond, errdefs.ErrInvalidArgument)
	}
	c, err := s.container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	resp, err := s.wait(ctx, c, cond)
	if err != nil {
		resp = container.WaitResponse{StatusCode: -1, Error: &container.WaitExitError{Message: err.Error()}}
	}
	_ = json.NewEncoder(w).Encode(resp)
	return nil
}

func (s *Server) wait(ctx context.Context, c *engine.Container, cond container.WaitCondition) (container.WaitResponse, error) {
	if cond != "" && cond != container.WaitConditionNotRunning {
		var err error
		if c, err = s.waitForStart(ctx, c); err != nil {
			return container.WaitResponse{}, err
		}
	}
	st, err := s.eng.Wait(ctx, c.ID)
	if err != nil {
		return container.WaitResponse{}, err
	}
	resp := container.WaitResponse{StatusCode: int64(st.ExitCode)}
	if cond != container.WaitConditionRemoved || !c.Config.AutoRemove {
		return resp, nil
	}
	// Removed: once its attached clients have read its output. The shim
	// removes a detached --rm container itself; this server one it owns.
	s.waitAttached(c.ID)
	if own := c.Config.AutoRemoveOwner; own != nil {
		err := s.eng.Remove(context.WithoutCancel(ctx), c.ID, true)
		if err != nil && !errdefs.IsNotFound(err) {
			return resp, err
		}
		return resp, nil
	}
	return resp, s.waitGone(ctx, c.ID)
}

// waitGone returns once container id no longer exists, or ctx's error.
func (s *Server) waitGone(ctx context.Context, id engine.ContainerID) error {
	delay := time.Millisecond
	for {
		if _, err := s.eng.Get(ctx, string(id)); errdefs.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// attachBegin counts an attach stream of container id until the function
// it returns is called.
func (s *Server) attachBegin(id engine.ContainerID) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	wg := s.attached[id]
	if wg == nil {
		wg = &sync.WaitGroup{}
		s.attached[id] = wg
	}
	wg.Add(1)
	return wg.Done
}

// waitAttached returns once no attach stream of container id is open.
func (s *Server) waitAttached(id engine.ContainerID) {
	s.mu.Lock()
	wg := s.attached[id]
	s.mu.Unlock()
	if wg != nil {
		wg.Wait()
	}
}

// parseSince reads a since/until parameter: Unix seconds with an optional
// fraction; zero when absent.
func parseSince(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" || v == "0" {
		return time.Time{}, nil
	}
	secs, frac, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	var nsec int64
	if err == nil && frac != "" {
		frac = (frac + "000000000")[:9]
		nsec, err = strconv.ParseInt(frac, 10, 64)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%s=%q: want Unix seconds: %w", name, v, errdefs.ErrInvalidArgument)
	}
	return time.Unix(sec, nsec), nil
}
