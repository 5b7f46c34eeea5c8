package netmgr

import (
	"maps"
	"reflect"
	"slices"
	"testing"
)

// TestRecordBrief: a record read in brief holds what the whole record
// says of the network, and of its endpoints their sandboxes, host veths
// and how many ports they publish.
func TestRecordBrief(t *testing.T) {
	m := newUnitManager(t)
	want := testNetwork("n")
	want.Resolver = &Process{Pid: 42, Start: 7}
	want.Endpoints["c2"] = Endpoint{Sandbox: "c2", IfName: "eth1", HostVeth: vethName("c2", want.ID), Addr: ip("10.213.0.3"),
		MAC: "02:42:0a:d5:00:03", Names: []string{"web"}, Ports: []PortMapping{{Protocol: "tcp", HostPort: 8080, ContainerPort: 80}, {Protocol: "udp", HostPort: 53, ContainerPort: 53}}}
	if err := m.writeRecord(want); err != nil {
		t.Fatal(err)
	}
	full, err := m.readRecord("n")
	if err != nil {
		t.Fatal(err)
	}
	r, err := readBriefIn(m.networksDir(), "n")
	if err != nil {
		t.Fatal(err)
	}
	head := *full
	head.Endpoints = nil
	if !reflect.DeepEqual(r.Network, head) {
		t.Errorf("brief network %+v, want %+v", r.Network, head)
	}
	if got, want := slices.Sorted(maps.Keys(r.Endpoints)), slices.Sorted(maps.Keys(full.Endpoints)); !slices.Equal(got, want) {
		t.Fatalf("brief endpoints %v, want %v", got, want)
	}
	for id, ep := range full.Endpoints {
		if b := r.Endpoints[id]; b.HostVeth != ep.HostVeth || len(b.Ports) != len(ep.Ports) {
			t.Errorf("endpoint %s in brief: %+v, want host veth %s and %d ports", id, b, ep.HostVeth, len(ep.Ports))
		}
	}
	all, err := m.readAllBrief()
	if err != nil || len(all) != 1 || all[0].Name != "n" || len(all[0].Endpoints) != 2 {
		t.Errorf("readAllBrief = %+v, %v", all, err)
	}
}
