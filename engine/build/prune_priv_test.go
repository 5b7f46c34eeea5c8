package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
)

// recordIDs are the IDs of the cache's records, sorted.
func recordIDs(t *testing.T, b *Builder) []string {
	t.Helper()
	u, err := b.DiskUsage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range u.Records {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestPrivPrune: without --all only records whose layer no image has go;
// --all spares the layers a running build leased; keep-storage and until
// bound what goes; a layer no record names goes; the cache works after.
func TestPrivPrune(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY a.txt /a.txt\nRUN echo one > /one\nRUN true\n",
		"a.txt":      "a\n",
	})
	build := func(tag string) {
		t.Helper()
		if _, err := b.Build(t.Context(), Options{ContextDir: dir, Tags: []string{tag}, Network: "none"}); err != nil {
			t.Fatal(err)
		}
	}
	build("p:1")
	u, err := b.DiskUsage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Records) != 3 || u.Size <= 0 || u.Reclaimable != u.Size {
		t.Fatalf("usage after one build: %+v", u)
	}
	for _, r := range u.Records {
		if r.InUse || r.Shared || r.InImage != (r.DiffID != "") || r.LastUsed.IsZero() {
			t.Errorf("record %+v", r)
		}
	}

	// Dangling only: the RUN that made no layer.
	rep, err := b.Prune(t.Context(), PruneOptions{})
	if err != nil || len(rep.Deleted) != 1 {
		t.Fatalf("prune: %+v, %v; want the one record without a layer", rep, err)
	}
	if got := recordIDs(t, b); len(got) != 2 {
		t.Errorf("records after a dangling prune: %q", got)
	}

	// --all with a build holding the COPY's layer: that record stays.
	u, _ = b.DiskUsage(t.Context())
	l := b.cache.newLease()
	held := u.Records[0]
	if err := l.add(held.DiffID); err != nil {
		t.Fatal(err)
	}
	rep, err = b.Prune(t.Context(), PruneOptions{All: true})
	if err != nil || len(rep.Deleted) != 1 || rep.SpaceReclaimed <= 0 {
		t.Errorf("prune --all beside a build: %+v, %v", rep, err)
	}
	if got := recordIDs(t, b); !slices.Equal(got, []string{held.ID}) {
		t.Errorf("records left: %q, want the leased %s", got, held.ID)
	}
	if _, err := os.Stat(b.cache.layerFile(held.DiffID)); err != nil {
		t.Errorf("the leased layer went: %v", err)
	}
	if err := l.release(); err != nil {
		t.Fatal(err)
	}

	// until: nothing used within the hour goes; keep-storage: nothing goes
	// while the cache fits.
	build("p:1")
	before := recordIDs(t, b)
	if rep, err := b.Prune(t.Context(), PruneOptions{All: true, Until: time.Hour}); err != nil || len(rep.Deleted) != 0 {
		t.Errorf("prune --filter until=1h: %+v, %v", rep, err)
	}
	if rep, err := b.Prune(t.Context(), PruneOptions{All: true, KeepStorage: 1 << 40}); err != nil || len(rep.Deleted) != 0 {
		t.Errorf("prune --keep-storage 1TB: %+v, %v", rep, err)
	}
	// A keep-storage below the cache's size removes the least recently
	// used first, and stops once under it.
	u, _ = b.DiskUsage(t.Context())
	oldest := u.Records[0]
	rep, err = b.Prune(t.Context(), PruneOptions{All: true, KeepStorage: u.Size - 1})
	if err != nil || len(rep.Deleted) == 0 || rep.Deleted[0] != oldest.ID || len(rep.Deleted) == len(before) {
		t.Errorf("prune --keep-storage size-1: %+v, %v; want %s first, not all of %q", rep, err, oldest.ID, before)
	}

	// A layer no record names (a build killed before recording it) goes.
	orphan := b.cache.layerFile("sha256:" + strings.Repeat("ab", 32))
	if err := os.WriteFile(orphan, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Prune(t.Context(), PruneOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if got := recordIDs(t, b); len(got) != 0 {
		t.Errorf("records after prune --all: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(b.cache.dir, "layers", "*")); len(left) != 0 {
		t.Errorf("layers after prune --all: %q", left)
	}
	if left, _ := filepath.Glob(filepath.Join(b.cache.dir, "unpacked", "*")); len(left) != 0 {
		t.Errorf("unpacked layers after prune --all: %q", left)
	}
	// The cache works after: a build makes everything again.
	build("p:1")
	if got := recordIDs(t, b); len(got) != 3 {
		t.Errorf("records after rebuilding: %q", got)
	}
	if err := b.images.Remove(t.Context(), "p:1"); err != nil {
		t.Fatal(err)
	}
}

// TestPrivSweep: what a dead build left (a RUN container, a mounted
// overlay, a half-written layer) goes with the next build; what a live one
// owns stays.
func TestPrivSweep(t *testing.T) {
	b := newPrivBuilder(t)
	dead := "0.0"
	if err := os.MkdirAll(b.cache.emptyDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	const ctr = "berth-build-dead"
	if _, err := b.eng.Create(t.Context(), engine.ContainerConfig{Name: ctr, RootfsLayers: []string{b.cache.emptyDir()},
		Entrypoint: []string{"/bin/true"}, Cmd: []string{}, NetworkMode: "none", Labels: map[string]string{LabelBuild: "1"}}); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{".run-" + dead + "-" + ctr: "", ".tmp-" + dead + "-half": "half a layer", ".tmp-" + self() + "-mine": "live"} {
		if err := os.WriteFile(filepath.Join(b.cache.dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What mountLowers mounts: a mount on a scratch directory.
	deadMnt := filepath.Join(b.cache.dir, ".tmp-"+dead+"-mnt")
	if err := os.Mkdir(deadMnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", deadMnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(deadMnt, unix.MNT_DETACH) })
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\n"})
	if _, err := b.Build(t.Context(), Options{ContextDir: dir, Network: "none"}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := b.eng.List(t.Context(), nil); len(cs) != 0 {
		t.Errorf("the dead build's container is still there")
	}
	mine := filepath.Join(b.cache.dir, ".tmp-"+self()+"-mine")
	if left, _ := filepath.Glob(filepath.Join(b.cache.dir, ".*")); !slices.Equal(left, []string{mine}) {
		t.Errorf("left: %q, want only %q", left, mine)
	}
	if err := os.Remove(mine); err != nil {
		t.Fatal(err)
	}
}
