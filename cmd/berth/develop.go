package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

var _ reconciler.DevelopRuntime = (*engine.Engine)(nil)

// developRun is the develop.watch side of a watch: a reconciler.Developer
// running until stop.
type developRun struct {
	d      *reconciler.Developer
	cancel context.CancelFunc
	done   chan error
}

// startDevelop starts acting on the develop.watch rules of the selected
// services; their errors (a rebuild rule without build:, sync+exec without
// a command) end the watch before it starts. With no rules yet (up --watch
// of a project without develop sections) it still runs: rules a later edit
// of the Compose file adds take effect.
func startDevelop(ctx context.Context, g *globalOptions, a *app, p *spec.Project, opt reconciler.Options, sink reconciler.EventSink, wo watchOptions) (*developRun, error) {
	if hasDevelop(p, opt.Services) || wo.requireDevelop {
		if err := p.CheckWatch(opt.Services); err != nil {
			return nil, err
		}
	}
	out := &lockedWriter{w: g.stderr}
	rebuildSink := sink
	if wo.quiet {
		rebuildSink = discardSink{}
	}
	d := reconciler.NewDeveloper(reconciler.DevelopOptions{
		Runtime:  a.engine,
		Services: opt.Services,
		Rebuild: func(ctx context.Context, service string) error {
			return rebuildService(ctx, g, a, p.Name, service, rebuildSink, wo.prune)
		},
		Report: func(service, line string) { _ = out.write(service + ": " + line + "\n") },
		Output: func(service string) io.Writer {
			return &prefixWriter{out: &lockedWriter{w: g.stdout}, prefix: service + " | "}
		},
		OnError: func(err error) {
			_ = out.write("WARN " + oneLine(err) + "\n")
		},
	})
	dctx, cancel := context.WithCancel(ctx)
	r := &developRun{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(dctx, p) }()
	return r, nil
}

// rebuildService rebuilds service's image and recreates its containers
// through an up plan for it alone. With prune, the image its containers ran before is removed when
// nothing uses it any more.
func rebuildService(ctx context.Context, g *globalOptions, a *app, project, service string, sink reconciler.EventSink, prune bool) error {
	p, err := g.loadRunnable(ctx)
	if err != nil {
		return err
	}
	if p.Name != project {
		return fmt.Errorf("the project's name changed from %q to %q; restart the watch", project, p.Name)
	}
	before := serviceImages(ctx, a, project, service)
	// As up --build for this service alone: built with the cache, its
	// containers recreated on the new image.
	opt := reconciler.Options{Mode: reconciler.ModeUp, Services: []string{service}, NoDeps: true, ForceRecreate: true, Build: "always"}
	if err := converge(ctx, g, a, p, opt, false, sink); err != nil {
		return err
	}
	if !prune {
		return nil
	}
	after := serviceImages(ctx, a, project, service)
	for _, id := range before {
		if slices.Contains(after, id) {
			continue
		}
		if err := a.engine.Images().Remove(ctx, id); err != nil && !errdefs.IsConflict(err) && !errdefs.IsNotFound(err) {
			return fmt.Errorf("prune image %s: %w", id, err)
		}
	}
	return nil
}

func serviceImages(ctx context.Context, a *app, project, service string) []string {
	ctrs, _ := a.engine.List(ctx, map[string]string{spec.LabelProject: project, spec.LabelService: service})
	var ids []string
	for _, c := range ctrs {
		if !slices.Contains(ids, c.ImageID) {
			ids = append(ids, c.ImageID)
		}
	}
	return ids
}

func hasDevelop(p *spec.Project, services []string) bool {
	for _, s := range p.Services {
		if s.Develop != nil && (len(services) == 0 || slices.Contains(services, s.Name)) {
			return true
		}
	}
	return false
}

// setProject hands a reloaded project's rules to the Developer.
func (r *developRun) setProject(p *spec.Project) {
	r.d.SetProject(p)
}

// stop ends the Developer and waits for it.
func (r *developRun) stop() {
	r.cancel()
	<-r.done
}

// discardSink drops progress events (watch --quiet).
type discardSink struct{}

func (discardSink) Event(reconciler.Event) {}

// prefixWriter writes each line with prefix ("web | "), keeping a partial
// line until its end comes. Safe for concurrent use.
type prefixWriter struct {
	out    *lockedWriter
	prefix string

	mu      sync.Mutex // guards partial
	partial []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		if err := w.out.write(w.prefix + string(w.partial[:i+1])); err != nil {
			return 0, err
		}
		w.partial = w.partial[i+1:]
	}
	return len(b), nil
}
