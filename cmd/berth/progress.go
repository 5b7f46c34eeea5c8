package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/reconciler"
)

// plainSink renders progress events as Docker Compose's plain progress does:
// one line per event, "<Kind> <name>  <Status>".
type plainSink struct {
	mu sync.Mutex // guards w and builds
	w  io.Writer
	// builds render each image's build steps as BuildKit's plain output.
	builds map[string]*plainProgress
}

func (s *plainSink) Event(e reconciler.Event) {
	if e.Build != nil {
		s.mu.Lock()
		p := s.builds[e.Target]
		if p == nil {
			if s.builds == nil {
				s.builds = map[string]*plainProgress{}
			}
			p = &plainProgress{w: s.w, names: map[int]string{}}
			s.builds[e.Target] = p
		}
		s.mu.Unlock()
		p.event(*e.Build)
		return
	}
	kind, name, _ := strings.Cut(e.Target, "/")
	if kind != "" {
		kind = strings.ToUpper(kind[:1]) + kind[1:]
	}
	line := fmt.Sprintf(" %s %s  %s", kind, name, e.Status)
	if e.Err != nil {
		line += ": " + e.Err.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.w, line)
}

// jsonSink writes one JSON object per event.
type jsonSink struct {
	mu  sync.Mutex // guards enc
	enc *json.Encoder
}

func (s *jsonSink) Event(e reconciler.Event) {
	if e.Build != nil {
		return // a build's steps are not resources
	}
	kind, name, _ := strings.Cut(e.Target, "/")
	ev := struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
	}{kind, name, string(e.Status), ""}
	if e.Err != nil {
		ev.Error = e.Err.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.enc.Encode(ev)
}

type quietSink struct{}

func (quietSink) Event(reconciler.Event) {}

// ttySink redraws one line per resource in place, as docker compose's
// terminal progress does.
type ttySink struct {
	mu      sync.Mutex // guards the fields below
	w       io.Writer
	order   []string
	state   map[string]reconciler.Event
	started map[string]time.Time
	steps   map[string]*ttyBuildStep // an image's build: its latest step
	drawn   int                      // lines on screen from the last draw
}

// ttyBuildStep is the step of an image's build shown under its line while
// it builds ("=> [web 3/7] RUN make  1.2s"), with the step's latest line
// of output.
type ttyBuildStep struct {
	name    string
	started time.Time
	last    string
}

func (s *ttySink) Event(e reconciler.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Build != nil {
		s.buildEventLocked(e.Target, *e.Build)
		return
	}
	if _, ok := s.state[e.Target]; !ok {
		s.order = append(s.order, e.Target)
		s.started[e.Target] = time.Now()
	}
	s.state[e.Target] = e
	s.drawLocked()
}

// drawLocked requires s.mu.
func (s *ttySink) drawLocked() {
	var b strings.Builder
	if s.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", s.drawn)
	}
	done := 0
	width := 0
	for _, t := range s.order {
		if finished(s.state[t].Status) {
			done++
		}
		width = max(width, len(displayTarget(t)))
	}
	verb := "Running"
	fmt.Fprintf(&b, "\x1b[2K[+] %s %d/%d\n", verb, done, len(s.order))
	lines := 1
	cols := 0 // the terminal's width, asked once a draw when a build step shows
	for _, t := range s.order {
		e := s.state[t]
		mark := "\x1b[34m⠿\x1b[0m"
		switch {
		case e.Err != nil:
			mark = "\x1b[31m✘\x1b[0m"
		case finished(e.Status):
			mark = "\x1b[32m✔\x1b[0m"
		}
		line := fmt.Sprintf(" %s %-*s  %-10s %5.1fs", mark, width, displayTarget(t), e.Status, time.Since(s.started[t]).Seconds())
		if e.Err != nil {
			line += "  " + e.Err.Error()
		}
		fmt.Fprintf(&b, "\x1b[2K%s\n", line)
		lines++
		if st := s.steps[t]; st != nil && e.Status == reconciler.StatusBuilding {
			if cols == 0 {
				if cols, _ = terminalSize(s.w); cols <= 0 {
					cols = 80
				}
			}
			fmt.Fprintf(&b, "\x1b[2K%s\n", fitWidth(fmt.Sprintf("   => %s  %.1fs", st.name, time.Since(st.started).Seconds()), cols))
			lines++
			if st.last != "" {
				fmt.Fprintf(&b, "\x1b[2K\x1b[2m%s\x1b[0m\n", fitWidth("      "+st.last, cols))
				lines++
			}
		}
	}
	// What the last draw showed below the lines drawn now is cleared.
	for range s.drawn - lines {
		b.WriteString("\x1b[2K\n")
		lines++
	}
	s.drawn = lines
	_, _ = io.WriteString(s.w, b.String())
}

