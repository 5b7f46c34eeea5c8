package build

import (
	"time"
)

// loadInterval is how often a context's loading reports its progress.
const loadInterval = 100 * time.Millisecond

// contextLoad reports the reading of a build context's files for their
// checksum as BuildKit's "[internal] load build context" vertex: it starts
// with the first file read (a COPY whose sums are remembered reads none),
// reports files and bytes at most every loadInterval, and ends with done.
// A nil *contextLoad reports nothing. Not safe for concurrent use: each
// COPY has its own.
type contextLoad struct {
	r     *run
	name  string
	v     int // 0 until the first file
	began time.Time
	last  time.Time // of the last progress event
	files int
	bytes int64
}

// loadProgress is the progress of reading the context tree what names
// ("" the build context, else a named one).
func (r *run) loadProgress(what string) *contextLoad {
	if r.opt.Events == nil {
		return nil
	}
	name := "[internal] load build context"
	if what != "" {
		name += " " + what
	}
	return &contextLoad{r: r, name: name}
}

func (l *contextLoad) add(size int64) {
	if l == nil {
		return
	}
	now := time.Now()
	if l.v == 0 {
		l.v = l.r.nextVertex()
		l.began, l.last = now, now
		l.r.emit(Event{Vertex: l.v, Name: l.name, Status: StepStarted, Internal: true})
	}
	l.files++
	l.bytes += size
	if now.Sub(l.last) >= loadInterval {
		l.last = now
		l.r.emit(Event{Vertex: l.v, Name: l.name, Status: StepProgress, Files: l.files, Bytes: l.bytes, Duration: now.Sub(l.began), Internal: true})
	}
}

// done ends the vertex, if it started: failed when err is not nil.
func (l *contextLoad) done(err error) {
	if l == nil || l.v == 0 {
		return
	}
	st := StepDone
	if err != nil {
		st = StepFailed
	}
	l.r.emit(Event{Vertex: l.v, Name: l.name, Status: st, Files: l.files, Bytes: l.bytes, Duration: time.Since(l.began), Internal: true})
}
