package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/hostplatform"
)

// LabelBuild marks the containers of RUN steps.
const LabelBuild = "berth.build"

// defaultPath is the PATH of a stage whose base sets none, as BuildKit's.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Builder builds images on an engine. Safe for concurrent use by several
// goroutines and several processes.
type Builder struct {
	eng    *engine.Engine
	images *image.Store
	cache  *cache
	log    *slog.Logger
}

// New returns a builder for eng, keeping its cache under <root>/build of
// eng's image store. log may be nil.
func New(eng *engine.Engine, log *slog.Logger) (*Builder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &cache{dir: filepath.Join(eng.Images().Root(), "build")}
	if err := c.init(); err != nil {
		return nil, err
	}
	return &Builder{eng: eng, images: eng.Images().Store, cache: c, log: log}, nil
}

// Options describe one build, as `docker build` takes them.
type Options struct {
	// ContextDir is the build context, a directory.
	ContextDir string
	// Dockerfile is the Dockerfile's path; "" is <ContextDir>/Dockerfile.
	Dockerfile string
	// DockerfileContent, when not nil, is the Dockerfile itself (-f -,
	// Compose's dockerfile_inline); Dockerfile then only names it.
	DockerfileContent []byte
	BuildArgs         map[string]string // --build-arg; a key without a value is resolved by the caller
	Target            string            // --target; "" is the last stage
	Tags              []string          // -t; none leaves the image without a name
	Labels            map[string]string // --label, over the Dockerfile's
	NoCache           bool              // run every step again (the cache is still written)
	// Contexts are the named build contexts (--build-context NAME=VALUE):
	// "docker-image://REF" stands for the image REF wherever the
	// Dockerfile names NAME as an image (FROM, COPY --from, RUN --mount
	// from=); an absolute directory is a context COPY --from=NAME and RUN
	// --mount=type=bind,from=NAME read. A stage of that name wins.
	Contexts map[string]string
	// NoCacheFilter names the stages whose steps run again, as NoCache
	// does for all (--no-cache-filter). The stages built on what they
	// make are built again unless it is what the cache last held.
	NoCacheFilter []string
	Network       string // RUN's network: "" or "default" (the default bridge), "none", "host" (grants AllowNetworkHost)
	// Pull re-resolves every FROM image against its registry, as --pull.
	Pull bool
	// Secrets are what RUN --mount=type=secret mounts, by ID (--secret).
	Secrets []Secret
	// SSH are the agent sockets RUN --mount=type=ssh forwards, by ID
	// (--ssh default=$SSH_AUTH_SOCK).
	SSH map[string]string
	// ExtraHosts, ShmSize (bytes; 0: the engine's 64 MiB) and Ulimits are
	// those of every RUN step's container (--add-host, --shm-size,
	// --ulimit). Like Network, they are not part of the steps' cache keys.
	ExtraHosts []engine.HostEntry
	ShmSize    int64
	Ulimits    map[string]engine.Ulimit
	// Resources, CgroupParent and SecurityOpt are those of every RUN
	// step's container too, as docker's classic builder applies them
	// (--memory, --cpu-shares, …, --cgroup-parent, --security-opt). Not
	// part of the cache keys either.
	Resources    engine.Resources
	CgroupParent string
	SecurityOpt  []string
	// Platform is the platform to build for (--platform): "" or the
	// host's; any other is refused, as is a FROM --platform of another.
	Platform string
	// Squash merges the layers the target stage makes over its base (its
	// FROM image or stage) into one (--squash); the history keeps every
	// step, as docker's.
	Squash bool
	// Allow are the entitlements RUN steps may use: AllowNetworkHost,
	// AllowSecurityInsecure.
	Allow []string
	// Events, when set, receives the build's progress. Calls are
	// serialised (never two at once) but come from several goroutines:
	// independent stages are built in parallel; an event's Vertex tells
	// which step it belongs to.
	Events func(Event)
}

