package dockerapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"

	"github.com/berth-dev/berth/engine"
	engbuild "github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/hostplatform"
)

// maxContext bounds the file content of a build context sent to
// `POST /build`.
const maxContext = 8 << 30

// BuildOptions are the builder's options for the query of the classic
// `POST /build`, as dockerd reads it: t, dockerfile, buildargs, target,
// nocache, pull, labels, networkmode, platform (the host's), squash,
// extrahosts, shmsize, ulimits, memory, memswap, cpushares, cpuperiod,
// cpuquota, cpusetcpus, cpusetmems, cgroupparent; rm and forcerm are
// what berth always does, isolation only the default. The context
// directory is the caller's to fill in. BuildKit's sessions (version=2),
// remote contexts, other platforms, security options (dockerd refuses
// them on Linux) and external caches (cachefrom) are refused.
func BuildOptions(r *http.Request) (engbuild.Options, error) {
	q := r.URL.Query()
	opt := engbuild.Options{Tags: q["t"], Target: q.Get("target"), NoCache: boolParam(r, "nocache"),
		Pull: boolParam(r, "pull"), Squash: boolParam(r, "squash"), CgroupParent: q.Get("cgroupparent"),
		Platform: q.Get("platform")}
	switch {
	case q.Get("version") == string(build.BuilderBuildKit):
		return opt, fmt.Errorf("version=2: BuildKit sessions are not served by berth; use the classic builder (DOCKER_BUILDKIT=0): %w", errdefs.ErrNotImplemented)
	case q.Get("remote") != "":
		return opt, fmt.Errorf("remote=%q: remote build contexts are not supported by berth: %w", q.Get("remote"), errdefs.ErrNotImplemented)
	case opt.Platform != "" && opt.Platform != "linux" && !hostplatform.Is(opt.Platform):
		return opt, fmt.Errorf("platform=%q: berth builds for its own platform only (%s): %w", opt.Platform, hostplatform.String(), errdefs.ErrInvalidArgument)
	case len(q["securityopt"]) > 0:
		return opt, fmt.Errorf("securityopt: security options are not supported on linux: %w", errdefs.ErrInvalidArgument)
	case q.Get("isolation") != "" && q.Get("isolation") != "default":
		return opt, fmt.Errorf("isolation=%q: only the default isolation on linux: %w", q.Get("isolation"), errdefs.ErrInvalidArgument)
	}
	if opt.Platform == "linux" {
		opt.Platform = ""
	}
	if v := q.Get("cachefrom"); v != "" {
		var from []string
		if err := json.Unmarshal([]byte(v), &from); err != nil {
			return opt, fmt.Errorf("cachefrom: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		if len(from) > 0 {
			return opt, fmt.Errorf("cachefrom=%q: berth imports no external build cache: %w", v, errdefs.ErrNotImplemented)
		}
	}
	for _, h := range q["extrahosts"] {
		e, err := extraHost("extrahosts", h)
		if err != nil {
			return opt, err
		}
		opt.ExtraHosts = append(opt.ExtraHosts, e)
	}
	ints := map[string]*int64{"shmsize": &opt.ShmSize, "memory": &opt.Resources.MemLimit, "memswap": &opt.Resources.MemSwapLimit,
		"cpushares": &opt.Resources.CPUShares, "cpuperiod": &opt.Resources.CPUPeriod, "cpuquota": &opt.Resources.CPUQuota}
	for _, k := range slices.Sorted(maps.Keys(ints)) {
		if v := q.Get(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 && k != "memswap" {
				return opt, fmt.Errorf("%s=%q: want a number: %w", k, v, errdefs.ErrInvalidArgument)
			}
			*ints[k] = n
		}
	}
	opt.Resources.CpusetCpus, opt.Resources.CpusetMems = q.Get("cpusetcpus"), q.Get("cpusetmems")
	if v := q.Get("ulimits"); v != "" {
		var ul []struct {
			Name       string
			Soft, Hard int64
		}
		if err := json.Unmarshal([]byte(v), &ul); err != nil {
			return opt, fmt.Errorf("ulimits: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		for _, u := range ul {
			if opt.Ulimits == nil {
				opt.Ulimits = map[string]engine.Ulimit{}
			}
			opt.Ulimits[u.Name] = engine.Ulimit{Soft: u.Soft, Hard: u.Hard}
		}
	}
	if df := q.Get("dockerfile"); df != "" {
		if strings.Contains(df, "..") || strings.HasPrefix(df, "/") {
			return opt, fmt.Errorf("dockerfile=%q: want a path inside the context: %w", df, errdefs.ErrInvalidArgument)
		}
		opt.Dockerfile = df
	}
	switch nm := q.Get("networkmode"); nm {
	case "", "default", "bridge":
	case "none":
		opt.Network = "none"
	default:
		return opt, fmt.Errorf("networkmode=%q: want default or none: %w", nm, errdefs.ErrInvalidArgument)
	}
	if v := q.Get("buildargs"); v != "" {
		var args map[string]*string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			return opt, fmt.Errorf("buildargs: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		opt.BuildArgs = map[string]string{}
		for k, v := range args {
			if v != nil { // a key without a value is unset, as the client left it
				opt.BuildArgs[k] = *v
			}
		}
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &opt.Labels); err != nil {
			return opt, fmt.Errorf("labels: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	return opt, nil
}

// build is the classic `POST /build`: the tar body is the context, built
// by berth's builder; the answer is a stream of {"stream": …} lines that
// ends with the image's ID ({"aux": {"ID": …}}), or with the error.
func (s *Server) build(w http.ResponseWriter, r *http.Request) error {
	opt, err := BuildOptions(r)
	if err != nil {
		return err
	}
	if s.opt.Builder == nil {
		return fmt.Errorf("POST /build: this server has no builder: %w", errdefs.ErrNotImplemented)
	}
	dir, err := os.MkdirTemp("", "berth-build-context-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	body, err := decompressed(r.Body)
	if err != nil {
		return err
	}
	if err := engine.ExtractArchive(r.Context(), dir, body, engine.CopyInOptions{MaxBytes: maxContext}); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	opt.ContextDir = dir
	if opt.Dockerfile != "" {
		opt.Dockerfile = filepath.Join(dir, opt.Dockerfile)
	}
	quiet := boolParam(r, "q")
	send := jsonStream(w)
	steps := map[int]bool{}
	opt.Events = func(e engbuild.Event) {
		if quiet || e.Internal { // the classic builder shows no such steps
			return
		}
		switch e.Status {
		case engbuild.StepStarted:
			if !steps[e.Vertex] {
				steps[e.Vertex] = true
				send(jsonstream.Message{Stream: "Step " + strconv.Itoa(e.Vertex) + " : " + e.Name + "\n"})
			}
		case engbuild.StepCached:
			if !steps[e.Vertex] {
				steps[e.Vertex] = true
				send(jsonstream.Message{Stream: "Step " + strconv.Itoa(e.Vertex) + " : " + e.Name + "\n"})
			}
			send(jsonstream.Message{Stream: " ---> Using cache\n"})
		case engbuild.StepOutput:
			send(jsonstream.Message{Stream: e.Line + "\n"})
		}
	}
	res, err := s.opt.Builder.Build(r.Context(), opt)
	if err != nil {
		send(streamError(err))
		return nil
	}
	send(auxMessage(map[string]string{"ID": res.ImageID}))
	send(jsonstream.Message{Stream: "Successfully built " + shortDigest(res.ImageID) + "\n"})
	for _, t := range res.Tags {
		send(jsonstream.Message{Stream: "Successfully tagged " + image.FamiliarName(t) + "\n"})
	}
	return nil
}
