package netmgr

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// hostRulesMentioning lists every rule of berth's chains (filter and nat,
// iptables and ip6tables) whose text contains s.
func (e *env) hostRulesMentioning(s string) []string {
	e.t.Helper()
	var out []string
	for _, f := range []family{ipv4, ipv6} {
		rules, _ := e.berthRulesOf(f)
		for _, chain := range []string{natDNAT, natPost} {
			nat, _, err := e.m.natRules(context.Background(), f, chain)
			if err != nil {
				e.t.Fatal(err)
			}
			rules = append(rules, nat...)
		}
		for _, r := range rules {
			if j := strings.Join(r, " "); strings.Contains(j, s) {
				out = append(out, f.String()+": "+j)
			}
		}
	}
	return out
}

// TestPruneSweepsOrphans: a network (IPv4 and IPv6, with a connected
// sandbox and a published port) whose state root was deleted under it is
// swept by a prune from another root: bridge, veth and rules. A network of
// a root that still exists is left alone; the pruning root's own unused
// networks are removed unless kept; a bridge of the pruning root that no
// record names is swept.
func TestPruneSweepsOrphans(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	// The interrupted run: its root and run dir, deleted below.
	goneRoot := filepath.Join(t.TempDir(), "gone")
	goneRun := filepath.Join(goneRoot, "run")
	gone, err := New(Options{Root: goneRoot, RunDir: goneRun})
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := gone.Create(ctx, NetworkConfig{Name: e.name("orphan"), EnableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	nsPath, err := gone.CreateSandbox(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	ep, err := gone.ConnectWith(ctx, orphan.Name, "s1", ConnectOptions{IfName: "eth0", Ports: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Hold the namespace, so that its veth outlives the mount (as it does
	// while the container's processes live).
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := removeNetns(nsPath); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(goneRoot); err != nil {
		t.Fatal(err)
	}
	if len(e.hostRulesMentioning("berth:"+orphan.Name)) == 0 {
		t.Fatal("the orphan has no rules to sweep: the test is vacuous")
	}

	// A live network of another root, and the pruning root's own networks.
	live := e.create(NetworkConfig{Name: e.name("live"), EnableIPv6: true})
	pruner, err := New(Options{Root: t.TempDir(), RunDir: e.run})
	if err != nil {
		t.Fatal(err)
	}
	unused, err := pruner.Create(ctx, NetworkConfig{Name: e.name("unused"), Labels: map[string]string{"app": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := pruner.Create(ctx, NetworkConfig{Name: e.name("kept"), Labels: map[string]string{"app": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	otherLabel, err := pruner.Create(ctx, NetworkConfig{Name: e.name("other"), Labels: map[string]string{"app": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	unrecorded, err := pruner.Create(ctx, NetworkConfig{Name: e.name("norecord")})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(pruner.recordPath(unrecorded.Name)); err != nil {
		t.Fatal(err)
	}

	rep, err := pruner.Prune(ctx, PruneOptions{Labels: map[string]string{"app": "x"}, Keep: []string{kept.Name}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prune: %+v", rep)
	if !slices.Equal(rep.Networks, []string{unused.Name}) {
		t.Errorf("pruned networks %q, want only %q", rep.Networks, unused.Name)
	}
	for _, br := range []string{orphan.Bridge, unrecorded.Bridge} {
		if !slices.Contains(rep.Bridges, br) {
			t.Errorf("swept bridges %q, want %s among them", rep.Bridges, br)
		}
		linkGone(t, br)
	}
	linkGone(t, unused.Bridge)
	if !slices.Contains(rep.Veths, ep.HostVeth) {
		t.Errorf("swept veths %q, want %s", rep.Veths, ep.HostVeth)
	}
	linkGone(t, ep.HostVeth)
	for _, name := range []string{orphan.Name, unrecorded.Name, unused.Name} {
		if r := e.hostRulesMentioning("berth:" + name); len(r) > 0 {
			t.Errorf("rules of %s left: %q", name, r)
		}
	}
	if rep.Rules == 0 {
		t.Error("no rule counted as swept")
	}

	// What is not orphaned stays whole.
	for _, n := range []*Network{live, kept, otherLabel} {
		if ok, err := bridgeExists(n); !ok || err != nil {
			t.Errorf("network %s: bridge %s gone after prune: %v", n.Name, n.Bridge, err)
		}
		if len(e.hostRulesMentioning("berth:"+n.Name)) == 0 {
			t.Errorf("network %s: rules gone after prune", n.Name)
		}
	}
	if _, err := pruner.Get(ctx, kept.Name); err != nil {
		t.Errorf("kept network: %v", err)
	}
	if _, err := pruner.Get(ctx, unused.Name); !errdefs.IsNotFound(err) {
		t.Errorf("pruned network: %v, want NotFound", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.LinkByName("eth0"); err == nil {
		t.Error("the orphan's sandbox still has eth0: its veth pair was not deleted")
	}
	// A second prune finds nothing more of this test's. (Its rule count is
	// the host's: another process removing a network of its own deletes
	// the bridge while it deletes the rules, and a prune in between counts
	// those rules too, as it must. Package tests run side by side in CI.)
	rep, err = pruner.Prune(ctx, PruneOptions{Keep: []string{kept.Name, otherLabel.Name}})
	if err != nil || len(rep.Networks) != 0 {
		t.Errorf("second prune: %+v, %v; want no network", rep, err)
	}
	for _, l := range []string{orphan.Bridge, unrecorded.Bridge, unused.Bridge, ep.HostVeth} {
		if slices.Contains(rep.Bridges, l) || slices.Contains(rep.Veths, l) {
			t.Errorf("second prune swept %s again: %+v", l, rep)
		}
	}
	for _, name := range []string{orphan.Name, unrecorded.Name, unused.Name} {
		if r := e.hostRulesMentioning("berth:" + name); len(r) > 0 {
			t.Errorf("rules of %s left after the second prune: %q", name, r)
		}
	}
	for _, n := range []*Network{kept, otherLabel} {
		if err := pruner.Remove(ctx, n.Name); err != nil {
			t.Error(err)
		}
	}
}