// Result is a built image.
type Result struct {
	ImageID string   // "sha256:…"
	Tags    []string // normalised names it was given
}

// EventStatus is what happened to a step.
type EventStatus string

// Event statuses.
const (
	StepStarted EventStatus = "started"
	StepCached  EventStatus = "cached" // the cache had the step: nothing ran
	StepDone    EventStatus = "done"
	StepFailed  EventStatus = "failed"
	StepOutput  EventStatus = "output" // a line the step's process wrote
	// StepProgress is how far a step that reads many files got: Files
	// and Bytes so far, Duration since it started.
	StepProgress EventStatus = "progress"
)

// Event is one piece of a build's progress, as BuildKit shows it: a vertex
// ("#3"), named "[build 2/3] RUN make".
type Event struct {
	Vertex   int
	Name     string
	Status   EventStatus
	Line     string        // StepOutput: the text, without its newline
	Duration time.Duration // StepDone, StepCached, StepFailed, StepProgress
	// Files and Bytes are what loading a build context read so far
	// (StepProgress) or in all (its StepDone, StepFailed).
	Files int
	Bytes int64
	// Internal marks the builder's own work, not a Dockerfile step: the
	// loading of a build context ("[internal] load build context").
	Internal bool
}

// StepError is a RUN step that exited non-zero. It is an
// errdefs.ErrUnknown error.
type StepError struct {
	File     string
	Line     int
	Step     string // "[build 2/3] RUN make"
	Argv     []string
	ExitCode int
	Tail     []string // its last lines of output
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s:%d: %s: process %q did not complete successfully: exit code: %d", e.File, e.Line, e.Step, strings.Join(e.Argv, " "), e.ExitCode)
}

// Unwrap classifies the error.
func (e *StepError) Unwrap() error { return errdefs.ErrUnknown }

// tailLines is how many lines of a failed step's output StepError keeps.
const tailLines = 10

// builtLayer is a layer a build made (or found in its cache).
type builtLayer struct {
	diffID string
}

// stageState is a stage as its steps so far made it.
type stageState struct {
	base    *image.Image // nil: scratch
	baseV1  v1.Image     // base's content, held (image.Store.Hold) until the build ends
	layers  []builtLayer // made by the build, over base's
	cfg     *stageConfig
	key     string // the cache key of the last layer step (or the base)
	history []v1.History
	created time.Time // of the newest layer: the image's creation time
	// baseLayers and baseHistory are how many of layers and history its
	// FROM stage made (0 on an image): what --squash leaves as they are.
	baseLayers, baseHistory int
}

// run is one Build.
type run struct {
	b      *Builder
	lease  *lease // the cache layers the build uses
	opt    Options
	plan   *Plan
	ctxDir *srcTree
	// locals are the named contexts that are directories, once opened.
	localMu  sync.Mutex
	locals   map[string]*srcTree
	buildsMu sync.Mutex // guards builds
	builds   map[*Stage]*stageBuild

	mu     sync.Mutex // guards vertex; held while Events is called
	vertex int

	holdMu sync.Mutex          // guards the fields below
	held   map[string]bool     // the base images it holds, by manifest digest
	bases  map[string]heldBase // the base images it resolved, by reference
	holds  []func() error      // their releases
}

