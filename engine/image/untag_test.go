package image

import (
	"testing"

	"github.com/containerd/errdefs"
)

func TestUntagKeepsTheImage(t *testing.T) {
	s := newStore(t)
	img := importTar(t, s, busybox(t), "bb:1")
	if err := s.Tag(t.Context(), "bb:1", "bb:2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag(t.Context(), "bb:2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(t.Context(), "bb:2"); !errdefs.IsNotFound(err) {
		t.Fatalf("bb:2 after untag: %v", err)
	}
	if err := s.Untag(t.Context(), "bb:1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(t.Context(), img.ID)
	if err != nil {
		t.Fatalf("the image is gone with its last name: %v", err)
	}
	if len(got.RepoTags) != 0 {
		t.Fatalf("names left: %v", got.RepoTags)
	}
	if _, err := s.LayerDirs(t.Context(), got); err != nil {
		t.Fatalf("layers of the nameless image: %v", err)
	}
	if err := s.Remove(t.Context(), img.ID); err != nil {
		t.Fatalf("remove by ID: %v", err)
	}
}
