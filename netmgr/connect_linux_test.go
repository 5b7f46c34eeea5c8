package netmgr

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// TestFinishConnectWantsTheEndpointRecorded: the second half of a
// connection goes on only while the network's record still holds the
// endpoint of the first, on the same network.
func TestFinishConnectWantsTheEndpointRecorded(t *testing.T) {
	m := newUnitManager(t)
	n := testNetwork("n")
	if err := m.writeRecord(n); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		ep     Endpoint
		wantOK bool
	}{
		{name: "recorded", ep: Endpoint{Sandbox: "c1", NetworkID: n.ID}, wantOK: true},
		{name: "disconnected meanwhile", ep: Endpoint{Sandbox: "c2", NetworkID: n.ID}},
		{name: "network made again meanwhile", ep: Endpoint{Sandbox: "c1", NetworkID: strings.Repeat("cd", 32)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.finishConnect(t.Context(), "n", &tc.ep)
			if tc.wantOK && err != nil || !tc.wantOK && !errdefs.IsConflict(err) {
				t.Errorf("finishConnect = %v, want ok %v (else Conflict)", err, tc.wantOK)
			}
		})
	}
}
