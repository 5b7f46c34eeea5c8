package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine/build"
)

// plainProgress renders a build's events as BuildKit's plain output:
// "#3 [build 2/3] RUN make", its output lines prefixed "#3 ", then
// "#3 DONE 0.4s" or "#3 CACHED"; a context's loading shows
// "#2 transferring context: 12.3MB (1204 files) 0.4s" at most every
// plainProgressEvery, and its total when done.
type plainProgress struct {
	w     io.Writer
	now   func() time.Time // nil: time.Now
	mu    sync.Mutex       // guards the fields below
	names map[int]string
	shown map[int]time.Time // when a vertex's progress was last shown
}

// plainProgressEvery is how often plain output shows a step's progress.
const plainProgressEvery = time.Second

func (p *plainProgress) event(ev build.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Status {
	case build.StepStarted:
		p.names[ev.Vertex] = ev.Name
		fmt.Fprintf(p.w, "#%d %s\n", ev.Vertex, ev.Name)
	case build.StepCached:
		fmt.Fprintf(p.w, "#%d %s\n#%d CACHED\n\n", ev.Vertex, ev.Name, ev.Vertex)
	case build.StepOutput:
		fmt.Fprintf(p.w, "#%d %s\n", ev.Vertex, ev.Line)
	case build.StepProgress:
		now := time.Now()
		if p.now != nil {
			now = p.now()
		}
		if last, ok := p.shown[ev.Vertex]; ok && now.Sub(last) < plainProgressEvery {
			return
		}
		if p.shown == nil {
			p.shown = map[int]time.Time{}
		}
		p.shown[ev.Vertex] = now
		fmt.Fprintf(p.w, "#%d %s %.1fs\n", ev.Vertex, transferred(ev), ev.Duration.Seconds())
	case build.StepDone:
		if ev.Files > 0 {
			fmt.Fprintf(p.w, "#%d %s %.1fs done\n", ev.Vertex, transferred(ev), ev.Duration.Seconds())
		}
		fmt.Fprintf(p.w, "#%d DONE %.1fs\n\n", ev.Vertex, ev.Duration.Seconds())
	case build.StepFailed:
		fmt.Fprintf(p.w, "#%d ERROR %.1fs\n\n", ev.Vertex, ev.Duration.Seconds())
	}
}

// transferred is what a context's loading read, as BuildKit says it.
func transferred(ev build.Event) string {
	return fmt.Sprintf("transferring context: %s (%d files)", units.HumanSizeWithPrecision(float64(ev.Bytes), 4), ev.Files)
}

func (p *plainProgress) finish(res *build.Result) {
	for _, t := range res.Tags {
		fmt.Fprintf(p.w, "naming to %s done\n", t)
	}
	fmt.Fprintf(p.w, "writing image %s done\n", res.ImageID)
}

// ttyLogLines is how many of a running step's last output lines the
// terminal shows under it.
const ttyLogLines = 6

// ttyProgress renders a build's events on a terminal as BuildKit does:
// a header with the time so far, every step on one line with its timer
// ("CACHED", "ERROR" before its name), the last lines of each running
// step's output under it, redrawn in place. Steps that no longer fit the
// terminal's height leave the top, finished ones first; the last draw
// (done) shows them all. Safe for concurrent use.
type ttyProgress struct {
	w             io.Writer
	now           func() time.Time
	width, height int // of the terminal; height 0: no limit

	mu       sync.Mutex // guards the fields below
	began    time.Time
	vertices []*ttyVertex // in the order of their first event
	byID     map[int]*ttyVertex
	drawn    int // lines of the last draw, still on screen
}

// ttyVertex is one step as the terminal shows it.
type ttyVertex struct {
	name    string
	status  build.EventStatus // started, cached, done or failed
	started time.Time
	dur     time.Duration // once finished
	logs    []string      // the last ttyLogLines lines of output
	load    *build.Event  // a context's loading: its last progress
}

func newTTYProgress(w io.Writer, now func() time.Time, width, height int) *ttyProgress {
	if width <= 0 {
		width = 80
	}
	return &ttyProgress{w: w, now: now, width: width, height: height, began: now(), byID: map[int]*ttyVertex{}}
}

// event records ev and redraws.
func (p *ttyProgress) event(ev build.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.byID[ev.Vertex]
	if v == nil {
		v = &ttyVertex{name: ev.Name, status: build.StepStarted, started: p.now()}
		p.byID[ev.Vertex] = v
		p.vertices = append(p.vertices, v)
	}
	switch ev.Status {
	case build.StepOutput:
		v.logs = append(v.logs, ev.Line)
		if len(v.logs) > ttyLogLines {
			v.logs = v.logs[len(v.logs)-ttyLogLines:]
		}
	case build.StepProgress:
		v.load = &ev
	case build.StepCached, build.StepDone, build.StepFailed:
		v.status, v.dur = ev.Status, ev.Duration
		if ev.Files > 0 {
			v.load = &ev
		}
	}
	p.drawLocked(false)
}

// redraw draws again, for the timers of running steps.
func (p *ttyProgress) redraw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked(false)
}

// done draws every step one last time, in full, and leaves it on screen:
// what is written next goes below.
func (p *ttyProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked(true)
	p.drawn = 0
}

// tick redraws every interval until stop is closed.
func (p *ttyProgress) tick(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.redraw()
		}
	}
}

