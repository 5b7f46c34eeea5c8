package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// DevelopRuntime is the part of the engine develop.watch rules drive. An
// id is one List returned. engine.Engine implements it.
//
//   - List is Runtime.List.
//   - SyncFiles brings paths of the running container id up to date with
//     the host (engine.Engine.SyncFiles): per-path problems are in the
//     result, the error is about the container (errdefs.ErrNotFound,
//     errdefs.ErrFailedPrecondition when it is not running).
//   - Exec runs a process in the running container and returns its exit
//     code.
//   - Stop and Start are Runtime's.
type DevelopRuntime interface {
	List(ctx context.Context, labels map[string]string) ([]*engine.Container, error)
	SyncFiles(ctx context.Context, id engine.ContainerID, paths []engine.SyncPath, opt engine.SyncOptions) (engine.SyncResult, error)
	Exec(ctx context.Context, id engine.ContainerID, cfg engine.ExecConfig, stdio engine.ExecIO) (int, error)
	Stop(ctx context.Context, id engine.ContainerID, timeout time.Duration) error
	Start(ctx context.Context, id engine.ContainerID) error
}

// Defaults of DevelopOptions.
const (
	DefaultDevelopSettle   = 10 * time.Millisecond
	DefaultDevelopMaxDelay = time.Second
	// developQuiet is how long a service's tree must have been without a
	// change for the next change to start a new burst; a change sooner
	// belongs to the burst under way and waits for burstSettle of quiet.
	developQuiet = 250 * time.Millisecond
	burstSettle  = 100 * time.Millisecond
	// stoppedRetry is how often a batch for a service whose containers are
	// all stopped looks again whether one runs.
	stoppedRetry = 200 * time.Millisecond
)

// DevelopOptions configure a Developer. Callbacks may be called from
// several goroutines at once, one per service.
type DevelopOptions struct {
	Runtime DevelopRuntime
	// Services are the services whose rules are acted on; empty: all.
	Services []string
	// Settle is how long a service's files must be quiet before its batch
	// runs when the tree had been quiet: the first change is acted on at
	// once. Changes that follow within a burst (a checkout of many files)
	// wait for a longer quiet period and become one batch. MaxDelay bounds
	// the wait while changes keep coming.
	Settle, MaxDelay time.Duration
	// Rebuild rebuilds the service's image and recreates its containers
	// (a rebuild rule fired). It must be set when a rule rebuilds.
	Rebuild func(ctx context.Context, service string) error
	// Report gets one line per service and batch: what was done, how long
	// it took.
	Report func(service, line string)
	// Output is where a sync+exec command's output goes, for a service.
	Output func(service string) io.Writer
	// Watching, if set, is called once the paths are watched: a change
	// made after it returns is seen.
	Watching func()
	// OnError gets what went wrong with a path, a container or a watch;
	// the watch goes on.
	OnError func(error)
}

// Developer acts on the develop.watch rules of a project: it watches the
// rules' paths and, for each service, batches the changes and syncs,
// restarts, execs or rebuilds. Run owns it; SetProject may be called from
// any goroutine.
type Developer struct {
	opt     DevelopOptions
	project chan *spec.Project
}

// NewDeveloper returns a Developer for opt.
func NewDeveloper(opt DevelopOptions) *Developer {
	if opt.Settle <= 0 {
		opt.Settle = DefaultDevelopSettle
	}
	if opt.MaxDelay <= 0 {
		opt.MaxDelay = DefaultDevelopMaxDelay
	}
	if opt.Report == nil {
		opt.Report = func(string, string) {}
	}
	if opt.OnError == nil {
		opt.OnError = func(error) {}
	}
	if opt.Output == nil {
		opt.Output = func(string) io.Writer { return io.Discard }
	}
	return &Developer{opt: opt, project: make(chan *spec.Project, 1)}
}

// SetProject replaces the project whose rules are acted on (the Compose
// file changed): from then on its rules count. It never blocks; of several
// calls before Run looks, the last wins.
func (d *Developer) SetProject(p *spec.Project) {
	for {
		select {
		case d.project <- p:
			return
		default:
		}
		select {
		case <-d.project:
		default:
		}
	}
}

