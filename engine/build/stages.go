package build

import (
	"context"
	"runtime"

	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/engine/image"
)

// stageLimit is how many stages are built at once: the number of CPUs,
// and at least two, as a stage mostly waits on its containers.
func stageLimit() int { return max(runtime.NumCPU(), 2) }

// stages builds the plan's stages, each once those it reads (Stage.Deps)
// are built, independent ones in parallel (newRun swept what killed builds
// left). The first failure cancels the others: their containers are
// removed and their mounts undone before stages returns that failure.
func (r *run) stages(ctx context.Context) error {
	done := make(map[*Stage]chan struct{}, len(r.plan.Stages))
	for _, s := range r.plan.Stages {
		r.states[s] = &stageState{}
		done[s] = make(chan struct{})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(stageLimit())
	// Stages are started in plan order, each after its dependencies, so a
	// stage holding a slot while it waits never waits on one without.
	for _, s := range r.plan.Stages {
		g.Go(func() error {
			for _, d := range s.Deps {
				select {
				case <-done[d]:
				case <-gctx.Done():
					return context.Cause(gctx)
				}
			}
			ss, err := r.stage(gctx, s)
			if err != nil {
				return err
			}
			*r.states[s] = *ss
			close(done[s])
			return nil
		})
	}
	return g.Wait()
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
