package netmgr

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// deferredVeth asserts that the host veth name, put off by a reaper with
// group, is still there, down and in the group.
func deferredVeth(t *testing.T, name string, group uint32) {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("deferred veth %s: %v", name, err)
	}
	if a := l.Attrs(); a.Flags&net.FlagUp != 0 || a.Group != group {
		t.Errorf("deferred veth %s: flags %v group %d, want down in group %d", name, a.Flags, a.Group, group)
	}
}

func TestDeferredLinkDeletion(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a := e.create(NetworkConfig{Name: e.name("a")})
	b := e.create(NetworkConfig{Name: e.name("b")})
	e.sandbox("s1")
	e.sandbox("s2")
	e.sandbox("s3")
	ep1, ep2, ep3 := e.connect(a.Name, "s1"), e.connect(a.Name, "s2"), e.connect(b.Name, "s3")

	flush := e.m.DeferLinkDeletion()
	group := e.m.reaper.r.group
	if group == 0 {
		t.Fatal("reaper's link group is 0")
	}
	if again := e.m.DeferLinkDeletion(); again() != nil {
		t.Error("a second DeferLinkDeletion's flush failed")
	}
	if e.m.reaper.r == nil || e.m.reaper.r.group != group {
		t.Fatal("a second DeferLinkDeletion's flush ended the first one's deferral")
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		if err := e.m.RemoveSandbox(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(e.m.sandboxPath(id)); !os.IsNotExist(err) {
			t.Errorf("sandbox %s's namespace file: %v, want removed", id, err)
		}
	}
	// The records let go at once; the veths wait, down, in the group.
	for _, n := range []*Network{a, b} {
		if got, err := e.m.Get(ctx, n.Name); err != nil || len(got.Endpoints) != 0 {
			t.Errorf("network %s: endpoints %v (%v), want none", n.Name, got.Endpoints, err)
		}
	}
	for _, ep := range []*Endpoint{ep1, ep2, ep3} {
		deferredVeth(t, ep.HostVeth, group)
	}

	// Removing a network deletes its bridge and everything put off so far.
	if err := e.m.Remove(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{a.Bridge, ep1.HostVeth, ep2.HostVeth, ep3.HostVeth} {
		linkGone(t, name)
	}

	// What is put off after that goes with the flush.
	e.sandbox("s4")
	ep4 := e.connect(b.Name, "s4")
	if err := e.m.RemoveSandbox(ctx, "s4"); err != nil {
		t.Fatal(err)
	}
	deferredVeth(t, ep4.HostVeth, group)
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	linkGone(t, ep4.HostVeth)
	if e.m.reaper.r != nil {
		t.Error("the reaper is still active after its flush")
	}

	// Without a reaper, a removal deletes its veth itself.
	e.sandbox("s5")
	ep5 := e.connect(b.Name, "s5")
	if err := e.m.RemoveSandbox(ctx, "s5"); err != nil {
		t.Fatal(err)
	}
	linkGone(t, ep5.HostVeth)
}

// A link group belongs to the host: a foreign link that happens to be in
// the reaper's group is left alone, and the reaper's links are deleted one
// by one.
func TestDeferredLinkDeletionLeavesForeignLinks(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := e.create(NetworkConfig{Name: e.name("n")})
	e.sandbox("s1")
	ep := e.connect(n.Name, "s1")

	flush := e.m.DeferLinkDeletion()
	group := e.m.reaper.r.group
	foreign := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: e.prefix + "f0", Group: group}, PeerName: e.prefix + "f1"}
	if err := netlink.LinkAdd(foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(foreign) })
	if l, err := netlink.LinkByName(foreign.Name); err != nil || l.Attrs().Group != group {
		t.Fatalf("foreign link: %v, want it in group %d", err, group)
	}
	if err := e.m.RemoveSandbox(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	deferredVeth(t, ep.HostVeth, group)
	if err := e.m.Remove(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	linkGone(t, ep.HostVeth)
	linkGone(t, n.Bridge)
	if _, err := netlink.LinkByName(foreign.Name); err != nil {
		t.Errorf("foreign link in the reaper's group: %v, want it left alone", err)
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
}

// A process that dies with links put off leaves nothing: its namespaces'
// descriptors close, and the kernel deletes each namespace with its side
// of the veth, which takes the host side with it.
func TestDeferredLinksGoWithTheProcess(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := e.create(NetworkConfig{Name: e.name("n")})
	e.sandbox("s1")
	ep := e.connect(n.Name, "s1")

	flush := e.m.DeferLinkDeletion()
	if err := e.m.RemoveSandbox(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	deferredVeth(t, ep.HostVeth, e.m.reaper.r.group)
	// What a process's end does: its descriptors close, nothing else.
	e.m.reaper.mu.Lock()
	_, holders := e.m.reaper.r.take()
	e.m.reaper.mu.Unlock()
	if len(holders) != 1 {
		t.Fatalf("namespaces held: %d, want 1", len(holders))
	}
	for _, f := range holders {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The kernel deletes the namespace on a worker of its own: wait for
	// the veth to go (a generous bound for a loaded machine).
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := netlink.LinkByName(ep.HostVeth); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("veth %s still there a minute after its namespace was let go", ep.HostVeth)
		}
		time.Sleep(5 * time.Millisecond)
	}
	linkGone(t, ep.HostVeth)
	if err := flush(); err != nil {
		t.Fatal(err)
	}
}
