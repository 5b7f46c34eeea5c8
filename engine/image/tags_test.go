package image

import (
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestNormalizeRepository(t *testing.T) {
	for _, tc := range []struct{ in, want, wantErr string }{
		{in: "busybox", want: "docker.io/library/busybox"},
		{in: "localhost:5000/tools/bb", want: "localhost:5000/tools/bb"},
		{in: "busybox:1", wantErr: "a tag cannot be used with --all-tags"},
		{in: "localhost:5000/bb:2", wantErr: "a tag cannot be used with --all-tags"},
		{in: "busybox@sha256:" + strings.Repeat("a", 64), wantErr: "a tag cannot be used"},
		{in: "Bad Name", wantErr: "reference"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeRepository(tc.in)
			if tc.wantErr != "" {
				if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want InvalidArgument with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestAllTags: the registry's tags of a repository, the store's, and
// their errors.
func TestAllTags(t *testing.T) {
	host := testRegistry(t, nil)
	src := busyboxImage(t)
	for _, tag := range []string{"2", "1", "latest"} {
		push(t, host+"/tools/bb:"+tag, src)
	}
	push(t, host+"/tools/other:9", src)
	s := newStore(t)
	tags, err := s.RemoteTags(t.Context(), host+"/tools/bb", PullOptions{})
	if err != nil || !slices.Equal(tags, []string{"1", "2", "latest"}) {
		t.Fatalf("remote tags: %v, %v; want [1 2 latest]", tags, err)
	}
	for _, tag := range []string{"1", "2"} {
		if _, err := s.Pull(t.Context(), host+"/tools/bb:"+tag, PullOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pull(t.Context(), host+"/tools/other:9", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	local, err := s.LocalTags(t.Context(), host+"/tools/bb")
	if want := []string{host + "/tools/bb:1", host + "/tools/bb:2"}; err != nil || !slices.Equal(local, want) {
		t.Errorf("local tags: %v, %v; want %v", local, err, want)
	}
	if _, err := s.LocalTags(t.Context(), host+"/tools/b"); !errdefs.IsNotFound(err) {
		t.Errorf("local tags of a repository the store lacks: %v, want NotFound", err)
	}
	if _, err := s.RemoteTags(t.Context(), host+"/tools/nope", PullOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("remote tags of an unknown repository: %v, want NotFound", err)
	}
}

// TestRemoteDigest: the registry's digest of a tag, an index's for a
// multi-platform image, without pulling; an unknown tag is NotFound.
func TestRemoteDigest(t *testing.T) {
	host := testRegistry(t, nil)
	single := push(t, host+"/tools/bb:1", busyboxImage(t))
	multi := push(t, host+"/tools/bb:multi", multiPlatform(t, busyboxImage(t), testImage(t, "linux/s390x", busybox(t))))
	s := newStore(t)
	for ref, want := range map[string]v1.Hash{host + "/tools/bb:1": single, host + "/tools/bb:multi": multi} {
		got, err := s.RemoteDigest(t.Context(), ref, PullOptions{})
		if err != nil || got != want.String() {
			t.Errorf("%s: %q, %v; want %s", ref, got, err, want)
		}
	}
	if imgs, err := s.List(t.Context()); err != nil || len(imgs) != 0 {
		t.Errorf("the store holds %d images (%v): RemoteDigest pulled", len(imgs), err)
	}
	if _, err := s.RemoteDigest(t.Context(), host+"/tools/bb:nope", PullOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("digest of an unknown tag: %v, want NotFound", err)
	}
}
