package image

import (
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/testimage"
)

// TestHoldKeepsContent: a held image's blobs and unpacked layers outlive a
// prune of every image, and go with the next collection after release.
func TestHoldKeepsContent(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, testimage.LayerTar(testimage.File("f", 0o644, []byte("held"))), "held:1")
	if _, err := s.LayerDirs(t.Context(), img); err != nil {
		t.Fatal(err)
	}
	release, err := s.Hold(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.V1Image(t.Context(), img) // reads lazily
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Prune(t.Context(), true, nil)
	if err != nil || len(rep.Deleted) != 1 {
		t.Fatalf("prune -a: %+v, %v", rep, err)
	}
	if got := layerNames(t, s); len(got) != 1 {
		t.Errorf("layers while held: %q, want the held one", got)
	}
	if blobs, _ := blobsOf(t, s); len(blobs) != 3 {
		t.Errorf("blobs while held: %q, want manifest, config and layer", blobs)
	}
	if ls, err := v.Layers(); err != nil || len(ls) != 1 {
		t.Errorf("the held image's layers: %v, %v", ls, err)
	} else if rc, err := ls[0].Compressed(); err != nil {
		t.Errorf("the held image's layer cannot be read: %v", err)
	} else {
		_ = rc.Close()
	}
	if _, err := v.ConfigFile(); err != nil {
		t.Errorf("the held image's config cannot be read: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	other := importTar(t, s, testimage.LayerTar(testimage.File("g", 0o644, []byte("other"))), "other:1")
	if err := s.Remove(t.Context(), other.ID); err != nil {
		t.Fatal(err)
	}
	if got := layerNames(t, s); len(got) != 0 {
		t.Errorf("layers after release and a collection: %q", got)
	}
	if blobs, _ := blobsOf(t, s); len(blobs) != 0 {
		t.Errorf("blobs after release and a collection: %q", blobs)
	}
	if _, err := s.Hold(t.Context(), img); !errdefs.IsNotFound(err) {
		t.Errorf("hold of a removed image: %v, want not found", err)
	}
}
