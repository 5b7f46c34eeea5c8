package build

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/patternmatcher"
)

// excluder holds the --exclude patterns of a COPY or ADD (nil: none).
type excluder struct {
	m *patternmatcher.PatternMatcher
}

func newExcluder(patterns []string) (*excluder, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	m, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("--exclude: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	return &excluder{m: m}, nil
}

// under is the excluder for the paths below one source, which the
// patterns see prefixed with base: "" for a plain COPY (the patterns match
// below each source, never the source itself, as BuildKit's), the path from
// the pivot with --parents (the source itself may then be excluded).
func (e *excluder) under(base string) excludeAt {
	return excludeAt{e: e, base: base, self: base != ""}
}

// excludeAt is an excluder for the paths below one source.
type excludeAt struct {
	e    *excluder
	base string
	self bool // the source itself may be excluded
}

// excludes tells whether inner (slash-separated, relative to the source;
// "." is the source) is left out.
func (x excludeAt) excludes(inner string, top bool) bool {
	if x.e == nil || (top && !x.self) {
		return false
	}
	m, err := x.e.m.MatchesOrParentMatches(path.Join(x.base, inner))
	return err == nil && m
}

// hasExceptions tells whether a pattern starts with "!": an excluded
// directory may then hold files that are not.
func (x excludeAt) hasExceptions() bool { return x.e != nil && x.e.m.Exclusions() }

// parentsFiles lists what COPY --parents writes for sources: each match
// keeps its path, from the context's root or from the "/./" in the source
// (the pivot), under dest, with the directories on the way as the context
// has them. A source without wildcards must exist; a wildcard may match
// nothing, as BuildKit's.
func (t *srcTree) parentsFiles(sources []string, dest string, ex *excluder) ([]srcFile, error) {
	var out []srcFile
	seen := map[string]bool{}
	for _, src := range sources {
		pivot, pattern, ok := strings.Cut(src, "/./")
		if !ok {
			pivot, pattern = "", src
		}
		prel, err := t.cleanSource(pivot)
		if err != nil {
			return nil, err
		}
		matches, err := t.match(path.Join(prel, pattern))
		if errdefs.IsNotFound(err) && strings.ContainsAny(src, "*?[") {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			inner, ok := strings.CutPrefix(m, prel+"/")
			if prel == "" {
				inner, ok = m, m != ""
			}
			if !ok {
				return nil, fmt.Errorf("--parents: source %q: %q is not below its pivot %q: %w", src, m, prel, errdefs.ErrInvalidArgument)
			}
			parts := strings.Split(inner, "/")
			for i := 1; i < len(parts); i++ {
				d := path.Join(parts[:i]...)
				if seen[path.Join(dest, d)] {
					continue
				}
				seen[path.Join(dest, d)] = true
				fi, err := os.Lstat(t.abs(path.Join(prel, d)))
				if err != nil {
					return nil, err
				}
				out = append(out, srcFile{abs: t.abs(path.Join(prel, d)), dst: path.Join(dest, d), fi: fi})
			}
			files, err := t.files(m, path.Join(dest, inner), false, ex.under(inner))
			if err != nil {
				return nil, err
			}
			out = append(out, files...)
		}
	}
	return out, nil
}

// looseInfo is the FileInfo of a file that is not in the source tree: a
// download or a heredoc.
type looseInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i *looseInfo) Name() string       { return i.name }
func (i *looseInfo) Size() int64        { return i.size }
func (i *looseInfo) Mode() fs.FileMode  { return i.mode }
func (i *looseInfo) ModTime() time.Time { return i.mtime }
func (i *looseInfo) IsDir() bool        { return false }
func (i *looseInfo) Sys() any           { return nil }
