package reconciler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/spec"
)

func TestRuleFiles(t *testing.T) {
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, ".dockerignore"), []byte("# comment\n**/*.pyc\nsrc/build\n!src/build/keep.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(ctx, "src")
	tests := []struct {
		name    string
		rule    spec.WatchRule
		context string
		path    string
		counts  bool
	}{
		{name: "a file under path", rule: spec.WatchRule{Path: src}, path: "src/app.py", counts: true},
		{name: "the path itself", rule: spec.WatchRule{Path: filepath.Join(ctx, "req.txt")}, path: "req.txt", counts: true},
		{name: "outside path", rule: spec.WatchRule{Path: src}, path: "other/app.py"},
		{name: "a sibling with the same prefix", rule: spec.WatchRule{Path: src}, path: "src2/app.py"},
		{name: "include matches", rule: spec.WatchRule{Path: src, Include: []string{"*.py"}}, path: "src/app.py", counts: true},
		{name: "include misses", rule: spec.WatchRule{Path: src, Include: []string{"*.py"}}, path: "src/app.js"},
		{name: "include of a directory", rule: spec.WatchRule{Path: src, Include: []string{"lib"}}, path: "src/lib/a/b.py", counts: true},
		{name: "ignore of a directory", rule: spec.WatchRule{Path: src, Ignore: []string{"node_modules/"}}, path: "src/node_modules/x/index.js"},
		{name: "ignore by pattern", rule: spec.WatchRule{Path: src, Ignore: []string{"**/*.log"}}, path: "src/a/b.log"},
		{name: ".dockerignore inside the context", rule: spec.WatchRule{Path: src}, context: ctx, path: "src/a/x.pyc"},
		{name: ".dockerignore directory", rule: spec.WatchRule{Path: src}, context: ctx, path: "src/build/out.o"},
		{name: ".dockerignore exception", rule: spec.WatchRule{Path: src}, context: ctx, path: "src/build/keep.txt", counts: true},
		{name: ".dockerignore without build", rule: spec.WatchRule{Path: src}, path: "src/a/x.pyc", counts: true},
		{name: ".git", rule: spec.WatchRule{Path: ctx}, path: ".git/index"},
		{name: "vim swap", rule: spec.WatchRule{Path: src}, path: "src/.app.py.swp"},
		{name: "vim probe", rule: spec.WatchRule{Path: src}, path: "src/4913"},
		{name: "backup", rule: spec.WatchRule{Path: src}, path: "src/app.py~"},
		{name: "emacs autosave", rule: spec.WatchRule{Path: src}, path: "src/#app.py#"},
		{name: "emacs lock", rule: spec.WatchRule{Path: src}, path: "src/.#app.py"},
		{name: "jetbrains", rule: spec.WatchRule{Path: src}, path: "src/app.py___jb_tmp___"},
		{name: "kate", rule: spec.WatchRule{Path: src}, path: "src/.app.py.kate-swp"},
		{name: "a dotfile", rule: spec.WatchRule{Path: src}, path: "src/.env", counts: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := newRuleFiles(tc.rule, tc.context)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.counts(filepath.Join(ctx, tc.path)); got != tc.counts {
				t.Errorf("counts(%s) = %v, want %v", tc.path, got, tc.counts)
			}
		})
	}
}

func TestRuleFilesSkipDir(t *testing.T) {
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, ".dockerignore"), []byte("vendor\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		rule    spec.WatchRule
		context string
		dir     string
		skip    bool
	}{
		{name: "the root", rule: spec.WatchRule{Path: ctx, Ignore: []string{"*"}}, dir: ".", skip: false},
		{name: "ignored", rule: spec.WatchRule{Path: ctx, Ignore: []string{"node_modules"}}, dir: "node_modules", skip: true},
		{name: "below an ignored one", rule: spec.WatchRule{Path: ctx, Ignore: []string{"node_modules"}}, dir: "node_modules/a", skip: true},
		{name: "ignored but with an exception", rule: spec.WatchRule{Path: ctx, Ignore: []string{"node_modules", "!node_modules/keep"}}, dir: "node_modules"},
		{name: ".git", rule: spec.WatchRule{Path: ctx}, dir: ".git", skip: true},
		{name: ".dockerignore", rule: spec.WatchRule{Path: ctx}, context: ctx, dir: "vendor", skip: true},
		{name: "an ordinary one", rule: spec.WatchRule{Path: ctx, Ignore: []string{"node_modules"}}, dir: "src"},
		{name: "include does not prune", rule: spec.WatchRule{Path: ctx, Include: []string{"*.py"}}, dir: "src"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := newRuleFiles(tc.rule, tc.context)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.skipDir(filepath.Join(ctx, tc.dir)); got != tc.skip {
				t.Errorf("skipDir(%s) = %v, want %v", tc.dir, got, tc.skip)
			}
		})
	}
}