// devRule is one rule of one service, ready to match paths.
type devRule struct {
	project string
	service string
	rule    spec.WatchRule
	files   *ruleFiles
	// dependents are the services that depend_on this one with restart:
	// true, transitively, dependencies first: a restart or rebuild of the
	// service restarts them too.
	dependents []string
}

// devBatch is what changed for one service since its last batch.
type devBatch struct {
	paths       map[*devRule]map[string]struct{} // host paths, by rule
	skipSame    bool                             // initial sync: files already up to date are left alone
	burst       bool                             // began while the tree was busy: waits for burstSettle
	first, last time.Time
	notBefore   time.Time // a batch kept for a stopped container runs again no sooner
	waiting     bool      // it was kept for a stopped container, and that was reported
}

// merge adds o's paths (a batch that could not run yet) to b.
func (b *devBatch) merge(o *devBatch) {
	if b.paths == nil {
		b.paths = map[*devRule]map[string]struct{}{}
	}
	for r, paths := range o.paths {
		if b.paths[r] == nil {
			b.paths[r] = map[string]struct{}{}
		}
		maps.Copy(b.paths[r], paths)
	}
	b.skipSame = b.skipSame || o.skipSame
	if o.first.Before(b.first) {
		b.first = o.first
	}
	b.notBefore = o.notBefore
	b.waiting = o.waiting
}

func (b *devBatch) add(r *devRule, p string, now time.Time) {
	if b.paths == nil {
		b.paths = map[*devRule]map[string]struct{}{}
		b.first = now
	}
	if b.paths[r] == nil {
		b.paths[r] = map[string]struct{}{}
	}
	b.paths[r][p] = struct{}{}
	b.last = now
}

// devLoop is the state of one Run; only Run's goroutine touches it.
type devLoop struct {
	d       *Developer
	w       *fsnotify.Watcher
	rules   []*devRule
	pending map[string]*devBatch
	changed map[string]time.Time // the last change seen, by service
	running map[string]bool
	done    chan batchDone
	wg      sync.WaitGroup
}

// Run acts on p's rules until ctx is done, then waits for the batches
// under way and returns ctx's cause. Rules with initial_sync (sync and
// sync+restart) first bring the containers up to date with the host.
func (d *Developer) Run(ctx context.Context, p *spec.Project) error {
	w, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer w.Close()
	l := &devLoop{d: d, w: w, pending: map[string]*devBatch{}, changed: map[string]time.Time{}, running: map[string]bool{}, done: make(chan batchDone)}
	defer l.wg.Wait()
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l.setProject(p)
	now := time.Now()
	for _, r := range l.rules {
		if r.rule.InitialSync && (r.rule.Action == spec.WatchSync || r.rule.Action == spec.WatchSyncRestart) {
			l.rescan(r, now)
			l.pending[r.service].skipSame = true
		}
	}
	if d.opt.Watching != nil {
		d.opt.Watching()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.schedule(bctx, timer)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case p := <-d.project:
			l.setProject(p)
		case d := <-l.done:
			l.running[d.service] = false
			if d.again != nil {
				if b := l.pending[d.service]; b != nil {
					b.merge(d.again)
				} else {
					l.pending[d.service] = d.again
				}
			}
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch: watcher closed")
			}
			l.event(ev)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch: watcher closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Too many changes to tell apart: bring everything up to date.
				now := time.Now()
				for _, r := range l.rules {
					if r.rule.Syncs() || r.rule.Action == spec.WatchRestart || r.rule.Action == spec.WatchRebuild {
						l.rescan(r, now)
					}
				}
				continue
			}
			d.opt.OnError(fmt.Errorf("watch: %w", err))
		case <-timer.C:
		}
	}
}

