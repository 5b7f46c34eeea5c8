package build

import (
	"context"
	"fmt"
	"runtime"
	"slices"

	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/engine/image"
)

// stageLimit is how many stages are built at once: the number of CPUs,
// and at least two, as a stage mostly waits on its containers.
func stageLimit() int { return max(runtime.NumCPU(), 2) }

// stageBuild is one stage's build, made once per run.
type stageBuild struct {
	done  chan struct{} // closed once state or err is set
	state *stageState
	err   error
}

// stages builds the plan's stages, each once those it reads (Stage.Deps)
// are built, independent ones in parallel (newRun swept what killed builds
// left). The first failure cancels the others: their containers are
// removed and their mounts undone before stages returns that failure.
func (r *run) stages(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(stageLimit())
	// Stages are started in plan order, each after its dependencies, so a
	// stage holding a slot while it waits never waits on one without.
	for _, s := range r.plan.Stages {
		g.Go(func() error {
			_, err := r.built(gctx, s)
			return err
		})
	}
	return g.Wait()
}

// built returns stage s once built: the first caller builds it (after
// what it reads), in its own goroutine, and later ones wait for it. A
// stage is built once per run, whether the plan has it or an ONBUILD
// trigger found it needed. Stages read only earlier stages, so no build
// waits on itself.
func (r *run) built(ctx context.Context, s *Stage) (*stageState, error) {
	r.buildsMu.Lock()
	sb := r.builds[s]
	first := sb == nil
	if first {
		sb = &stageBuild{done: make(chan struct{})}
		if r.builds == nil {
			r.builds = map[*Stage]*stageBuild{}
		}
		r.builds[s] = sb
	}
	r.buildsMu.Unlock()
	if first {
		sb.state, sb.err = r.buildStage(ctx, s)
		close(sb.done)
	}
	select {
	case <-sb.done:
		return sb.state, sb.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// buildStage builds s after the stages it reads.
func (r *run) buildStage(ctx context.Context, s *Stage) (*stageState, error) {
	if s.depsErr != nil {
		return nil, s.depsErr
	}
	for _, d := range s.Deps {
		if _, err := r.built(ctx, d); err != nil {
			return nil, err
		}
	}
	return r.stage(ctx, s)
}

// builtDep is stage from, which a step of stage s reads, once built.
// Only an ONBUILD trigger can name a stage s does not list in its Deps;
// it must be an earlier one:
// what is the flag as written, for the error ("--from=assets").
func (r *run) builtDep(ctx context.Context, s, from *Stage, what string) (*stageState, error) {
	if !slices.Contains(s.Deps, from) && !from.Image && (s.Index < 0 || from.Index >= s.Index) {
		return nil, fmt.Errorf("%s names this stage or a later one: %w", what, errdefs.ErrInvalidArgument)
	}
	return r.built(ctx, from)
}

// resolveImage finds a base or mount image in the store, pulling it when
// the store lacks it, or always with Options.Pull.
func (r *run) resolveImage(ctx context.Context, ref string) (*image.Image, error) {
	ref = r.contextRef(ref)
	if !r.opt.Pull {
		img, err := r.b.images.Resolve(ctx, ref)
		if !errdefs.IsNotFound(err) {
			return img, err
		}
	}
	return r.b.images.Pull(ctx, ref, image.PullOptions{})
}