// drawLocked requires p.mu.
func (p *ttyProgress) drawLocked(final bool) {
	now := p.now()
	finished := 0
	var blocks [][]string
	for _, v := range p.vertices {
		if v.status != build.StepStarted {
			finished++
		}
		blocks = append(blocks, p.vertexLines(v, now, final))
	}
	header := fmt.Sprintf("[+] Building %.1fs (%d/%d)", now.Sub(p.began).Seconds(), finished, len(p.vertices))
	if final && finished == len(p.vertices) {
		header += " FINISHED"
	}
	lines := []string{header}
	if !final && p.height > 1 {
		blocks = fitBlocks(blocks, p.vertices, p.height-1-1)
	}
	for _, b := range blocks {
		lines = append(lines, b...)
	}
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, l := range lines {
		b.WriteString("\x1b[2K" + l + "\n")
	}
	b.WriteString("\x1b[J") // what the last draw left below
	p.drawn = len(lines)
	_, _ = io.WriteString(p.w, b.String())
}

// vertexLines are v's lines: the step with its timer, a context's
// transfer, and while it runs (or, at the end, if it failed) its last
// lines of output.
func (p *ttyProgress) vertexLines(v *ttyVertex, now time.Time, final bool) []string {
	name, dur := v.name, v.dur
	switch v.status {
	case build.StepStarted:
		dur = now.Sub(v.started)
	case build.StepCached:
		name = "CACHED " + name
	case build.StepFailed:
		name = "ERROR " + name
	}
	out := []string{p.timed(" => "+name, dur)}
	if v.load != nil {
		out = append(out, p.timed(" => => "+transferred(*v.load), v.load.Duration))
	}
	if v.status == build.StepStarted || (final && v.status == build.StepFailed) {
		for _, l := range v.logs {
			out = append(out, fitWidth(" => => # "+printable(l), p.width-1))
		}
	}
	return out
}

// timed is text with a timer at the right edge, text cut to fit.
func (p *ttyProgress) timed(text string, d time.Duration) string {
	timer := fmt.Sprintf("%.1fs", d.Seconds())
	room := max(p.width-1-len(timer)-1, 1)
	return fmt.Sprintf("%-*s %s", room, fitWidth(text, room), timer)
}

// fitBlocks keeps at most limit lines of blocks: finished steps leave
// first, oldest first, then the oldest lines of what is left.
func fitBlocks(blocks [][]string, vs []*ttyVertex, limit int) [][]string {
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	var kept [][]string
	for i, b := range blocks {
		if n > limit && vs[i].status != build.StepStarted {
			n -= len(b)
			continue
		}
		kept = append(kept, b)
	}
	for n > limit && len(kept) > 0 {
		if len(kept[0]) <= n-limit {
			n -= len(kept[0])
			kept = kept[1:]
			continue
		}
		kept[0] = kept[0][n-limit:]
		n = limit
	}
	return kept
}

// fitWidth cuts s to at most n runes, marking the cut.
func fitWidth(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:max(n, 0)])
	}
	return string(r[:n-1]) + "…"
}

// printable makes a line of a step's output safe to draw: tabs become
// spaces, other control characters (escape sequences, carriage returns)
// are dropped.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
}

// buildProgress shows one build's progress on stderr: plain lines, or
// live on a terminal. A nil *buildProgress (quiet) shows nothing.
type buildProgress struct {
	plain *plainProgress
	tty   *ttyProgress
	stop  chan struct{}  // ends tty's ticking
	ticks sync.WaitGroup // tty's ticking
}

// ttyRedrawEvery is how often a terminal's timers move.
const ttyRedrawEvery = 100 * time.Millisecond

// newBuildProgress shows progress as --progress says: tty, plain, quiet
// (nil), or auto: tty when stderr is a terminal (and --ansi is not never).
func (g *globalOptions) newBuildProgress(mode string) (*buildProgress, error) {
	if mode == "auto" {
		ansi, err := g.ansiMode()
		if err != nil {
			return nil, err
		}
		mode = "plain"
		if ansi == "always" || (ansi == "auto" && isTerminal(g.stderr)) {
			mode = "tty"
		}
	}
	switch mode {
	case "quiet":
		return nil, nil
	case "plain":
		return &buildProgress{plain: &plainProgress{w: g.stderr, names: map[int]string{}}}, nil
	}
	width, height := terminalSize(g.stderr)
	p := &buildProgress{tty: newTTYProgress(g.stderr, time.Now, width, height), stop: make(chan struct{})}
	p.ticks.Add(1)
	go func() {
		defer p.ticks.Done()
		p.tty.tick(ttyRedrawEvery, p.stop)
	}()
	return p, nil
}

// events is the build's Options.Events.
func (p *buildProgress) events() func(build.Event) {
	switch {
	case p == nil:
		return nil
	case p.tty != nil:
		return p.tty.event
	}
	return p.plain.event
}

// end stops the live display, draws the build's steps one last time and,
// when it made res (nil: it failed), names the image.
func (p *buildProgress) end(res *build.Result) {
	if p == nil {
		return
	}
	if p.tty != nil {
		close(p.stop)
		p.ticks.Wait()
		p.tty.done()
		if res != nil {
			(&plainProgress{w: p.tty.w}).finish(res)
		}
		return
	}
	if res != nil {
		p.plain.finish(res)
	}
}

// terminalSize is w's width and height when it is a terminal, else 0, 0
// (80 columns, no height limit).
func terminalSize(w io.Writer) (int, int) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, 0
	}
	width, height, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0, 0
	}
	return width, height
}