// Build builds the image opt describes and names it opt.Tags. Errors: an
// *Error for a mistake in the Dockerfile, a *StepError for a RUN that
// failed, errdefs.ErrNotFound for a missing Dockerfile, context, source
// or base image. A failed build names nothing: every tag keeps its image.
func (b *Builder) Build(ctx context.Context, opt Options) (_ *Result, retErr error) {
	for _, t := range opt.Tags {
		if _, err := image.Normalize(t); err != nil {
			return nil, fmt.Errorf("tag %q: %w", t, err)
		}
	}
	if opt.Platform != "" && !hostplatform.Is(opt.Platform) {
		return nil, fmt.Errorf("platform %q: not this host's platform (%s): berth builds for the host only, with no emulation: %w",
			opt.Platform, hostplatform.String(), errdefs.ErrInvalidArgument)
	}
	if err := checkRunConfig(opt); err != nil {
		return nil, err
	}
	data, name, path, err := readDockerfile(opt)
	if err != nil {
		return nil, err
	}
	for n, v := range opt.Contexts {
		if _, isImage := strings.CutPrefix(v, ImageContextPrefix); !isImage && !filepath.IsAbs(v) {
			return nil, fmt.Errorf("build context %q: %q is neither %sREF nor an absolute directory: %w", n, v, ImageContextPrefix, errdefs.ErrInvalidArgument)
		}
	}
	plan, err := Parse(data, PlanOptions{File: name, BuildArgs: opt.BuildArgs, Target: opt.Target, Contexts: opt.Contexts})
	if err != nil {
		return nil, err
	}
	tree, err := openContext(opt.ContextDir, path)
	if err != nil {
		return nil, err
	}
	r, err := b.newRun(ctx, opt, plan, tree)
	if err != nil {
		return nil, err
	}
	defer func() { retErr = errors.Join(retErr, r.end()) }()
	if err := r.stages(ctx); err != nil {
		return nil, err
	}
	target, err := r.built(ctx, plan.Target) // built: stages built it
	if err != nil {
		return nil, err
	}
	if opt.Squash {
		if err := r.squash(ctx, target); err != nil {
			return nil, err
		}
	}
	return r.commit(ctx, target)
}

// readDockerfile returns the Dockerfile's content, its name for messages
// and its path ("" when given as content).
func readDockerfile(opt Options) ([]byte, string, string, error) {
	if opt.DockerfileContent != nil {
		name := opt.Dockerfile
		if name == "" || name == "-" {
			name = "Dockerfile"
		}
		return opt.DockerfileContent, filepath.Base(name), "", nil
	}
	p := opt.Dockerfile
	if p == "" {
		p = filepath.Join(opt.ContextDir, "Dockerfile")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", "", fmt.Errorf("Dockerfile %q: %w", p, errdefs.ErrNotFound)
		}
		return nil, "", "", fmt.Errorf("Dockerfile %q: %w", p, err)
	}
	return data, filepath.Base(p), p, nil
}

func (r *run) emit(ev Event) {
	if r.opt.Events != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.opt.Events(ev)
	}
}

func (r *run) nextVertex() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.vertex++
	return r.vertex
}

// stage builds s: its base, then each instruction.
func (r *run) stage(ctx context.Context, s *Stage) (*stageState, error) {
	ss, err := r.from(ctx, s)
	if err != nil {
		return nil, err
	}
	triggers, err := r.plan.onBuild(s, ss.cfg)
	if err != nil {
		return nil, err
	}
	cmds := append(triggers, s.Commands...)
	for i, c := range cmds {
		st, err := r.plan.apply(ss.cfg, c)
		line := commandLine(c)
		if i < len(triggers) {
			line = s.Line
		}
		if err != nil {
			return nil, &Error{File: r.plan.File, Line: line, Msg: err.Error()}
		}
		if i < len(triggers) {
			st.line, st.text = line, "ONBUILD "+st.text
		}
		if st.kind == stepConfig {
			if _, ok := c.(*instructions.ArgCommand); !ok {
				ss.history = append(ss.history, v1.History{CreatedBy: st.created, Comment: "berth", EmptyLayer: true})
			}
			continue
		}
		if err := r.layerStep(ctx, s, ss, st, stepNameOf(s, i+1, len(cmds)+1, st.text)); err != nil {
			return nil, err
		}
	}
	return ss, nil
}