// setProject compiles p's rules and watches their paths.
func (l *devLoop) setProject(p *spec.Project) {
	l.rules = nil
	for _, s := range p.Services {
		if s.Develop == nil || len(l.d.opt.Services) > 0 && !slices.Contains(l.d.opt.Services, s.Name) {
			continue
		}
		ctx := ""
		if s.Build != nil {
			ctx = s.Build.Context
		}
		for _, wr := range s.Develop.Watch {
			f, err := newRuleFiles(wr, ctx)
			if err != nil {
				l.d.opt.OnError(fmt.Errorf("service %q: %w", s.Name, err))
				continue
			}
			r := &devRule{project: p.Name, service: s.Name, rule: wr, files: f, dependents: restartDependents(p, s.Name)}
			l.rules = append(l.rules, r)
			l.watch(r)
		}
	}
}

// watch adds the rule's path (its parent too, to see it deleted and made
// again) and every directory below it that is not ignored.
func (l *devLoop) watch(r *devRule) {
	root := r.files.root
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		// The nearest existing parent: the path may not exist yet.
		if err := l.w.Add(dir); err == nil || dir == filepath.Dir(dir) {
			break
		}
	}
	l.walk(r, root, nil)
}

// walk watches the directories from top down that r does not skip, and
// calls file, if not nil, for each path below top that counts.
func (l *devLoop) walk(r *devRule, top string, file func(string)) {
	_ = filepath.WalkDir(top, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if p != top && !errors.Is(err, fs.ErrNotExist) {
				l.d.opt.OnError(fmt.Errorf("watch %s: %w", p, err))
			}
			return nil
		}
		if de.IsDir() {
			if r.files.skipDir(p) {
				return filepath.SkipDir
			}
			if err := l.w.Add(p); err != nil {
				l.d.opt.OnError(fmt.Errorf("watch %s: %w", p, err))
			}
			return nil
		}
		if file != nil && r.files.counts(p) {
			file(p)
		}
		return nil
	})
}

// rescan counts every file of r as changed.
func (l *devLoop) rescan(r *devRule, now time.Time) {
	b := l.batch(r.service)
	l.walk(r, r.files.root, func(p string) { b.add(r, p, now) })
	if r.files.counts(r.files.root) && !isDir(r.files.root) {
		b.add(r, r.files.root, now)
	}
	if !r.rule.Syncs() {
		b.add(r, r.files.root, now)
	}
}

func (l *devLoop) batch(service string) *devBatch {
	b := l.pending[service]
	now := time.Now()
	if b == nil {
		b = &devBatch{burst: now.Sub(l.changed[service]) < developQuiet}
		l.pending[service] = b
	}
	l.changed[service] = now
	return b
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// event adds what ev changed to the batches of the rules it concerns. A
// directory that appears is watched and its files count as changed.
func (l *devLoop) event(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return
	}
	p := filepath.Clean(ev.Name)
	now := time.Now()
	var dir bool
	if ev.Has(fsnotify.Create) {
		fi, err := os.Lstat(p)
		dir = err == nil && fi.IsDir()
	}
	for _, r := range l.rules {
		if _, under := r.files.rel(p); !under {
			continue
		}
		if dir {
			if r.files.skipDir(p) {
				continue
			}
			b := l.batch(r.service)
			b.add(r, p, now)
			l.walk(r, p, func(f string) { b.add(r, f, now) })
			continue
		}
		if r.files.counts(p) {
			l.batch(r.service).add(r, p, now)
		}
	}
}

