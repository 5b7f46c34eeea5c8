package reconcilertest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
)

// SuiteSubnet is the subnet the networks suite asks for (and halves of it):
// the machine it runs on must have no route into it.
var SuiteSubnet = netip.MustParsePrefix("10.236.200.0/24")

// RunNetworksSuite checks the Networks contract (reconciler.Networks): one
// subtest per clause, each on a fresh Networks from newNetworks, which
// holds no network and removes what the subtest left in t's cleanup.
func RunNetworksSuite(t *testing.T, newNetworks func(t *testing.T) Networks) {
	runClauses(t, newNetworks, []clause[Networks]{
		{"Create makes the network Get returns", func(t *testing.T, n Networks) {
			nw, err := n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a", Labels: map[string]string{"tier": "web"}})
			must(t, err, "Create")
			got, err := n.Get(t.Context(), "conformance-a")
			must(t, err, "Get")
			if nw.Name != "conformance-a" || got.Name != "conformance-a" || got.Labels["tier"] != "web" {
				t.Errorf("Create returned %q, Get %q %v; want the name and labels asked for", nw.Name, got.Name, got.Labels)
			}
		}},
		{"Create, Get and List copy: the caller's maps are its own", func(t *testing.T, n Networks) {
			labels := map[string]string{"tier": "web"}
			nw, err := n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a", Labels: labels})
			must(t, err, "Create")
			labels["tier"] = "changed"
			nw.Labels["tier"] = "changed"
			got, err := n.Get(t.Context(), "conformance-a")
			must(t, err, "Get")
			got.Labels["tier"] = "changed"
			listed, err := n.List(t.Context(), nil)
			must(t, err, "List")
			listed[0].Labels["tier"] = "changed"
			if again, _ := n.Get(t.Context(), "conformance-a"); again.Labels["tier"] != "web" {
				t.Errorf("labels %v after the caller changed its maps, want tier=web", again.Labels)
			}
		}},
		{"Create of an existing name is AlreadyExists and leaves the network alone", func(t *testing.T, n Networks) {
			_, err := n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a", Labels: map[string]string{"n": "1"}})
			must(t, err, "first Create")
			_, err = n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a", Labels: map[string]string{"n": "2"}})
			wantClass(t, err, errdefs.ErrAlreadyExists, "second Create")
			if got, _ := n.Get(t.Context(), "conformance-a"); got == nil || got.Labels["n"] != "1" {
				t.Errorf("after the refused Create: %+v, want the first network", got)
			}
		}},
		{"concurrent Creates of one name: one wins, the others are AlreadyExists", func(t *testing.T, n Networks) {
			errs := concurrently(4, func(int) error {
				_, err := n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a"})
				return err
			})
			oneWins(t, errs, errdefs.ErrAlreadyExists)
			if all, _ := n.List(t.Context(), nil); len(all) != 1 {
				t.Errorf("%d networks, want 1", len(all))
			}
		}},
		{"Create of a bad name or subnet is InvalidArgument and leaves nothing", func(t *testing.T, n Networks) {
			tooSmall := netip.PrefixFrom(SuiteSubnet.Addr(), 31)
			for _, cfg := range []netmgr.NetworkConfig{
				{Name: "conformance/a"},
				{Name: "conformance-a", Subnet: tooSmall},
				{Name: "conformance-a", Subnet: SuiteSubnet, Gateway: netip.MustParseAddr("192.0.2.1")},
			} {
				_, err := n.Create(t.Context(), cfg)
				wantClass(t, err, errdefs.ErrInvalidArgument, "Create "+cfg.Name+" "+cfg.Subnet.String())
			}
			if all, _ := n.List(t.Context(), nil); len(all) != 0 {
				t.Errorf("failed Creates left %d networks", len(all))
			}
			_, err := n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a", Subnet: SuiteSubnet})
			must(t, err, "Create of the name and subnet failed Creates asked for")
		}},
		{"Create of a subnet another network has is Conflict and leaves nothing", func(t *testing.T, n Networks) {
			_, err := n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a", Subnet: SuiteSubnet})
			must(t, err, "Create")
			half := netip.PrefixFrom(SuiteSubnet.Addr(), SuiteSubnet.Bits()+1)
			_, err = n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-b", Subnet: half})
			wantClass(t, err, errdefs.ErrConflict, "Create of an overlapping subnet")
			_, err = n.Get(t.Context(), "conformance-b")
			wantClass(t, err, errdefs.ErrNotFound, "Get of the refused network")
		}},
		{"Get and Remove of a missing network are NotFound", func(t *testing.T, n Networks) {
			_, err := n.Get(t.Context(), "conformance-missing")
			wantClass(t, err, errdefs.ErrNotFound, "Get")
			wantClass(t, n.Remove(t.Context(), "conformance-missing"), errdefs.ErrNotFound, "Remove")
		}},
		{"Remove deletes the network and frees its name and subnet; a second Remove is NotFound", func(t *testing.T, n Networks) {
			_, err := n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a", Subnet: SuiteSubnet})
			must(t, err, "Create")
			must(t, n.Remove(t.Context(), "conformance-a"), "Remove")
			_, err = n.Get(t.Context(), "conformance-a")
			wantClass(t, err, errdefs.ErrNotFound, "Get after Remove")
			wantClass(t, n.Remove(t.Context(), "conformance-a"), errdefs.ErrNotFound, "second Remove")
			_, err = n.Create(t.Context(), netmgr.NetworkConfig{Name: "conformance-a", Subnet: SuiteSubnet})
			must(t, err, "Create again")
		}},
		{"List filters by every label, exact values, sorted by name", func(t *testing.T, n Networks) {
			for i := len(labelled) - 1; i >= 0; i-- {
				_, err := n.Create(t.Context(), netmgr.NetworkConfig{Name: labelled[i].name, Labels: labelled[i].labels})
				must(t, err, "Create")
			}
			checkList(t, func(filter map[string]string) ([]string, error) {
				all, err := n.List(t.Context(), filter)
				var out []string
				for _, nw := range all {
					out = append(out, nw.Name)
				}
				return out, err
			})
		}},
	})
}

