package main

import (
	"errors"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
)

func TestImageFilter(t *testing.T) {
	tagged := &image.Image{RepoTags: []string{"docker.io/library/busybox:latest"}, Config: image.Config{Labels: map[string]string{"tier": "base"}}}
	local := &image.Image{RepoTags: []string{"localhost:5000/app/web:v2"}}
	dangling := &image.Image{}
	tests := []struct {
		filters []string
		want    []bool // tagged, local, dangling
	}{
		{nil, []bool{true, true, true}},
		{[]string{"dangling=true"}, []bool{false, false, true}},
		{[]string{"dangling=false"}, []bool{true, true, false}},
		{[]string{"label=tier"}, []bool{true, false, false}},
		{[]string{"label=tier=other"}, []bool{false, false, false}},
		{[]string{"reference=busybox"}, []bool{true, false, false}},
		{[]string{"reference=busy*:latest"}, []bool{true, false, false}},
		{[]string{"reference=localhost:5000/app/*"}, []bool{false, true, false}},
		{[]string{"reference=busybox", "reference=*/app/web:v2"}, []bool{true, true, false}},
	}
	for _, tc := range tests {
		t.Run(fmtFilters(tc.filters), func(t *testing.T) {
			f, err := parseImageFilter(tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			for i, img := range []*image.Image{tagged, local, dangling} {
				if got := f.match(img); got != tc.want[i] {
					t.Errorf("image %d: match = %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
	for _, bad := range []string{"dangling=maybe", "until=1h", "reference=[", "label"} {
		if _, err := parseImageFilter([]string{bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("--filter %s: err = %v, want invalid argument", bad, err)
		}
	}
}

func TestNetworkFilter(t *testing.T) {
	n := network.Summary{}
	n.Name, n.ID, n.Driver, n.Labels = "demo_default", "abc123", "bridge", map[string]string{"com.docker.compose.project": "demo"}
	tests := []struct {
		filters []string
		want    bool
	}{
		{nil, true},
		{[]string{"name=demo"}, true},
		{[]string{"name=other", "name=_def"}, true},
		{[]string{"id=abc"}, true},
		{[]string{"id=bc"}, false},
		{[]string{"driver=bridge", "label=com.docker.compose.project=demo"}, true},
		{[]string{"driver=overlay"}, false},
		{[]string{"name=demo", "label=nope"}, false},
	}
	for _, tc := range tests {
		t.Run(fmtFilters(tc.filters), func(t *testing.T) {
			f, err := parseNetworkFilter(tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.match(n); got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := parseNetworkFilter([]string{"scope=local"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown key: err = %v", err)
	}
}

func fmtFilters(f []string) string {
	if len(f) == 0 {
		return "none"
	}
	s := ""
	for _, x := range f {
		s += x + ";"
	}
	return s
}

// TestContainerFilterAncestor: ancestor takes the image's name as Docker
// resolves it (no tag: latest), its full reference, or a prefix of its ID.
func TestContainerFilterAncestor(t *testing.T) {
	c := &engine.Container{ImageID: "sha256:82a1ee9ed2981f299c2e0016aeda0a4761c5b52fd8e1eefa0a4d020de4d2536c",
		Config: engine.ContainerConfig{Image: "busybox:latest"}}
	for v, want := range map[string]bool{
		"busybox": true, "busybox:latest": true, "docker.io/library/busybox:latest": true, "82a1ee9e": true,
		"sha256:82a1ee": true, "busybox:1.36": false, "nginx": false, "ffff": false,
	} {
		f, err := parseContainerFilter([]string{"ancestor=" + v})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(c); got != want {
			t.Errorf("ancestor=%s: match %v, want %v", v, got, want)
		}
	}
}
