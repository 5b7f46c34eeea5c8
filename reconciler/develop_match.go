package reconciler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/berth-dev/berth/spec"
)

// ruleFiles decides which host paths count for one develop.watch rule:
// a path counts when it is under the rule's path, matches its include
// patterns (none: every path), and is ignored neither by the rule's ignore
// patterns, nor by the build context's .dockerignore (for paths inside
// the context), nor as .git/ or an editor's temporary file. Patterns use
// .dockerignore syntax; a pattern that matches a directory matches
// everything below it. A ruleFiles is immutable and safe for concurrent
// use.
type ruleFiles struct {
	root    string // the rule's path, absolute and clean
	include *patternmatcher.PatternMatcher
	ignore  *patternmatcher.PatternMatcher
	context string // the build context, absolute; "" without one or without a .dockerignore
	docker  *patternmatcher.PatternMatcher
}

// newRuleFiles reads what decides the rule's files; buildContext is the
// service's build context ("" without build:). A malformed pattern or an
// unreadable .dockerignore is an error.
func newRuleFiles(r spec.WatchRule, buildContext string) (*ruleFiles, error) {
	f := &ruleFiles{root: filepath.Clean(r.Path)}
	var err error
	if len(r.Include) > 0 {
		if f.include, err = patternmatcher.New(r.Include); err != nil {
			return nil, fmt.Errorf("develop.watch %s: include: %w", r.Path, err)
		}
	}
	if len(r.Ignore) > 0 {
		if f.ignore, err = patternmatcher.New(r.Ignore); err != nil {
			return nil, fmt.Errorf("develop.watch %s: ignore: %w", r.Path, err)
		}
	}
	if buildContext != "" {
		b, err := os.Open(filepath.Join(buildContext, ".dockerignore"))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("develop.watch %s: %w", r.Path, err)
		default:
			patterns, err := ignorefile.ReadAll(b)
			_ = b.Close()
			if err == nil {
				f.docker, err = patternmatcher.New(patterns)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(buildContext, ".dockerignore"), err)
			}
			f.context = filepath.Clean(buildContext)
		}
	}
	return f, nil
}

// rel returns p relative to the rule's path and whether p is the path or
// under it.
func (f *ruleFiles) rel(p string) (string, bool) {
	if p == f.root {
		return ".", true
	}
	rest, ok := strings.CutPrefix(p, f.root+string(filepath.Separator))
	return rest, ok && rest != ""
}

// counts reports whether a change of the file (or link) p counts.
func (f *ruleFiles) counts(p string) bool {
	rel, ok := f.rel(p)
	if !ok || isEphemeral(p) || f.ignored(p, rel) {
		return false
	}
	if f.include == nil || rel == "." {
		return true
	}
	in, err := f.include.MatchesOrParentMatches(rel)
	return err == nil && in
}

// skipDir reports whether the directory p and everything below it are
// ignored, so that it need not be watched at all.
func (f *ruleFiles) skipDir(p string) bool {
	rel, ok := f.rel(p)
	if !ok {
		return true
	}
	if filepath.Base(p) == ".git" {
		return true
	}
	if rel == "." {
		return false
	}
	if f.ignore != nil && !f.ignore.Exclusions() {
		if m, err := f.ignore.MatchesOrParentMatches(rel); err == nil && m {
			return true
		}
	}
	if f.docker != nil && !f.docker.Exclusions() {
		if crel, ok := f.contextRel(p); ok {
			if m, err := f.docker.MatchesOrParentMatches(crel); err == nil && m {
				return true
			}
		}
	}
	return false
}

func (f *ruleFiles) contextRel(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, f.context+string(filepath.Separator))
	return rest, ok && rest != ""
}

func (f *ruleFiles) ignored(p, rel string) bool {
	if strings.Contains(string(filepath.Separator)+rel+string(filepath.Separator), string(filepath.Separator)+".git"+string(filepath.Separator)) {
		return true
	}
	if f.ignore != nil && rel != "." {
		if m, err := f.ignore.MatchesOrParentMatches(rel); err == nil && m {
			return true
		}
	}
	if f.docker != nil {
		if crel, ok := f.contextRel(p); ok {
			if m, err := f.docker.MatchesOrParentMatches(crel); err == nil && m {
				return true
			}
		}
	}
	return false
}

// isEphemeral reports whether p is a file editors write while saving and
// remove again (Docker Compose ignores the same): vim's swap files and
// 4913 probe, backups ending in ~, emacs' #name# and .#name, JetBrains'
// ___jb_tmp___ and ___jb_old___ files, kate's swap files.
func isEphemeral(p string) bool {
	name := filepath.Base(p)
	switch {
	case name == "4913",
		strings.HasSuffix(name, "~"),
		strings.HasPrefix(name, ".#"),
		len(name) > 1 && strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"),
		strings.HasSuffix(name, "___jb_tmp___"), strings.HasSuffix(name, "___jb_old___"),
		strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".kate-swp"):
		return true
	case strings.HasPrefix(name, "."):
		for _, ext := range []string{".swp", ".swx", ".swo", ".swn"} {
			if strings.HasSuffix(name, ext) {
				return true
			}
		}
	}
	return false
}