// from starts a stage from its base: an earlier stage, scratch, or an image
// (pulled when the store lacks it).
func (r *run) from(ctx context.Context, s *Stage) (*stageState, error) {
	if s.BaseStage != nil {
		prev, err := r.built(ctx, s.BaseStage) // built: one of s.Deps
		if err != nil {
			return nil, err
		}
		ss := *prev
		ss.cfg = prev.cfg.clone()
		ss.cfg.args = envList{}
		ss.cfg.cmdSet = false
		ss.layers = append([]builtLayer(nil), prev.layers...)
		ss.history = append([]v1.History(nil), prev.history...)
		ss.baseLayers, ss.baseHistory = len(ss.layers), len(ss.history)
		return &ss, nil
	}
	if strings.EqualFold(s.Base, "scratch") {
		cfg := &stageConfig{}
		cfg.Config.Env = []string{defaultPath}
		return &stageState{cfg: cfg, key: "scratch"}, nil
	}
	v := r.nextVertex()
	name := stepName(s, 0, "FROM "+s.Base)
	r.emit(Event{Vertex: v, Name: name, Status: StepStarted})
	began := time.Now()
	img, v1img, err := r.base(ctx, s.Base)
	if err != nil {
		r.emit(Event{Vertex: v, Name: name, Status: StepFailed, Duration: time.Since(began)})
		what := "base image"
		if s.Image {
			what = "COPY --from image"
		}
		return nil, &Error{File: r.plan.File, Line: s.Line, Msg: fmt.Sprintf("%s %q: %v", what, s.Base, err)}
	}
	cf, err := v1img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	cfg := &stageConfig{Author: cf.Author}
	cf.Config.DeepCopyInto(&cfg.Config)
	if !strings.Contains(strings.Join(cfg.Config.Env, "\n"), "PATH=") {
		cfg.Config.Env = append(cfg.Config.Env, defaultPath)
	}
	r.emit(Event{Vertex: v, Name: name, Status: StepDone, Duration: time.Since(began)})
	return &stageState{base: img, baseV1: v1img, cfg: cfg, key: "image:" + img.ID, created: cf.Created.Time}, nil
}