// RunVolumesSuite checks the Volumes contract (reconciler.Volumes): one
// subtest per clause, each on a fresh Volumes from newVolumes, which holds
// no volume, with the Runtime of the same state (no container, SuiteImage
// present) to make containers that mount volumes, and removes what the
// subtest left in t's cleanup.
func RunVolumesSuite(t *testing.T, newVolumes func(t *testing.T) (Volumes, Runtime)) {
	type pair struct {
		v  Volumes
		rt Runtime
	}
	newPair := func(t *testing.T) pair {
		v, rt := newVolumes(t)
		return pair{v, rt}
	}
	runClauses(t, newPair, []clause[pair]{
		{"Create makes the volume Get returns", func(t *testing.T, p pair) {
			vol, err := p.v.Create(t.Context(), "conformance-a", map[string]string{"tier": "web"})
			must(t, err, "Create")
			got, err := p.v.Get(t.Context(), "conformance-a")
			must(t, err, "Get")
			if vol.Name != "conformance-a" || got.Name != "conformance-a" || got.Labels["tier"] != "web" {
				t.Errorf("Create returned %q, Get %q %v; want the name and labels asked for", vol.Name, got.Name, got.Labels)
			}
		}},
		{"Create, Get and List copy: the caller's maps are its own", func(t *testing.T, p pair) {
			labels := map[string]string{"tier": "web"}
			vol, err := p.v.Create(t.Context(), "conformance-a", labels)
			must(t, err, "Create")
			labels["tier"] = "changed"
			vol.Labels["tier"] = "changed"
			got, err := p.v.Get(t.Context(), "conformance-a")
			must(t, err, "Get")
			got.Labels["tier"] = "changed"
			listed, err := p.v.List(t.Context(), nil)
			must(t, err, "List")
			listed[0].Labels["tier"] = "changed"
			if again, _ := p.v.Get(t.Context(), "conformance-a"); again.Labels["tier"] != "web" {
				t.Errorf("labels %v after the caller changed its maps, want tier=web", again.Labels)
			}
		}},
		{"Create of an existing name is AlreadyExists and leaves the volume alone", func(t *testing.T, p pair) {
			_, err := p.v.Create(t.Context(), "conformance-a", map[string]string{"n": "1"})
			must(t, err, "first Create")
			_, err = p.v.Create(t.Context(), "conformance-a", map[string]string{"n": "2"})
			wantClass(t, err, errdefs.ErrAlreadyExists, "second Create")
			if got, _ := p.v.Get(t.Context(), "conformance-a"); got == nil || got.Labels["n"] != "1" {
				t.Errorf("after the refused Create: %+v, want the first volume", got)
			}
		}},
		{"concurrent Creates of one name: one wins, the others are AlreadyExists", func(t *testing.T, p pair) {
			errs := concurrently(8, func(int) error {
				_, err := p.v.Create(t.Context(), "conformance-a", nil)
				return err
			})
			oneWins(t, errs, errdefs.ErrAlreadyExists)
		}},
		{"Create of a bad name is InvalidArgument and leaves nothing", func(t *testing.T, p pair) {
			for _, name := range []string{"", "..", "../conformance", "conformance/a"} {
				_, err := p.v.Create(t.Context(), name, nil)
				wantClass(t, err, errdefs.ErrInvalidArgument, "Create "+name)
			}
			if all, _ := p.v.List(t.Context(), nil); len(all) != 0 {
				t.Errorf("failed Creates left %d volumes", len(all))
			}
		}},
		{"Get and Remove of a missing volume are NotFound", func(t *testing.T, p pair) {
			_, err := p.v.Get(t.Context(), "conformance-missing")
			wantClass(t, err, errdefs.ErrNotFound, "Get")
			wantClass(t, p.v.Remove(t.Context(), "conformance-missing"), errdefs.ErrNotFound, "Remove")
		}},
		{"Remove deletes the volume and frees its name; a second Remove is NotFound", func(t *testing.T, p pair) {
			_, err := p.v.Create(t.Context(), "conformance-a", nil)
			must(t, err, "Create")
			must(t, p.v.Remove(t.Context(), "conformance-a"), "Remove")
			_, err = p.v.Get(t.Context(), "conformance-a")
			wantClass(t, err, errdefs.ErrNotFound, "Get after Remove")
			wantClass(t, p.v.Remove(t.Context(), "conformance-a"), errdefs.ErrNotFound, "second Remove")
			_, err = p.v.Create(t.Context(), "conformance-a", nil)
			must(t, err, "Create again")
		}},
		{"Remove of a volume a container mounts is Conflict and keeps it", func(t *testing.T, p pair) {
			_, err := p.v.Create(t.Context(), "conformance-data", nil)
			must(t, err, "Create volume")
			cfg := sleeper("conformance-a", nil)
			cfg.Mounts = []engine.Mount{{Type: "volume", Source: "conformance-data", Target: "/data"}}
			c, err := p.rt.Create(t.Context(), cfg)
			must(t, err, "Create container")
			wantClass(t, p.v.Remove(t.Context(), "conformance-data"), errdefs.ErrConflict, "Remove of a mounted volume")
			_, err = p.v.Get(t.Context(), "conformance-data")
			must(t, err, "Get after the refused Remove")
			must(t, p.rt.Remove(t.Context(), c.ID, true), "Remove container")
			must(t, p.v.Remove(t.Context(), "conformance-data"), "Remove once no container mounts it")
		}},
		{"List filters by every label, exact values, sorted by name", func(t *testing.T, p pair) {
			for i := len(labelled) - 1; i >= 0; i-- {
				_, err := p.v.Create(t.Context(), labelled[i].name, labelled[i].labels)
				must(t, err, "Create")
			}
			checkList(t, func(filter map[string]string) ([]string, error) {
				all, err := p.v.List(t.Context(), filter)
				var out []string
				for _, vol := range all {
					out = append(out, vol.Name)
				}
				return out, err
			})
		}},
	})
}

