package netmgr

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
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

// TestRecordOnOneLine: a record is written on one line, without
// indentation; one written indented (as berth did before) reads the same.
func TestRecordOnOneLine(t *testing.T) {
	m := newUnitManager(t)
	want := testNetwork("n")
	if err := m.writeRecord(want); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(m.recordPath("n"))
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.IndexByte(b, '\n'); i != len(b)-1 {
		t.Errorf("record not on one line:\n%s", b)
	}
	compact, err := m.readRecord("n")
	if err != nil {
		t.Fatal(err)
	}
	indented, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.recordPath("n"), indented, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := m.readRecord("n")
	if err != nil || !reflect.DeepEqual(got, compact) {
		t.Errorf("indented record read as %+v, %v; want %+v", got, err, compact)
	}
}
