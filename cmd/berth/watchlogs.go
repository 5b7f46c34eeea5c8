package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// liveLogsPoll is how often liveLogs looks for containers that came or
// started between two converges (a restart policy, a `berth start`).
const liveLogsPoll = time.Second

// liveLogs streams the logs of a project's service containers while they come
// and go, as `docker compose up --watch` does in the foreground: a container
// a converge creates is followed from its first line, one it removes ends,
// and one started again continues after the last line shown.
type liveLogs struct {
	a       *app
	project string
	o       attachOptions
	colour  bool
	out     *lockedWriter

	stopLoop, stopFollow context.CancelFunc
	followCtx            context.Context
	poke                 chan struct{}
	loopDone             chan struct{}

	mu     sync.Mutex                           // guards the fields below
	shown  map[engine.ContainerID]*followedLogs // by container, while it exists
	width  int                                  // of the widest prefix so far
	colors int                                  // palette entries handed out
	wg     sync.WaitGroup                       // the followers
}

type followedLogs struct {
	following bool
	last      time.Time // of the last line shown
	colour    string
}

func newLiveLogs(g *globalOptions, a *app, project string, o attachOptions) *liveLogs {
	return &liveLogs{
		a: a, project: project, o: o, out: &lockedWriter{w: g.stdout},
		colour: !o.noColor && isTerminal(g.stdout),
		shown:  map[engine.ContainerID]*followedLogs{},
	}
}

// start follows the project's containers until stop, looking again on
// each poke and every liveLogsPoll.
func (l *liveLogs) start() {
	var loopCtx context.Context
	loopCtx, l.stopLoop = context.WithCancel(context.Background())
	l.followCtx, l.stopFollow = context.WithCancel(context.Background())
	l.poke = make(chan struct{}, 1)
	l.loopDone = make(chan struct{})
	go func() {
		defer close(l.loopDone)
		t := time.NewTicker(liveLogsPoll)
		defer t.Stop()
		for {
			l.sync(loopCtx)
			select {
			case <-loopCtx.Done():
				return
			case <-l.poke:
			case <-t.C:
			}
		}
	}()
}

// changed asks for a look now: a converge made or removed containers.
func (l *liveLogs) changed() {
	select {
	case l.poke <- struct{}{}:
	default:
	}
}

// stop looks no more, gives the followers up to grace to show the last
// lines of containers that stopped, and ends them.
func (l *liveLogs) stop(grace time.Duration) {
	l.stopLoop()
	<-l.loopDone
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
	l.stopFollow()
	<-done
}

// sync starts a follower for each running container not followed yet and
// forgets containers that are gone.
func (l *liveLogs) sync(ctx context.Context) {
	ctrs, err := l.a.engine.List(ctx, map[string]string{spec.LabelProject: l.project, spec.LabelOneOff: spec.LabelFalse})
	if err != nil {
		return // the next look may succeed; logs are best effort
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	present := map[engine.ContainerID]bool{}
	for _, c := range ctrs {
		present[c.ID] = true
		l.width = max(l.width, len(logPrefix(l.project, c)))
	}
	for id, f := range l.shown {
		if !present[id] && !f.following {
			delete(l.shown, id)
		}
	}
	for _, c := range ctrs {
		if !l.o.shows(c.Config.Labels[spec.LabelService]) {
			continue
		}
		f := l.shown[c.ID]
		if f == nil {
			f = &followedLogs{colour: palette[l.colors%len(palette)]}
			l.colors++
			l.shown[c.ID] = f
		}
		if f.following || c.State.Status == engine.StatusCreated || c.State.Status == engine.StatusExited || c.State.Status == engine.StatusDead {
			continue
		}
		f.following = true
		opt := engine.LogOptions{Follow: true, Tail: -1}
		if !f.last.IsZero() {
			opt.Since = f.last.Add(time.Nanosecond)
		}
		l.wg.Go(func() { l.follow(l.followCtx, c, f, opt) })
	}
}

func (l *liveLogs) follow(ctx context.Context, c *engine.Container, f *followedLogs, opt engine.LogOptions) {
	_ = l.a.engine.Logs(ctx, c.ID, opt, func(line engine.LogLine) error {
		l.mu.Lock()
		prefix := l.prefix(c, f)
		f.last = line.Time
		l.mu.Unlock()
		return l.out.write(formatLogLine(prefix, l.o.timestamps, line))
	})
	l.mu.Lock()
	f.following = false
	l.mu.Unlock()
}

// prefix is the container's "web-1 | ", padded to the widest so far; l.mu
// is held.
func (l *liveLogs) prefix(c *engine.Container, f *followedLogs) string {
	if l.o.noLogPrefix {
		return ""
	}
	sgr := ""
	if l.colour {
		sgr = f.colour
	}
	return linePrefix(l.project, c, l.width, sgr)
}

// formatLogLine is one log line as the Compose verbs print it: the prefix,
// the time with --timestamps, the text.
func formatLogLine(prefix string, timestamps bool, l engine.LogLine) string {
	var b strings.Builder
	b.WriteString(prefix)
	if timestamps {
		b.WriteString(l.Time.Format(time.RFC3339Nano))
		b.WriteByte(' ')
	}
	b.WriteString(l.Text)
	b.WriteByte('\n')
	return b.String()
}
