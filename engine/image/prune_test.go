package image

import (
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/testimage"
)

func TestPrune(t *testing.T) {
	s := newStore(t)
	layer := func(s string) []byte { return testimage.LayerTar(testimage.File("f", 0o644, []byte(s))) }
	used := importTar(t, s, layer("used"), "used:1")
	unused := importTar(t, s, layer("unused"), "unused:1")
	// Re-importing a name leaves the old image dangling.
	danglingUsed := importTar(t, s, layer("dangling used"), "again:1")
	importTar(t, s, layer("dangling used 2"), "again:1")
	dangling := importTar(t, s, layer("dangling"), "again:1")
	again := importTar(t, s, layer("again"), "again:1")
	inUse := func(id string) bool { return id == used.ID || id == danglingUsed.ID }

	var calls []string
	rep, err := s.Prune(t.Context(), false, func(id string) bool { calls = append(calls, id); return inUse(id) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Untagged) != 0 || len(rep.Deleted) != 2 || !slices.Contains(rep.Deleted, dangling.ID) || rep.SpaceReclaimed <= 0 {
		t.Errorf("dangling prune: %+v", rep)
	}
	if len(calls) != 3 {
		t.Errorf("inUse asked for %d images, want the 3 dangling ones", len(calls))
	}
	want := map[string]bool{used.ID: true, unused.ID: true, danglingUsed.ID: true, again.ID: true}
	checkIDs(t, s, want)

	rep, err = s.Prune(t.Context(), true, inUse)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rep.Untagged)
	if !slices.Equal(rep.Untagged, []string{"docker.io/library/again:1", "docker.io/library/unused:1"}) || len(rep.Deleted) != 2 {
		t.Errorf("prune -a: %+v", rep)
	}
	checkIDs(t, s, map[string]bool{used.ID: true, danglingUsed.ID: true})
	if got := layerNames(t, s); len(got) != 2 {
		t.Errorf("layers left: %q", got)
	}
	blobs, _ := blobsOf(t, s)
	if len(blobs) != 2*3 { // manifest, config, layer each
		t.Errorf("blobs left: %q", blobs)
	}

	rep, err = s.Prune(t.Context(), true, nil)
	if err != nil || len(rep.Deleted) != 2 {
		t.Errorf("prune -a with nothing in use: %+v, %v", rep, err)
	}
	checkIDs(t, s, map[string]bool{})
}

func checkIDs(t *testing.T, s *Store, want map[string]bool) {
	t.Helper()
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, img := range list {
		got[img.ID] = true
	}
	if len(got) != len(want) {
		t.Errorf("images %v, want %v", got, want)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("image %s removed", id)
		}
	}
}
