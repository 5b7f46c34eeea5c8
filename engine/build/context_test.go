package build

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// mkContext writes files (path → content) under a new directory.
func mkContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func dsts(files []srcFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.dst)
	}
	return out
}

func TestContextDockerignore(t *testing.T) {
	dir := mkContext(t, map[string]string{
		".dockerignore":                 "*.log\nbuild/\n!build/keep.txt\nsecret*\n",
		"a.go":                          "a",
		"app.log":                       "x",
		"build/out":                     "x",
		"build/keep.txt":                "k",
		"src/b.go":                      "b",
		"src/c.log":                     "c",
		"secret.env":                    "s",
		"Dockerfile":                    "FROM scratch",
		"other.Dockerfile":              "FROM scratch",
		"other.Dockerfile.dockerignore": "src\n",
	})
	tree, err := openContext(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := tree.files("", "app", true, excludeAt{})
	if err != nil {
		t.Fatal(err)
	}
	// Patterns are anchored at the root: *.log leaves src/c.log in. An
	// excluded directory's re-included file comes without it.
	want := []string{"app/.dockerignore", "app/Dockerfile", "app/a.go", "app/build/keep.txt", "app/other.Dockerfile", "app/other.Dockerfile.dockerignore", "app/src", "app/src/b.go", "app/src/c.log"}
	if got := dsts(files); !slices.Equal(got, want) {
		t.Errorf("files:\n got %q\nwant %q", got, want)
	}
	if _, err := tree.match("secret.env"); !errdefs.IsNotFound(err) {
		t.Errorf("COPY of an ignored file: %v, want NotFound", err)
	}
	if got, err := tree.match("*.go"); err != nil || !slices.Equal(got, []string{"a.go"}) {
		t.Errorf("match *.go: %q, %v", got, err)
	}
	if got, err := tree.match("src/*.go"); err != nil || !slices.Equal(got, []string{"src/b.go"}) {
		t.Errorf("match src/*: %q, %v", got, err)
	}

	// <Dockerfile>.dockerignore wins over .dockerignore.
	tree, err = openContext(dir, filepath.Join(dir, "other.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !tree.ignored("src/b.go") || tree.ignored("app.log") {
		t.Errorf("other.Dockerfile.dockerignore not the one used")
	}
}

func TestContextOutside(t *testing.T) {
	dir := mkContext(t, map[string]string{"in/file": "x"})
	outside := mkContext(t, map[string]string{"secret": "s"})
	if err := os.Symlink(outside, filepath.Join(dir, "in", "escape")); err != nil {
		t.Fatal(err)
	}
	tree, err := openContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"../x", "in/../../x", ".."} {
		if _, err := tree.match(src); !errdefs.IsInvalidArgument(err) {
			t.Errorf("match %q: %v, want InvalidArgument", src, err)
		}
	}
	// Through the link: resolved within the context, where there is no
	// such file.
	if _, err := tree.match("in/escape/secret"); !errdefs.IsNotFound(err) {
		t.Errorf("match through a link out of the context: %v, want NotFound", err)
	}
	// The link itself is copied as a link.
	files, err := tree.files("in", "in", false, excludeAt{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.dst == "in/escape" && f.fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("in/escape: mode %v, want a symbolic link", f.fi.Mode())
		}
		if filepath.Dir(f.dst) == "in/escape" {
			t.Errorf("%s: followed the link out of the context", f.dst)
		}
	}
}

// TestCacheKeyInputs: a step's key changes exactly when one of its inputs
// does; a source's modification time and ignored files are not inputs.
func TestCacheKeyInputs(t *testing.T) {
	dir := mkContext(t, map[string]string{".dockerignore": "**/*.tmp\n", "src/a": "a", "src/b": "b"})
	key := func() string {
		t.Helper()
		tree, err := openContext(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		files, err := tree.files("src", "app", true, excludeAt{})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := checksum(files, nil)
		if err != nil {
			t.Fatal(err)
		}
		return stepKey("parent", `{"copy":{}}`, sum)
	}
	base := key()
	for _, tc := range []struct {
		name    string
		change  func() error
		changes bool
	}{
		{"mtime", func() error { return os.Chtimes(filepath.Join(dir, "src/a"), time.Now(), time.Unix(1, 0)) }, false},
		{"ignored file", func() error { return os.WriteFile(filepath.Join(dir, "src/x.tmp"), []byte("x"), 0o644) }, false},
		{"content", func() error { return os.WriteFile(filepath.Join(dir, "src/a"), []byte("A"), 0o644) }, true},
		{"mode", func() error { return os.Chmod(filepath.Join(dir, "src/b"), 0o600) }, true},
		{"new file", func() error { return os.WriteFile(filepath.Join(dir, "src/c"), nil, 0o644) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
			got := key()
			if (got != base) != tc.changes {
				t.Errorf("key changed: %v, want %v", got != base, tc.changes)
			}
			base = got
		})
	}
	for _, k := range []string{stepKey("other", `{"copy":{}}`, ""), stepKey("parent", `{"run":{}}`, ""), stepKey("parent", `{"copy":{}}`, "x")} {
		if k == stepKey("parent", `{"copy":{}}`, "") {
			t.Errorf("stepKey ignores one of its inputs")
		}
	}
}