// schedule starts the batches that are due and sets timer for the next.
func (l *devLoop) schedule(ctx context.Context, timer *time.Timer) {
	now := time.Now()
	var next time.Time
	for _, s := range slices.Sorted(maps.Keys(l.pending)) {
		b := l.pending[s]
		if l.running[s] || len(b.paths) == 0 {
			continue
		}
		settle := l.d.opt.Settle
		if b.burst {
			settle = max(settle, burstSettle)
		}
		due := b.last.Add(settle)
		if limit := b.first.Add(l.d.opt.MaxDelay); limit.Before(due) {
			due = limit
		}
		if due.Before(b.notBefore) {
			due = b.notBefore
		}
		if !due.After(now) {
			delete(l.pending, s)
			l.running[s] = true
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				done := batchDone{service: s}
				if l.d.runBatch(ctx, s, b) {
					b.notBefore = time.Now().Add(stoppedRetry)
					done.again = b
				}
				select {
				case l.done <- done:
				case <-ctx.Done():
				}
			}()
			continue
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	if !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
	if !next.IsZero() {
		timer.Reset(next.Sub(now))
	}
}

// batchDone is a batch that ended; again, if not nil, is to run again.
type batchDone struct {
	service string
	again   *devBatch
}

// runBatch acts on one service's batch and reports it in one line. It
// returns true when the batch is to run again: it syncs files and the
// service's containers are all stopped, so it waits for one to run (a
// started container gets the files and, for sync+restart, a restart).
func (d *Developer) runBatch(ctx context.Context, service string, b *devBatch) (again bool) {
	start := time.Now()
	rules := slices.SortedFunc(maps.Keys(b.paths), func(a, b *devRule) int { return strings.Compare(a.rule.Path+a.rule.Target, b.rule.Path+b.rule.Target) })
	for _, r := range rules {
		if r.rule.Action == spec.WatchRebuild {
			if d.opt.Rebuild == nil {
				d.opt.OnError(fmt.Errorf("service %q: rebuild is not available", service))
				return false
			}
			if err := d.opt.Rebuild(ctx, service); err != nil {
				d.opt.OnError(fmt.Errorf("service %q: rebuild: %w", service, err))
				return false
			}
			did := "rebuilt and recreated"
			if deps := d.restartDependents(ctx, r); deps != "" {
				did += ", " + deps
			}
			d.opt.Report(service, did+" in "+since(start))
			return false
		}
	}
	ctrs, stopped, err := d.serviceContainers(ctx, rules[0].project, service)
	if err != nil {
		d.opt.OnError(fmt.Errorf("service %q: %w", service, err))
		return false
	}
	if len(ctrs) == 0 {
		if stopped > 0 && slices.ContainsFunc(rules, func(r *devRule) bool { return r.rule.Syncs() }) {
			if !b.waiting {
				d.opt.Report(service, "its container is stopped; the files are synced once it runs")
				b.waiting = true
			}
			return true
		}
		d.opt.Report(service, "no running container; nothing synced")
		return false
	}
	var did []string
	restart := false
	var execs []*devRule
	synced, removed := 0, 0
	for _, r := range rules {
		switch r.rule.Action {
		case spec.WatchRestart:
			restart = true
			continue
		case spec.WatchSyncExec:
			execs = append(execs, r)
		}
		c, rm := d.sync(ctx, service, r, b, ctrs)
		synced, removed = synced+c, removed+rm
		if r.rule.Action == spec.WatchSyncRestart && c+rm > 0 {
			restart = true
		}
	}
	if synced > 0 {
		did = append(did, "synced "+plural(synced, "file"))
	}
	if removed > 0 {
		did = append(did, "removed "+plural(removed, "file"))
	}
	if b.skipSame && synced+removed == 0 {
		did = append(did, "up to date")
	}
	if restart {
		d.restart(ctx, service, ctrs)
		did = append(did, "restarted")
		if deps := d.restartDependents(ctx, rules[0]); deps != "" {
			did = append(did, deps)
		}
	}
	for _, r := range execs {
		if synced+removed == 0 && !b.skipSame {
			continue
		}
		for _, c := range ctrs {
			d.exec(ctx, service, r, c)
		}
		did = append(did, "ran "+strings.Join(r.rule.Exec.Command, " "))
	}
	if len(did) == 0 {
		return false
	}
	d.opt.Report(service, strings.Join(did, ", ")+" in "+since(start))
	return false
}

// restart stops and starts each of ctrs, a service's containers.
func (d *Developer) restart(ctx context.Context, service string, ctrs []*engine.Container) {
	for _, c := range ctrs {
		err := d.opt.Runtime.Stop(ctx, c.ID, -1)
		if err == nil {
			err = d.opt.Runtime.Start(ctx, c.ID)
		}
		if err != nil {
			d.opt.OnError(fmt.Errorf("service %q: restart %s: %w", service, c.Config.Name, err))
		}
	}
}

// restartDependents restarts the running containers of r's dependents (as
// docker compose restarts the services that depend_on a restarted one with
// restart: true) and says which it restarted, "" for none.
func (d *Developer) restartDependents(ctx context.Context, r *devRule) string {
	var done []string
	for _, dep := range r.dependents {
		ctrs, err := d.containers(ctx, r.project, dep)
		if err != nil {
			d.opt.OnError(fmt.Errorf("service %q: %w", dep, err))
			continue
		}
		if len(ctrs) == 0 {
			continue
		}
		d.restart(ctx, dep, ctrs)
		done = append(done, dep)
	}
	if len(done) == 0 {
		return ""
	}
	return "restarted its dependents " + strings.Join(done, ", ")
}

// restartDependents are the services of p that depend on service with
// restart: true, directly or through one another, each after those it
// depends on.
func restartDependents(p *spec.Project, service string) []string {
	var out []string
	seen := map[string]bool{service: true}
	for queue := []string{service}; len(queue) > 0; queue = queue[1:] {
		for _, s := range p.Services {
			if seen[s.Name] {
				continue
			}
			if slices.ContainsFunc(s.DependsOn, func(dep spec.Dependency) bool { return dep.Service == queue[0] && dep.Restart }) {
				seen[s.Name] = true
				out = append(out, s.Name)
				queue = append(queue, s.Name)
			}
		}
	}
	return out
}

// sync writes r's changed paths into each container; it returns the
// number of paths written and removed (in the first container).
func (d *Developer) sync(ctx context.Context, service string, r *devRule, b *devBatch, ctrs []*engine.Container) (copied, removed int) {
	hostPaths := slices.Sorted(maps.Keys(b.paths[r]))
	paths := make([]engine.SyncPath, 0, len(hostPaths))
	for _, hp := range hostPaths {
		rel, ok := r.files.rel(hp)
		if !ok {
			continue
		}
		paths = append(paths, engine.SyncPath{Src: hp, Dst: path.Join(r.rule.Target, filepath.ToSlash(rel))})
	}
	for i, c := range ctrs {
		res, err := d.opt.Runtime.SyncFiles(ctx, c.ID, paths, engine.SyncOptions{SkipUnchanged: b.skipSame})
		if err != nil {
			d.opt.OnError(fmt.Errorf("service %q: sync into %s: %w", service, c.Config.Name, err))
			continue
		}
		for _, e := range res.Failed {
			d.opt.OnError(fmt.Errorf("service %q: sync: %w", service, e))
		}
		if i == 0 {
			copied, removed = res.Copied, res.Removed
		}
	}
	return copied, removed
}

func (d *Developer) exec(ctx context.Context, service string, r *devRule, c *engine.Container) {
	x := r.rule.Exec
	out := d.opt.Output(service)
	code, err := d.opt.Runtime.Exec(ctx, c.ID, engine.ExecConfig{
		Cmd: x.Command, Env: x.Environment, User: x.User, WorkingDir: x.WorkingDir, Privileged: x.Privileged,
	}, engine.ExecIO{Stdout: out, Stderr: out})
	switch {
	case err != nil:
		d.opt.OnError(fmt.Errorf("service %q: exec %s in %s: %w", service, strings.Join(x.Command, " "), c.Config.Name, err))
	case code != 0:
		d.opt.OnError(fmt.Errorf("service %q: exec %s in %s: exit code %d", service, strings.Join(x.Command, " "), c.Config.Name, code))
	}
}

// containers are the service's running containers (not one-off ones),
// looked up anew for each batch: a recreated container is the one synced.
func (d *Developer) containers(ctx context.Context, project, service string) ([]*engine.Container, error) {
	ctrs, _, err := d.serviceContainers(ctx, project, service)
	return ctrs, err
}

// serviceContainers are the service's running containers, and the number
// of its other (stopped, created) ones; one-off containers do not count.
func (d *Developer) serviceContainers(ctx context.Context, project, service string) (running []*engine.Container, others int, err error) {
	all, err := d.opt.Runtime.List(ctx, map[string]string{spec.LabelProject: project, spec.LabelService: service})
	if err != nil {
		return nil, 0, err
	}
	for _, c := range all {
		switch {
		case c.Config.Labels[spec.LabelOneOff] == spec.LabelTrue:
		case c.State.Status == engine.StatusRunning:
			running = append(running, c)
		default:
			others++
		}
	}
	return running, others, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func since(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
