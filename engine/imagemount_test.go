package engine

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSubpathLayers(t *testing.T) {
	root := t.TempDir()
	layer := func(name string, files ...string) string {
		d := filepath.Join(root, name)
		for _, f := range files {
			p := filepath.Join(d, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if f[len(f)-1] == '/' {
				continue
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := layer("base", "site/sub/a", "bin/sh")
	none := layer("none", "etc/x")
	top := layer("top", "site/sub/b")
	file := layer("file", "site") // site is a file here: it hides the layers below
	for _, tc := range []struct {
		name   string
		layers []string
		sub    string
		want   []string
	}{
		{"whole image", []string{base, none, top}, "", []string{base, none, top}},
		{"layers holding the sub-directory", []string{base, none, top}, "site/sub", []string{filepath.Join(base, "site/sub"), filepath.Join(top, "site/sub")}},
		{"a file above hides it", []string{base, file}, "site/sub", nil},
		{"a file below is hidden", []string{file, top}, "site/sub", []string{filepath.Join(top, "site/sub")}},
		{"missing everywhere", []string{base, top}, "nope", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := subpathLayers(tc.layers, tc.sub)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("subpathLayers = %q, want %q", got, tc.want)
			}
		})
	}
}
