package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/reconciler"
)

// fakeTerminal is what a terminal shows of what is written to it: the
// text, line feeds, and the three sequences ttyProgress uses (cursor up,
// erase line, erase below).
type fakeTerminal struct {
	t      *testing.T
	screen []string
	row    int
}

var escape = regexp.MustCompile(`^\x1b\[(\d*)([AKJ])`)

func (f *fakeTerminal) Write(p []byte) (int, error) {
	s := string(p)
	for len(s) > 0 {
		for f.row >= len(f.screen) {
			f.screen = append(f.screen, "")
		}
		if m := escape.FindStringSubmatch(s); m != nil {
			switch m[2] {
			case "A":
				n, _ := strconv.Atoi(m[1])
				if n > f.row {
					f.t.Fatalf("cursor moved up %d lines from line %d", n, f.row)
				}
				f.row -= n
			case "K":
				if m[1] != "2" {
					f.t.Fatalf("unexpected %q", m[0])
				}
				f.screen[f.row] = ""
			case "J":
				f.screen = f.screen[:f.row+1]
				f.screen[f.row] = ""
			}
			s = s[len(m[0]):]
			continue
		}
		if s[0] == '\x1b' {
			f.t.Fatalf("unexpected escape sequence in %q", s)
		}
		if s[0] == '\n' {
			f.row++
			s = s[1:]
			continue
		}
		i := strings.IndexAny(s, "\x1b\n")
		if i < 0 {
			i = len(s)
		}
		f.screen[f.row] += s[:i]
		s = s[i:]
	}
	return len(p), nil
}

