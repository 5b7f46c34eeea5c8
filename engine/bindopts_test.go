package engine

import (
	"slices"
	"testing"

	"github.com/containerd/errdefs"
)

func TestBindOptions(t *testing.T) {
	for _, tc := range []struct {
		recursive string
		ro, rroOK bool
		want      []string
	}{
		{"", false, true, []string{"rbind", "rw"}},
		{"disabled", false, true, []string{"bind", "rw"}},
		{"", true, true, []string{"rbind", "ro", "rro"}},
		{"enabled", true, true, []string{"rbind", "ro", "rro"}},
		{"enabled", true, false, []string{"rbind", "ro"}}, // a kernel before 5.12: sub-mounts stay writable, as Docker's
		{"readonly", true, false, []string{"rbind", "ro", "rro"}},
		{"writable", true, true, []string{"rbind", "ro"}},
		{"disabled", true, true, []string{"bind", "ro"}},
	} {
		got, err := bindOptions(tc.recursive, tc.ro, tc.rroOK)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("bindOptions(%q, ro %v, rro %v) = %q, %v; want %q", tc.recursive, tc.ro, tc.rroOK, got, err, tc.want)
		}
	}
	for _, bad := range []struct {
		recursive string
		ro        bool
	}{{"readonly", false}, {"writable", false}, {"sometimes", true}} {
		if _, err := bindOptions(bad.recursive, bad.ro, true); !errdefs.IsInvalidArgument(err) {
			t.Errorf("bindOptions(%q, ro %v): %v, want invalid", bad.recursive, bad.ro, err)
		}
	}
}