// lowers returns the stage's layers as overlay lower directories,
// unpacking those not unpacked yet.
func (r *run) lowers(ctx context.Context, ss *stageState) (lowers, error) {
	var dirs []string
	if ss.base != nil {
		d, err := r.b.images.LayerDirs(ctx, ss.base)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, d...)
	}
	for _, l := range ss.layers {
		d, err := r.b.cache.unpacked(ctx, l.diffID)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// layerStep carries out a RUN, COPY or ADD, or finds it in the cache.
func (r *run) layerStep(ctx context.Context, s *Stage, ss *stageState, st *step, name string) (retErr error) {
	began := time.Now()
	below, err := r.lowers(ctx, ss)
	if err != nil {
		return err
	}
	src, cleanup, err := r.copySource(ctx, s, st, below)
	if err != nil {
		// Its class stays: a missing source, a download that failed.
		return fmt.Errorf("%s:%d: %w", r.plan.File, st.line, err)
	}
	defer func() { retErr = errors.Join(retErr, cleanup()) }()
	v := r.nextVertex() // after the context's loading, numbered before it
	key := stepKey(ss.key, st.keyText(), src.sum)
	noCache := r.noCache(s)
	ent, hit, err := r.lookup(ctx, key, noCache)
	if err != nil {
		return err
	}
	if !hit {
		unlock, err := r.b.cache.lock(ctx, key)
		if err != nil {
			return err
		}
		defer unlock()
		if ent, hit, err = r.lookup(ctx, key, noCache); err != nil {
			return err
		}
	}
	if hit {
		r.emit(Event{Vertex: v, Name: name, Status: StepCached, Duration: time.Since(began)})
	} else {
		if src.later != nil {
			pl, cleanup, err := src.later()
			if err != nil {
				return fmt.Errorf("%s:%d: %w", r.plan.File, st.line, err)
			}
			defer func() { retErr = errors.Join(retErr, cleanup()) }()
			src.plan = pl
		}
		r.emit(Event{Vertex: v, Name: name, Status: StepStarted})
		ent, err = r.make(ctx, v, name, st, below, src.plan)
		if err != nil {
			r.emit(Event{Vertex: v, Name: name, Status: StepFailed, Duration: time.Since(began)})
			var se *StepError
			// A step cancelled because another stage failed may carry that
			// stage's StepError as its context's cause: leave it alone.
			if ctx.Err() == nil && errors.As(err, &se) {
				se.File, se.Line, se.Step = r.plan.File, st.line, name
				return se
			}
			return fmt.Errorf("%s:%d: %s: %w", r.plan.File, st.line, name, err)
		}
		if err := r.b.cache.put(key, ent); err != nil {
			return err
		}
		r.emit(Event{Vertex: v, Name: name, Status: StepDone, Duration: time.Since(began)})
	}
	ss.key = key
	if noCache && !r.opt.NoCache {
		// What follows is keyed by what the step made this time, not by
		// the instruction alone, so it is built again when that changed.
		ss.key = stepKey(key, "no-cache-filter", ent.DiffID)
	}
	h := v1.History{CreatedBy: st.created, Comment: "berth", Created: v1.Time{Time: ent.Created}}
	if ent.DiffID == "" {
		h.EmptyLayer = true
	} else {
		ss.layers = append(ss.layers, builtLayer{diffID: ent.DiffID})
	}
	ss.history = append(ss.history, h)
	if ent.Created.After(ss.created) {
		ss.created = ent.Created
	}
	return nil
}

// noCache reports whether s's steps run again: --no-cache, or s is named
// by --no-cache-filter.
func (r *run) noCache(s *Stage) bool {
	return r.opt.NoCache || slices.ContainsFunc(r.opt.NoCacheFilter, func(n string) bool { return strings.EqualFold(n, s.Name) })
}

func (r *run) lookup(ctx context.Context, key string, noCache bool) (*cacheEntry, bool, error) {
	if noCache {
		return nil, false, nil
	}
	return r.use(ctx, key)
}

// source is what a COPY reads, resolved before its cache key is made.
type source struct {
	plan *copyPlan
	sum  string
	// later plans a COPY --from a stage, only when the step is not in the
	// cache: the stage's key names its content, so a hit needs neither
	// the stage's layers mounted nor its files listed.
	later func() (*copyPlan, func() error, error)
}

// copySource resolves a COPY's sources and sums them; for a COPY --from a
// stage, whose content its key already names, the stage's key stands for
// the sum. The cleanup function unmounts what was mounted for it.
func (r *run) copySource(ctx context.Context, s *Stage, st *step, below lowers) (source, func() error, error) {
	none := func() error { return nil }
	if st.kind == stepRun {
		sum, err := r.runSources(ctx, s, st.run)
		return source{sum: sum}, none, err
	}
	if st.kind != stepCopy {
		return source{}, none, nil
	}
	tree := r.ctxDir
	local, err := r.localContext(st.copy.From)
	if err != nil {
		return source{}, none, err
	}
	if local != nil {
		tree = local
	} else if st.copy.From != "" {
		fs, from, err := r.copyFromState(ctx, s, st)
		if err != nil {
			return source{}, none, err
		}
		later := func() (*copyPlan, func() error, error) { return r.planFromStage(ctx, st, fs, from, below) }
		return source{sum: "stage:" + fs.key, later: later}, none, nil
	}
	pl, cleanup, err := r.planIn(ctx, tree, st, below, none)
	if err != nil {
		return source{}, none, err
	}
	what := ""
	if local != nil {
		what = st.copy.From
	}
	load := r.loadProgress(what)
	sum, err := r.b.cache.sourceSum(pl.files, load)
	load.done(err)
	if err != nil {
		return source{}, none, errors.Join(err, cleanup())
	}
	return source{plan: pl, sum: sum}, cleanup, nil
}

// planFromStage plans a COPY --from the stage fs (made from the stage or
// image from) with the stage's layers mounted read-only; the cleanup
// function unmounts them.
func (r *run) planFromStage(ctx context.Context, st *step, fs *stageState, from *Stage, below lowers) (*copyPlan, func() error, error) {
	dirs, err := r.lowers(ctx, fs)
	if err != nil {
		return nil, nil, err
	}
	mnt, unmount, err := r.b.cache.mountLowers(dirs)
	if err != nil {
		return nil, nil, err
	}
	return r.planIn(ctx, &srcTree{root: mnt, what: fmt.Sprintf("stage %q", from.Name)}, st, below, unmount)
}

// planIn plans a COPY of files from tree (and its heredocs and URLs); the
// cleanup function removes what that fetched, then calls done. On an
// error, done has been called.
func (r *run) planIn(ctx context.Context, tree *srcTree, st *step, below lowers, done func() error) (*copyPlan, func() error, error) {
	loose, removeLoose, err := r.looseSources(ctx, st.copy)
	if err != nil {
		return nil, nil, errors.Join(err, done())
	}
	cleanup := func() error { return errors.Join(removeLoose(), done()) }
	pl, err := planCopy(tree, st.copy, below, loose)
	if err != nil {
		return nil, nil, errors.Join(err, cleanup())
	}
	return pl, cleanup, nil
}

// copyFromState is the stage a COPY --from of stage s reads, once built:
// a stage of the build, or an image. Only an ONBUILD trigger can name a
// stage s does not read otherwise (built then) or an image Parse did not
// plan: that one is made here, as a stage of its own.
func (r *run) copyFromState(ctx context.Context, s *Stage, st *step) (*stageState, *Stage, error) {
	from := r.plan.fromStage(st.copy.From)
	if from == nil {
		from = &Stage{Index: -1, Name: st.copy.From, Base: st.copy.From, Line: st.line, From: "FROM " + st.copy.From, Image: true}
		ss, err := r.stage(ctx, from)
		return ss, from, err
	}
	ss, err := r.builtDep(ctx, s, from, "--from="+st.copy.From)
	return ss, from, err
}

// make carries out a step the cache lacks and stores its layer.
func (r *run) make(ctx context.Context, v int, name string, st *step, below lowers, pl *copyPlan) (*cacheEntry, error) {
	w, err := r.b.cache.newLayer()
	if err != nil {
		return nil, err
	}
	changed := true
	if st.kind == stepCopy {
		err = pl.writeTar(w, below)
	} else {
		changed, err = r.runContainer(ctx, v, st.run, below, w)
	}
	if err != nil {
		w.abort()
		return nil, err
	}
	ent := &cacheEntry{Created: time.Now().UTC().Truncate(time.Second)}
	if !changed {
		w.abort()
		return ent, nil
	}
	if ent.DiffID, err = r.commitLayer(ctx, w); err != nil {
		return nil, err
	}
	return ent, nil
}

// runContainer runs a RUN step as a container on the stage's layers and
// writes the layer its upper directory holds to w.
func (r *run) runContainer(ctx context.Context, v int, rs *runStep, below lowers, w io.Writer) (changed bool, retErr error) {
	layers := []string(below)
	if len(layers) == 0 {
		layers = []string{r.b.cache.emptyDir()}
	}
	var id [6]byte
	_, _ = rand.Read(id[:]) // never fails
	ms, err := r.prepareMounts(ctx, rs)
	if err != nil {
		return false, err
	}
	defer func() { retErr = errors.Join(retErr, ms.release()) }()
	cfg := r.opt.runConfig()
	cfg.Name = "berth-build-" + hex.EncodeToString(id[:])
	cfg.RootfsLayers = layers
	cfg.Entrypoint = rs.Argv
	cfg.Env = append(slices.Clone(rs.Env), ms.env...)
	cfg.WorkingDir, cfg.User = rs.Workdir, rs.User
	cfg.Mounts = ms.mounts
	cfg.Privileged = rs.Security == "insecure"
	scripts, err := r.b.cache.writeScripts(rs.Files)
	if err != nil {
		return false, err
	}
	defer func() { retErr = errors.Join(retErr, os.RemoveAll(scripts)) }()
	for _, f := range rs.Files {
		cfg.Mounts = append(cfg.Mounts, engine.Mount{Type: "bind", Source: filepath.Join(scripts, f.Path), Target: f.Path, ReadOnly: true})
	}
	network := rs.Network
	if network == "" {
		network = r.opt.Network
	}
	switch network {
	case "none", "host":
		cfg.NetworkMode = network
	case "", "default":
		cfg.Networks = []engine.EndpointConfig{{Network: engine.DefaultNetwork}}
	default:
		return false, fmt.Errorf("network %q: not supported for RUN: %w", network, errdefs.ErrInvalidArgument)
	}
	unmark, err := r.b.cache.runMarker(cfg.Name)
	if err != nil {
		return false, err
	}
	c, err := r.b.eng.Create(ctx, cfg)
	if err != nil {
		return false, errors.Join(err, unmark())
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := r.b.eng.Remove(cctx, c.ID, true); err != nil {
			retErr = errors.Join(retErr, err) // the marker stays: the next sweep retries
			return
		}
		retErr = errors.Join(retErr, unmark())
	}()
	if err := r.b.eng.Start(ctx, c.ID); err != nil {
		return false, err
	}
	state, tail, err := r.runOutput(ctx, v, c.ID)
	if err != nil {
		return false, err
	}
	if state.ExitCode != 0 {
		return false, &StepError{Argv: rs.Argv, ExitCode: state.ExitCode, Tail: tail}
	}
	upper, err := r.b.eng.UpperDir(ctx, c.ID)
	if err != nil {
		return false, err
	}
	return packUpper(upper, below, w, ms.stubs...)
}

// commit makes the image of the target stage and names it.
func (r *run) commit(ctx context.Context, ss *stageState) (*Result, error) {
	cfg := ss.cfg.Config.DeepCopy()
	if len(r.opt.Labels) > 0 {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		maps.Copy(cfg.Labels, r.opt.Labels)
	}
	img, err := r.b.newImage(ctx, ss, *cfg)
	if err != nil {
		return nil, err
	}
	if res, ok := r.alreadyNamed(ctx, img); ok {
		return res, nil // a full hit: the store has it under every name
	}
	ref := ""
	if len(r.opt.Tags) > 0 {
		ref = r.opt.Tags[0]
	}
	stored, err := r.b.images.Put(ctx, img, ref)
	if err != nil {
		return nil, err
	}
	res := &Result{ImageID: stored.ID}
	for i, t := range r.opt.Tags {
		if i > 0 {
			if err := r.b.images.Tag(ctx, stored.ID, t); err != nil {
				return nil, err
			}
		}
		n, err := image.Normalize(t)
		if err != nil {
			return nil, err
		}
		res.Tags = append(res.Tags, n)
	}
	return res, nil
}

// ImageContextPrefix starts a named build context that is an image.
const ImageContextPrefix = "docker-image://"

// contextRef is the image a name stands for: the image of the named
// context of that name, else the name itself.
func (r *run) contextRef(name string) string {
	if ref, ok := strings.CutPrefix(r.opt.Contexts[name], ImageContextPrefix); ok && findStage(r.plan.all, name) == nil {
		return ref
	}
	return name
}

// localContext is the named context name when it is a directory, opened
// once per build; nil when it is none.
func (r *run) localContext(name string) (*srcTree, error) {
	dir := r.opt.Contexts[name]
	if name == "" || dir == "" || strings.HasPrefix(dir, ImageContextPrefix) || findStage(r.plan.all, name) != nil {
		return nil, nil
	}
	r.localMu.Lock()
	defer r.localMu.Unlock()
	if t := r.locals[name]; t != nil {
		return t, nil
	}
	t, err := openContext(dir, "")
	if err != nil {
		return nil, fmt.Errorf("build context %q: %w", name, err)
	}
	t.what = fmt.Sprintf("build context %q", name)
	if r.locals == nil {
		r.locals = map[string]*srcTree{}
	}
	r.locals[name] = t
	return t, nil
}
