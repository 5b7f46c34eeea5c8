package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testutil"
)

// TestImageTree: image ls --tree as the docker CLI 28 prints it to a pipe:
// newest first, every name of an image, its platform below it, the in-use
// chip, the untagged image.
func TestImageTree(t *testing.T) {
	imgs := []*image.Image{
		{ID: "sha256:1111111111111111111111111111111111111111111111111111111111111111", Digest: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			RepoTags: []string{"docker.io/library/busybox:latest", "registry.example:5000/tools/busybox:1.36"},
			Created:  fmtNow.Add(-48 * time.Hour), OS: "linux", Architecture: "amd64", Size: 2_150_000},
		{ID: "sha256:2222222222222222222222222222222222222222222222222222222222222222", Digest: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			RepoTags: []string{"docker.io/library/app:dev"}, Created: fmtNow, OS: "linux", Architecture: "amd64", Size: 31_400_000},
		{ID: "sha256:3333333333333333333333333333333333333333333333333333333333333333", Digest: "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
			OS: "linux", Architecture: "amd64", Size: 512},
	}
	users := map[string]int{"sha256:1111111111111111111111111111111111111111111111111111111111111111": 2}
	var buf bytes.Buffer
	writeImageTree(&buf, treeImages(imgs, users))
	testutil.Golden(t, filepath.Join("testdata", "format", "image_tree.txt"), buf.Bytes(), *update)
}

// TestImageTreeRefusals: --tree takes none of the listing's other output
// flags, in Docker's words.
func TestImageTreeRefusals(t *testing.T) {
	for _, args := range [][]string{{"-q"}, {"--no-trunc"}, {"--digests"}, {"--format", "json"}} {
		_, err := runCmd(t, t.TempDir(), nil, append([]string{"ls", "--tree"}, args...)...)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("is not yet supported with --tree")) {
			t.Errorf("ls --tree %q: %v", args, err)
		}
	}
}