// ImageRefs are the references the images suite pulls.
type ImageRefs struct {
	Pullable string // not in the store; its registry has it
	Unknown  string // in neither, in Pullable's registry
}

// RunImagesSuite checks the Images contract (reconciler.Images): one
// subtest per clause, each on a fresh Images from newImages, which holds
// SuiteImage, with the Runtime of the same state (no container) to make
// containers of it and the references to pull; it removes what the
// subtest left in t's cleanup.
func RunImagesSuite(t *testing.T, newImages func(t *testing.T) (Images, Runtime, ImageRefs)) {
	type store struct {
		im   Images
		rt   Runtime
		refs ImageRefs
	}
	newStore := func(t *testing.T) store {
		im, rt, refs := newImages(t)
		return store{im, rt, refs}
	}
	runClauses(t, newStore, []clause[store]{
		{"Resolve finds an image the store holds", func(t *testing.T, s store) {
			img, err := s.im.Resolve(t.Context(), SuiteImage)
			must(t, err, "Resolve")
			if img.ID == "" {
				t.Error("Resolve returned an image without an ID")
			}
		}},
		{"Resolve of a missing reference is NotFound", func(t *testing.T, s store) {
			_, err := s.im.Resolve(t.Context(), s.refs.Unknown)
			wantClass(t, err, errdefs.ErrNotFound, "Resolve")
		}},
		{"Pull puts the image in the store", func(t *testing.T, s store) {
			_, err := s.im.Resolve(t.Context(), s.refs.Pullable)
			wantClass(t, err, errdefs.ErrNotFound, "Resolve before Pull")
			pulled, err := s.im.Pull(t.Context(), s.refs.Pullable, image.PullOptions{})
			must(t, err, "Pull")
			got, err := s.im.Resolve(t.Context(), s.refs.Pullable)
			must(t, err, "Resolve after Pull")
			if got.ID != pulled.ID {
				t.Errorf("Resolve after Pull = %s, Pull returned %s", got.ID, pulled.ID)
			}
		}},
		{"LastPulled is zero before a Pull and the Pull's time after it", func(t *testing.T, s store) {
			before, err := s.im.LastPulled(t.Context(), s.refs.Pullable)
			must(t, err, "LastPulled before Pull")
			if !before.IsZero() {
				t.Errorf("LastPulled before any Pull = %v, want zero", before)
			}
			start := time.Now()
			_, err = s.im.Pull(t.Context(), s.refs.Pullable, image.PullOptions{})
			must(t, err, "Pull")
			at, err := s.im.LastPulled(t.Context(), s.refs.Pullable)
			must(t, err, "LastPulled after Pull")
			if at.Before(start.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Errorf("LastPulled after Pull = %v, want about %v", at, start)
			}
		}},
		{"Pull of a reference the registry lacks is NotFound and changes nothing", func(t *testing.T, s store) {
			_, err := s.im.Pull(t.Context(), s.refs.Unknown, image.PullOptions{})
			wantClass(t, err, errdefs.ErrNotFound, "Pull")
			_, err = s.im.Resolve(t.Context(), s.refs.Unknown)
			wantClass(t, err, errdefs.ErrNotFound, "Resolve after the failed Pull")
		}},
		{"Remove takes the image out; a second Remove is NotFound", func(t *testing.T, s store) {
			must(t, s.im.Remove(t.Context(), SuiteImage), "Remove")
			_, err := s.im.Resolve(t.Context(), SuiteImage)
			wantClass(t, err, errdefs.ErrNotFound, "Resolve after Remove")
			wantClass(t, s.im.Remove(t.Context(), SuiteImage), errdefs.ErrNotFound, "second Remove")
		}},
		{"Remove of a missing reference is NotFound", func(t *testing.T, s store) {
			wantClass(t, s.im.Remove(t.Context(), s.refs.Unknown), errdefs.ErrNotFound, "Remove")
		}},
		{"Resolve, Pull and Remove of a malformed reference are InvalidArgument", func(t *testing.T, s store) {
			for _, ref := range []string{"Conformance/Upper:1", "conformance/a:b:c", "conformance//a"} {
				_, err := s.im.Resolve(t.Context(), ref)
				wantClass(t, err, errdefs.ErrInvalidArgument, "Resolve "+ref)
				_, err = s.im.Pull(t.Context(), ref, image.PullOptions{})
				wantClass(t, err, errdefs.ErrInvalidArgument, "Pull "+ref)
				wantClass(t, s.im.Remove(t.Context(), ref), errdefs.ErrInvalidArgument, "Remove "+ref)
			}
		}},
		{"Remove of an image a container was made from is Conflict and keeps it", func(t *testing.T, s store) {
			c, err := s.rt.Create(t.Context(), sleeper("conformance-a", nil))
			must(t, err, "Create container")
			wantClass(t, s.im.Remove(t.Context(), SuiteImage), errdefs.ErrConflict, "Remove of a used image")
			_, err = s.im.Resolve(t.Context(), SuiteImage)
			must(t, err, "Resolve after the refused Remove")
			must(t, s.rt.Remove(t.Context(), c.ID, true), "Remove container")
			must(t, s.im.Remove(t.Context(), SuiteImage), "Remove once no container uses it")
		}},
	})
}