// buildEventLocked notes a step of target's build; s.mu is held. A step
// that starts or reports progress becomes the one shown; output lines
// (printable, the latest) go under it.
func (s *ttySink) buildEventLocked(target string, ev build.Event) {
	if _, ok := s.state[target]; !ok {
		return // the image's own line comes first
	}
	st := s.steps[target]
	switch ev.Status {
	case build.StepOutput:
		if st != nil && st.name == ev.Name {
			st.last = printable(ev.Line)
		}
	case build.StepStarted, build.StepProgress:
		if st == nil || st.name != ev.Name {
			s.steps[target] = &ttyBuildStep{name: ev.Name, started: time.Now()}
		}
	default: // cached, done, failed: shown until the next step starts
		if st == nil || st.name != ev.Name {
			s.steps[target] = &ttyBuildStep{name: ev.Name, started: time.Now().Add(-ev.Duration)}
		}
	}
	s.drawLocked()
}

// finished reports whether a status ends a resource's progress.
func finished(st reconciler.Status) bool {
	switch st {
	case reconciler.StatusCreated, reconciler.StatusStarted, reconciler.StatusRunning, reconciler.StatusRemoved,
		reconciler.StatusStopped, reconciler.StatusHealthy, reconciler.StatusExited, reconciler.StatusPulled,
		reconciler.StatusRecreated, reconciler.StatusError, reconciler.StatusSkipped, reconciler.StatusBuilt:
		return true
	}
	return false
}

func displayTarget(t string) string {
	kind, name, _ := strings.Cut(t, "/")
	if kind == "" {
		return name
	}
	return strings.ToUpper(kind[:1]) + kind[1:] + " " + name
}

// newSink renders the progress of a plan on stderr as --progress and
// --ansi say.
func (g *globalOptions) newSink() (reconciler.EventSink, error) {
	ansi, err := g.ansiMode()
	if err != nil {
		return nil, err
	}
	mode := g.progress
	if mode == "" || mode == "auto" {
		switch {
		case ansi == "never":
			mode = "plain"
		case ansi == "always" || isTerminal(g.stderr):
			mode = "tty"
		}
	}
	return newSink(mode, g.stderr)
}

// ansiMode is --ansi, or never with the old --no-ansi.
func (g *globalOptions) ansiMode() (string, error) {
	if g.noAnsi {
		return "never", nil
	}
	switch g.ansi {
	case "", "auto":
		return "auto", nil
	case "never", "always":
		return g.ansi, nil
	}
	return "", fmt.Errorf(`--ansi %q: must be one of "never", "always", "auto": %w`, g.ansi, errdefs.ErrInvalidArgument)
}

func newSink(mode string, w io.Writer) (reconciler.EventSink, error) {
	if mode == "" || mode == "auto" {
		mode = "plain"
		if isTerminal(w) {
			mode = "tty"
		}
	}
	switch mode {
	case "tty":
		return &ttySink{w: w, state: map[string]reconciler.Event{}, started: map[string]time.Time{}, steps: map[string]*ttyBuildStep{}}, nil
	case "plain":
		return &plainSink{w: w}, nil
	case "json":
		return &jsonSink{enc: json.NewEncoder(w)}, nil
	case "quiet":
		return quietSink{}, nil
	}
	return nil, fmt.Errorf("--progress %q: must be one of auto, tty, plain, json, quiet: %w", mode, errdefs.ErrInvalidArgument)
}

// isTerminal reports whether w (a writer or reader) is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
