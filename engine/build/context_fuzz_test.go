package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/patternmatcher"
)

// FuzzContextSource: whatever a COPY source and a .dockerignore pattern
// say, the files a COPY reads from the build context are inside it. A
// source either fails as outside (InvalidArgument), missing (NotFound) or
// malformed, or matches paths whose directories resolve within the
// context; listing them never walks through a symbolic link (links are
// copied as links), and an ignored path is never read.
func FuzzContextSource(f *testing.F) {
	for _, seed := range [][2]string{
		{"app/main.go", ""}, {"../x", ""}, {"in/../../x", ""}, {"..", ""}, {"/etc/passwd", ""},
		{"escape/secret", ""}, {"in/escape/secret", ""}, {"in/escape", ""}, {"*/*", ""},
		{"app/*.go", "app/skip.go"}, {"in/*", "!in/file"}, {"[", ""}, {"in/link-up/../file", ""},
		{".", "**"}, {"app", "app/**/*.go"}, {"in//./file", ""}, {"in/file/", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	ctx := f.TempDir()
	outside := f.TempDir()
	for p, data := range map[string]string{"app/main.go": "m", "app/skip.go": "s", "in/file": "x", "in/sub/deep": "d"} {
		if err := os.MkdirAll(filepath.Join(ctx, filepath.Dir(p)), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctx, p), []byte(data), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		f.Fatal(err)
	}
	for link, target := range map[string]string{"escape": outside, "in/escape": outside, "in/link-up": "..", "in/abs": "/", "in/self": "."} {
		if err := os.Symlink(target, filepath.Join(ctx, link)); err != nil {
			f.Fatal(err)
		}
	}
	root, err := filepath.EvalSymlinks(ctx)
	if err != nil {
		f.Fatal(err)
	}
	inside := func(p string) bool { return p == root || strings.HasPrefix(p, root+"/") }

	f.Fuzz(func(t *testing.T, src, ignore string) {
		tree := &srcTree{root: root, what: "build context"}
		if ignore != "" {
			pm, err := patternmatcher.New(strings.Split(ignore, "\n"))
			if err != nil {
				return // the ignore file itself is refused when it is opened
			}
			tree.ignore = pm
		}
		rels, err := tree.match(src)
		if err != nil {
			if strings.Contains(err.Error(), "outside") && !errdefs.IsInvalidArgument(err) {
				t.Fatalf("match %q: %v: an escape not classed InvalidArgument", src, err)
			}
			return
		}
		for _, rel := range rels {
			if tree.ignored(rel) {
				t.Fatalf("match %q with ignore %q: %q is ignored", src, ignore, rel)
			}
			files, err := tree.files(rel, "dst", false, excludeAt{})
			if err != nil {
				continue
			}
			for _, sf := range files {
				if sf.abs == root {
					continue // the context itself, as COPY . does
				}
				dir, err := filepath.EvalSymlinks(filepath.Dir(sf.abs))
				if err != nil {
					t.Fatalf("match %q: %s: %v", src, sf.abs, err)
				}
				if !inside(dir) {
					t.Fatalf("match %q: reads %s, in %s outside the context %s", src, sf.abs, dir, root)
				}
				if strings.HasPrefix(sf.dst, "../") || strings.Contains(sf.dst, "/../") {
					t.Fatalf("match %q: writes %q outside the destination", src, sf.dst)
				}
			}
		}
	})
}
