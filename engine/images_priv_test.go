package engine

import (
	"testing"

	"github.com/containerd/errdefs"
)

// TestPrivImageStoreRemoveRefusesUsedImage: an image a container was made
// from, running or not, stays until the container goes.
func TestPrivImageStoreRemoveRefusesUsedImage(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	id := mustCreate(t, e, busybox("user", "sleep", "600"))
	err := e.Images().Remove(ctx, "busybox")
	if !errdefs.IsConflict(err) || err.Error() != `image "busybox" is in use by container user: conflict` {
		t.Fatalf("Remove of a used image: %v, want the conflict naming the container", err)
	}
	if _, err := e.Images().Resolve(ctx, "busybox"); err != nil {
		t.Fatalf("after the refused Remove: %v", err)
	}
	if err := e.Remove(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if err := e.Images().Remove(ctx, "busybox"); err != nil {
		t.Fatal(err)
	}
	if err := e.Images().Remove(ctx, "busybox"); !errdefs.IsNotFound(err) {
		t.Fatalf("second Remove: %v, want NotFound", err)
	}
}