// shown is the screen without trailing spaces or the empty last line.
func (f *fakeTerminal) shown() string {
	var lines []string
	for _, l := range f.screen {
		lines = append(lines, strings.TrimRight(l, " "))
	}
	return strings.TrimSuffix(strings.Join(lines, "\n"), "\n")
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestTTYProgress(t *testing.T) {
	term := &fakeTerminal{t: t}
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newTTYProgress(term, clock.now, 60, 0)
	step := func(want string) {
		t.Helper()
		if got := term.shown(); got != want {
			t.Errorf("screen:\n%s\nwant:\n%s", got, want)
		}
	}
	ev := func(v int, name string, st build.EventStatus, mod func(*build.Event)) {
		e := build.Event{Vertex: v, Name: name, Status: st}
		if mod != nil {
			mod(&e)
		}
		p.event(e)
	}

	ev(1, "[stage-0 1/4] FROM busybox", build.StepStarted, nil)
	clock.advance(300 * time.Millisecond)
	ev(1, "[stage-0 1/4] FROM busybox", build.StepDone, func(e *build.Event) { e.Duration = 300 * time.Millisecond })
	ev(3, "[internal] load build context", build.StepStarted, nil)
	clock.advance(time.Second)
	ev(3, "[internal] load build context", build.StepProgress, func(e *build.Event) {
		e.Files, e.Bytes, e.Duration = 1204, 12_340_000, time.Second
	})
	step(`[+] Building 1.3s (1/2)
 => [stage-0 1/4] FROM busybox                         0.3s
 => [internal] load build context                      1.0s
 => => transferring context: 12.34MB (1204 files)      1.0s`)

	ev(3, "[internal] load build context", build.StepDone, func(e *build.Event) {
		e.Files, e.Bytes, e.Duration = 2000, 20_000_000, 1500*time.Millisecond
	})
	ev(2, "[stage-0 2/4] COPY . /src", build.StepCached, nil)
	ev(4, "[stage-0 3/4] RUN make", build.StepStarted, nil)
	for i := 1; i <= 8; i++ {
		ev(4, "", build.StepOutput, func(e *build.Event) { e.Line = "line " + strconv.Itoa(i) + "\t\x1b[1mbold" })
	}
	clock.advance(2500 * time.Millisecond)
	p.redraw() // the timer moves with no event
	step(`[+] Building 3.8s (3/4)
 => [stage-0 1/4] FROM busybox                         0.3s
 => [internal] load build context                      1.5s
 => => transferring context: 20MB (2000 files)         1.5s
 => CACHED [stage-0 2/4] COPY . /src                   0.0s
 => [stage-0 3/4] RUN make                             2.5s
 => => # line 3 [1mbold
 => => # line 4 [1mbold
 => => # line 5 [1mbold
 => => # line 6 [1mbold
 => => # line 7 [1mbold
 => => # line 8 [1mbold`)

	// Done, a step collapses to one line; a long name is cut to the width.
	ev(4, "", build.StepDone, func(e *build.Event) { e.Duration = 2600 * time.Millisecond })
	long := "[stage-0 4/4] RUN echo " + strings.Repeat("x", 80)
	ev(5, long, build.StepStarted, nil)
	clock.advance(100 * time.Millisecond)
	ev(5, long, build.StepFailed, func(e *build.Event) { e.Duration = 100 * time.Millisecond })
	p.done()
	step(`[+] Building 3.9s (5/5) FINISHED
 => [stage-0 1/4] FROM busybox                         0.3s
 => [internal] load build context                      1.5s
 => => transferring context: 20MB (2000 files)         1.5s
 => CACHED [stage-0 2/4] COPY . /src                   0.0s
 => [stage-0 3/4] RUN make                             2.6s
 => ERROR [stage-0 4/4] RUN echo xxxxxxxxxxxxxxxxxxxx… 0.1s`)
	// What follows goes below the last draw.
	_, _ = term.Write([]byte("writing image sha256:abc done\n"))
	if !strings.HasSuffix(term.shown(), "0.1s\nwriting image sha256:abc done") {
		t.Errorf("after done:\n%s", term.shown())
	}
}

// TestTTYProgressHeight: on a short terminal finished steps leave the
// live display first, running ones stay; the last draw shows them all.
func TestTTYProgressHeight(t *testing.T) {
	term := &fakeTerminal{t: t}
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newTTYProgress(term, clock.now, 40, 5)
	for v := 1; v <= 4; v++ {
		p.event(build.Event{Vertex: v, Name: "step " + strconv.Itoa(v), Status: build.StepStarted})
	}
	p.event(build.Event{Vertex: 1, Status: build.StepDone, Duration: time.Second})
	p.event(build.Event{Vertex: 2, Status: build.StepDone, Duration: time.Second})
	p.event(build.Event{Vertex: 4, Status: build.StepOutput, Line: "out"})
	// Five lines: the header and three fit above the cursor.
	want := `[+] Building 0.0s (2/4)
 => step 3                         0.0s
 => step 4                         0.0s
 => => # out`
	if got := term.shown(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s", got, want)
	}
	p.event(build.Event{Vertex: 3, Status: build.StepDone, Duration: time.Second})
	p.event(build.Event{Vertex: 4, Status: build.StepDone, Duration: time.Second})
	p.done()
	if got := term.shown(); strings.Count(got, "\n") != 4 || !strings.Contains(got, "step 1") || strings.Contains(got, "# out") {
		t.Errorf("last draw:\n%s\nwant every step, no output", got)
	}
}

// TestPlainProgressContext: plain output shows a context's loading at
// most once a second, and its total when done.
func TestPlainProgressContext(t *testing.T) {
	var b bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := &plainProgress{w: &b, now: clock.now, names: map[int]string{}}
	name := "[internal] load build context"
	p.event(build.Event{Vertex: 2, Name: name, Status: build.StepStarted})
	for i := 1; i <= 12; i++ {
		clock.advance(100 * time.Millisecond)
		p.event(build.Event{Vertex: 2, Status: build.StepProgress, Files: i * 100, Bytes: int64(i) * 1_000_000, Duration: time.Duration(i) * 100 * time.Millisecond})
	}
	p.event(build.Event{Vertex: 2, Status: build.StepDone, Files: 1300, Bytes: 13_000_000, Duration: 1300 * time.Millisecond})
	want := "#2 [internal] load build context\n" +
		"#2 transferring context: 1MB (100 files) 0.1s\n" +
		"#2 transferring context: 11MB (1100 files) 1.1s\n" +
		"#2 transferring context: 13MB (1300 files) 1.3s done\n" +
		"#2 DONE 1.3s\n\n"
	if b.String() != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestComposeTTYShowsBuildSteps: on a terminal, a Compose build's image
// line shows the step being made and its latest output line while it
// builds, and no longer once built.
func TestComposeTTYShowsBuildSteps(t *testing.T) {
	var w bytes.Buffer
	sink, err := newSink("tty", &w)
	if err != nil {
		t.Fatal(err)
	}
	target := "image/app-web"
	sink.Event(reconciler.Event{Target: target, Status: reconciler.StatusBuilding})
	step := "[web 2/3] RUN make"
	for _, ev := range []build.Event{
		{Vertex: 1, Name: "[web 1/3] COPY . /src", Status: build.StepCached},
		{Vertex: 2, Name: step, Status: build.StepStarted},
		{Vertex: 2, Name: step, Status: build.StepOutput, Line: "cc -o app main.c\x1b[31m"},
	} {
		sink.Event(reconciler.Event{Target: target, Status: reconciler.StatusBuilding, Build: &ev})
	}
	last := w.String()[strings.LastIndex(w.String(), "[+]"):]
	for _, want := range []string{"=> " + step, "cc -o app main.c"} {
		if !strings.Contains(last, want) {
			t.Errorf("while building, the display lacks %q:\n%q", want, last)
		}
	}
	if strings.Contains(last, "\x1b[31m") {
		t.Errorf("a step's escape sequence reached the terminal:\n%q", last)
	}
	sink.Event(reconciler.Event{Target: target, Status: reconciler.StatusBuilt})
	last = w.String()[strings.LastIndex(w.String(), "[+]"):]
	if strings.Contains(last, step) || strings.Contains(last, "cc -o") {
		t.Errorf("once built, the step is still shown:\n%q", last)
	}
	if !strings.Contains(last, "Running 1/1") {
		t.Errorf("a built image does not count as finished:\n%q", last)
	}
	// The lines the build step took are cleared, not left on the screen.
	if n := strings.Count(last, "\n"); n != 4 {
		t.Errorf("the last draw wrote %d lines, want 4 (header, image, two cleared):\n%q", n, last)
	}
}
