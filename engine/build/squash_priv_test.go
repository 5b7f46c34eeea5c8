package build

import (
	"io/fs"
	"testing"
)

// TestPrivSquash: --squash leaves the base's layers and one layer for
// what the target stage made, which shows what the steps left: files
// added, changed, deleted (from the base and from an earlier step) and a
// directory replaced; the history keeps every step. Built again, it is
// the same image.
func TestPrivSquash(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox AS base\nRUN echo base > /base\n" +
		"FROM base\n" +
		"RUN echo a > /a && mkdir -p /d/sub && echo x > /d/sub/x && echo keep > /d/keep && echo 1 > /changed\n" +
		"RUN rm /bin/ls /base && echo b > /b && echo 2 > /changed && chmod 4755 /b && ln /b /b-link\n" +
		"RUN rm -r /d && mkdir /d && echo y > /d/y\n" +
		"RUN rm /a\n" +
		"ENV SQUASHED=1\n"})
	build := func(squash bool, tag string) string {
		t.Helper()
		res, err := b.Build(t.Context(), Options{ContextDir: dir, Tags: []string{tag}, Network: "none", Squash: squash})
		if err != nil {
			t.Fatal(err)
		}
		return res.ImageID
	}
	build(false, "plain:1")
	id := build(true, "squashed:1")
	plain, squashed := imageConfig(t, b, "plain:1"), imageConfig(t, b, "squashed:1")
	if got, want := len(squashed.RootFS.DiffIDs), len(plain.RootFS.DiffIDs)-4+1; got != want {
		t.Errorf("squashed: %d layers, want %d (the base's, its stage's, one)", got, want)
	}
	if len(squashed.History) != len(plain.History)+1 {
		t.Errorf("squashed history has %d entries, want every step's (%d) and the merge", len(squashed.History), len(plain.History))
	}
	nonEmpty := 0
	for _, h := range squashed.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(squashed.RootFS.DiffIDs) {
		t.Errorf("%d history entries make a layer, for %d layers", nonEmpty, len(squashed.RootFS.DiffIDs))
	}
	wantFile(t, b, "squashed:1", "b", "b\n", 0o755)
	if _, fi, _ := imageEntry(t, b, "squashed:1", "b"); fi == nil || fi.Mode()&fs.ModeSetuid == 0 {
		t.Errorf("/b lost its set-user-ID bit: %v", fi)
	}
	wantFile(t, b, "squashed:1", "changed", "2\n", 0)
	wantFile(t, b, "squashed:1", "b-link", "b\n", 0o755)
	wantFile(t, b, "squashed:1", "d/y", "y\n", 0)
	for _, gone := range []string{"a", "base", "bin/ls", "d/sub", "d/sub/x", "d/keep"} {
		if _, _, ok := imageEntry(t, b, "squashed:1", gone); ok {
			t.Errorf("squashed: /%s is in the image", gone)
		}
	}
	wantFile(t, b, "squashed:1", "bin/busybox", mustImageFile(t, b, "plain:1", "bin/busybox"), 0)
	if again := build(true, "squashed:1"); again != id {
		t.Errorf("squashed again: %s, first %s", again, id)
	}
}

func mustImageFile(t *testing.T, b *Builder, ref, rel string) string {
	t.Helper()
	data, _, ok := imageEntry(t, b, ref, rel)
	if !ok {
		t.Fatalf("%s: no /%s", ref, rel)
	}
	return data
}
