package engine

import (
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/eventlog"
)

// fakeProcs is a process table: the processes alive, by PID and start time.
type fakeProcs map[int]uint64

func (f fakeProcs) alive(pid int, start uint64) bool {
	s, ok := f[pid]
	return ok && (start == 0 || s == start)
}

func TestObserve(t *testing.T) {
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	running := stateFile{
		Version:   1,
		State:     State{Status: StatusRunning, Pid: 200, StartedAt: started},
		InitStart: 2000, ShimPid: 100, ShimStart: 1000,
	}
	exited := running
	exited.State = State{Status: StatusExited, ExitCode: 3, StartedAt: started, FinishedAt: started.Add(time.Second)}
	restarting := running
	restarting.State = State{Status: StatusRestarting, ExitCode: 3, StartedAt: started, FinishedAt: started.Add(time.Second), RestartCount: 2}
	tests := []struct {
		name     string
		sf       stateFile
		paused   bool
		procs    fakeProcs
		want     Status
		wantCode int
		wantErr  bool
	}{
		{name: "shim and init alive", sf: running, procs: fakeProcs{100: 1000, 200: 2000}, want: StatusRunning},
		{name: "restarting, shim alive", sf: restarting, procs: fakeProcs{100: 1000}, want: StatusRestarting, wantCode: 3},
		{name: "restarting, shim gone: the last exit stands", sf: restarting, procs: fakeProcs{}, want: StatusExited, wantCode: 3},
		{name: "paused marker", sf: running, paused: true, procs: fakeProcs{100: 1000, 200: 2000}, want: StatusPaused},
		{name: "shim SIGKILLed, init gone", sf: running, procs: fakeProcs{}, want: StatusExited, wantCode: 255, wantErr: true},
		{name: "shim SIGKILLed, init runs on", sf: running, procs: fakeProcs{200: 2000}, want: StatusRunning, wantErr: true},
		{name: "shim PID reused after reboot", sf: running, procs: fakeProcs{100: 7, 200: 8}, want: StatusExited, wantCode: 255, wantErr: true},
		{name: "recorded exit stays", sf: exited, procs: fakeProcs{}, want: StatusExited, wantCode: 3},
		{name: "created stays", sf: stateFile{Version: 1, State: State{Status: StatusCreated}}, procs: fakeProcs{}, want: StatusCreated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := observe(tc.sf, tc.paused, tc.procs.alive)
			if st.Status != tc.want || st.ExitCode != tc.wantCode || (st.Error != "") != tc.wantErr {
				t.Errorf("got %s (exit %d, error %q), want %s (exit %d, error %v)", st.Status, st.ExitCode, st.Error, tc.want, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// TestReadObservedShimExitsBetweenReadAndCheck: a shim that records the
// run's end and exits between the reading of state.json and the check of
// its process is not taken for one that died without recording: the
// run's own exit code stands, not 255.
func TestReadObservedShimExitsBetweenReadAndCheck(t *testing.T) {
	dir := t.TempDir()
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	running := stateFile{
		Version:   ctrstate.StateVersion,
		State:     State{Status: StatusRunning, Pid: 200, StartedAt: started},
		InitStart: 2000, ShimPid: 100, ShimStart: 1000,
	}
	if err := writeState(dir, running); err != nil {
		t.Fatal(err)
	}
	exited := running
	exited.State = State{Status: StatusExited, ExitCode: 143, StartedAt: started, FinishedAt: started.Add(time.Second)}
	e := &Engine{alive: func(int, uint64) bool {
		// The shim records the exit and is gone as its process is checked.
		if err := writeState(dir, exited); err != nil {
			t.Fatal(err)
		}
		return false
	}}
	sf, st, err := e.readObserved(t.Context(), dir)
	if err != nil || st.Status != StatusExited || st.ExitCode != 143 || st.Error != "" || sf.Status != StatusExited {
		t.Errorf("got %s (exit %d, error %q), record %s, %v; want exited 143 as recorded", st.Status, st.ExitCode, st.Error, sf.Status, err)
	}
}

// TestLostRunSettledOnce: a run whose shim and init are gone without an
// end recorded is settled by whoever reads it first, however many read it
// at once (two engines: two processes): state.json says exited 255 with
// no shim, and the journal holds exactly one die, with the container's
// name. Later readings record nothing more.
func TestLostRunSettledOnce(t *testing.T) {
	dir := writeRecordFile(t, v1Record("[]"))
	root := t.TempDir()
	running := stateFile{
		Version:   ctrstate.StateVersion,
		State:     State{Status: StatusRunning, Pid: 200, StartedAt: time.Now().UTC()},
		InitStart: 2000, ShimPid: 100, ShimStart: 1000,
	}
	if err := writeState(dir, running); err != nil {
		t.Fatal(err)
	}
	gone := func(int, uint64) bool { return false }
	var engines []*Engine
	for range 2 {
		engines = append(engines, &Engine{alive: gone, events: eventlog.Open(root), log: slog.New(slog.DiscardHandler)})
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			_, st, err := engines[i%2].readObserved(t.Context(), dir)
			if err != nil || st.Status != StatusExited || st.ExitCode != lostExitCode {
				t.Errorf("reading %d: %s (exit %d), %v; want exited 255", i, st.Status, st.ExitCode, err)
			}
		})
	}
	wg.Wait()
	if _, _, err := engines[0].readObserved(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	sf, err := readState(dir)
	if err != nil || sf.Status != StatusExited || sf.ExitCode != lostExitCode || sf.Error != errLostExit ||
		sf.ShimPid != 0 || sf.FinishedAt.IsZero() {
		t.Errorf("state.json %+v, %v; want exited 255, the lost error, a finish time and no shim", sf, err)
	}
	var dies []eventlog.Event
	err = eventlog.Open(root).Read(func(ev eventlog.Event) error {
		if ev.Action == "die" {
			dies = append(dies, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dies) != 1 || dies[0].Name != "p-web-1" || dies[0].Attributes["exitCode"] != "255" {
		t.Errorf("die events %+v; want one, of p-web-1 with exitCode 255", dies)
	}
}

// TestStateFileRoundTrip: what the shim writes (ctrstate, no encoding/json)
// is what the engine reads.
func TestStateFileRoundTrip(t *testing.T) {
	in := ctrstate.State{
		Version: 1, Status: "exited", Pid: 42, InitStart: 4242, ExitCode: 137, OOMKilled: true,
		StartedAt:  time.Date(2025, 5, 6, 7, 8, 9, 123456789, time.UTC),
		FinishedAt: time.Date(2025, 5, 6, 7, 9, 0, 0, time.UTC),
		Error:      "quote \" backslash \\ newline \n tab \t ctrl \x01 bad \xff é",
		ShimPid:    7, ShimStart: 77,
	}
	var sf stateFile
	if err := json.Unmarshal(in.Marshal(), &sf); err != nil {
		t.Fatalf("%v\n%s", err, in.Marshal())
	}
	want := stateFile{
		Version: 1,
		State: State{Status: StatusExited, Pid: 42, ExitCode: 137, OOMKilled: true, StartedAt: in.StartedAt, FinishedAt: in.FinishedAt,
			Error: "quote \" backslash \\ newline \n tab \t ctrl \x01 bad \ufffd é"},
		InitStart: 4242, ShimPid: 7, ShimStart: 77,
	}
	if !sf.StartedAt.Equal(want.StartedAt) || !sf.FinishedAt.Equal(want.FinishedAt) {
		t.Errorf("times %v %v", sf.StartedAt, sf.FinishedAt)
	}
	sf.StartedAt, sf.FinishedAt, want.StartedAt, want.FinishedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if sf != want {
		t.Errorf("got %+v\nwant %+v", sf, want)
	}
}
