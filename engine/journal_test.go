package engine

import (
	"testing"

	"github.com/berth-dev/berth/internal/eventlog"
)

// TestNetworkEventsCarryTheRecordedNetworkID: a run's network events name
// the network by the ID its connection recorded, without asking the
// network manager; endpoints recorded without one (by an older berth)
// fall back to asking it (here, with none, the name).
func TestNetworkEventsCarryTheRecordedNetworkID(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", false)
	id := ContainerID("c1")
	e.runEvents(t.Context(), true, id, []endpointRecord{{Network: "p_default", NetworkID: "n1"}, {Network: "p_old"}}, nil)
	var got []string
	err := e.Journal().Read(func(ev eventlog.Event) error {
		if ev.Type == "network" && ev.Action == "connect" && ev.Attributes["container"] == string(id) {
			got = append(got, ev.Name+"="+ev.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "p_default=n1" || got[1] != "p_old=p_old" {
		t.Errorf("network events %q, want [p_default=n1 p_old=p_old]", got)
	}
}
