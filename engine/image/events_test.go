package image

import (
	"bytes"
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/eventlog"
	"github.com/berth-dev/berth/internal/testimage"
)

// The store records its changes in the state root's event journal, as
// Docker's image events: import, tag, untag, and delete with the last name.
func TestImageEventsInTheJournal(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tar bytes.Buffer
	if err := testimage.BusyboxRootfs(&tar); err != nil {
		t.Fatal(err)
	}
	img, err := s.Import(t.Context(), &tar, "busybox:latest", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(t.Context(), "busybox:latest", "example.com/bb:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag(t.Context(), "example.com/bb:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(t.Context(), "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	var got []string
	err = eventlog.Open(root).Read(func(ev eventlog.Event) error {
		if ev.Type != "image" || ev.ID != img.ID {
			t.Errorf("event %+v, want an image event about %s", ev, img.ID)
		}
		got = append(got, ev.Action+" "+ev.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"import busybox:latest", "tag example.com/bb:1", "untag example.com/bb:1", "untag busybox:latest", "delete busybox:latest"}
	if !slices.Equal(got, want) {
		t.Fatalf("journal: %q, want %q", got, want)
	}
}
