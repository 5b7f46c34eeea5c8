package build

import (
	"errors"
	"testing"
)

// TestContextLoad: the loading of a context is a vertex only once a file
// is read; it ends with its totals, failed when the read failed.
func TestContextLoad(t *testing.T) {
	var events []Event
	r := &run{opt: Options{Events: func(ev Event) { events = append(events, ev) }}}
	idle := r.loadProgress("")
	idle.done(nil)
	var none *contextLoad
	none.add(1)
	none.done(nil)
	if len(events) != 0 {
		t.Fatalf("a load that read nothing showed %+v", events)
	}

	l := r.loadProgress("extra")
	l.add(10)
	l.add(20)
	l.done(nil)
	if len(events) != 2 || events[0].Status != StepStarted || events[0].Name != "[internal] load build context extra" ||
		events[1].Status != StepDone || events[1].Files != 2 || events[1].Bytes != 30 || events[1].Vertex != events[0].Vertex ||
		!events[0].Internal || !events[1].Internal {
		t.Errorf("events %+v, want started, then done with 2 files and 30 bytes", events)
	}
	events = nil
	l = r.loadProgress("")
	l.add(1)
	l.done(errors.New("unreadable"))
	if len(events) != 2 || events[1].Status != StepFailed || events[1].Vertex == 1 {
		t.Errorf("a failed load: %+v", events)
	}
	if (&run{}).loadProgress("") != nil {
		t.Error("a build without Events has a load progress")
	}
}
