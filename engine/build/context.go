package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// srcTree is a directory COPY reads from: the build context (with its
// .dockerignore) or a stage's root filesystem.
type srcTree struct {
	root   string // absolute, no symbolic link in it
	ignore *patternmatcher.PatternMatcher
	what   string // "build context" or `stage "build"`, for messages
}

// openContext opens the build context dir; the ignore file is
// <dockerfile>.dockerignore beside the Dockerfile when there is one (and
// dockerfile is a file), else <dir>/.dockerignore.
func openContext(dir, dockerfile string) (*srcTree, error) {
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return nil, fmt.Errorf("build context %q: %w", dir, errdefs.ErrNotFound)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("build context %q: not a directory: %w", dir, errdefs.ErrNotFound)
	}
	t := &srcTree{root: root, what: "build context"}
	candidates := []string{filepath.Join(root, ".dockerignore")}
	if dockerfile != "" {
		candidates = slices.Insert(candidates, 0, dockerfile+".dockerignore")
	}
	for _, c := range candidates {
		f, err := os.Open(c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		patterns, err := ignorefile.ReadAll(f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", c, err, errdefs.ErrInvalidArgument)
		}
		if t.ignore, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf("%s: %w: %w", c, err, errdefs.ErrInvalidArgument)
		}
		break
	}
	return t, nil
}

// ignored tells whether rel (slash-separated, relative to the root) is left
// out by the ignore file.
func (t *srcTree) ignored(rel string) bool {
	if t.ignore == nil || rel == "" || rel == "." {
		return false
	}
	m, err := t.ignore.MatchesOrParentMatches(rel)
	return err == nil && m
}

// srcFile is one file, directory or link a COPY writes.
type srcFile struct {
	abs     string      // where it is
	data    []byte      // or its content, when it is not in a file (a heredoc)
	dst     string      // its path in the layer, relative, slash-separated
	fi      fs.FileInfo // from Lstat
	extract bool        // a tar archive ADD extracts into dst
}

// cleanSource turns a COPY source into a path relative to the tree's root;
// one that climbs out of it is refused.
func (t *srcTree) cleanSource(src string) (string, error) {
	rel := path.Clean("/" + filepath.ToSlash(src))
	if !strings.HasPrefix(path.Clean(filepath.ToSlash(src)), "../") && path.Clean(filepath.ToSlash(src)) != ".." {
		return strings.TrimPrefix(rel, "/"), nil
	}
	return "", fmt.Errorf("source %q is outside the %s: %w", src, t.what, errdefs.ErrInvalidArgument)
}

// match returns the paths (relative to the root) a source names: itself, or
// every match of its wildcards, never beneath a symbolic link and never
// what the ignore file leaves out.
func (t *srcTree) match(src string) ([]string, error) {
	rel, err := t.cleanSource(src)
	if err != nil {
		return nil, err
	}
	if !strings.ContainsAny(rel, "*?[") {
		if rel != "" {
			// Directories on the way are resolved within the root.
			parent, err := securejoin.SecureJoin(t.root, path.Dir(rel))
			if err != nil {
				return nil, err
			}
			prel, err := filepath.Rel(t.root, parent)
			if err != nil {
				return nil, err
			}
			rel = path.Join(filepath.ToSlash(prel), path.Base(rel))
			if rel == "." {
				rel = ""
			}
		}
		if _, err := os.Lstat(filepath.Join(t.root, rel)); err != nil || t.ignored(rel) {
			return nil, fmt.Errorf("%q: not found in the %s: %w", src, t.what, errdefs.ErrNotFound)
		}
		return []string{rel}, nil
	}
	found := []string{""}
	for _, pat := range strings.Split(rel, "/") {
		var next []string
		for _, dir := range found {
			fi, err := os.Lstat(filepath.Join(t.root, dir))
			if err != nil || !fi.IsDir() {
				continue
			}
			ents, err := os.ReadDir(filepath.Join(t.root, dir))
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				if ok, _ := path.Match(pat, e.Name()); ok {
					next = append(next, path.Join(dir, e.Name()))
				}
			}
		}
		found = next
	}
	found = slices.DeleteFunc(found, t.ignored)
	if len(found) == 0 {
		return nil, fmt.Errorf("%q: no file in the %s matches: %w", src, t.what, errdefs.ErrNotFound)
	}
	return found, nil
}

// files lists what copying rel to dst writes: rel itself, and for a
// directory everything beneath it (without the directory itself when
// contents is set, as COPY dir/ does), parents before children, in
// lexical order. Symbolic links are listed as links, never followed.
func (t *srcTree) files(rel, dst string, contents bool, ex excludeAt) ([]srcFile, error) {
	var out []srcFile
	top := filepath.Join(t.root, rel)
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, err := filepath.Rel(t.root, p)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		inner, err := filepath.Rel(top, p)
		if err != nil {
			return err
		}
		if (p != top && t.ignored(r)) || ex.excludes(filepath.ToSlash(inner), p == top) {
			if d.IsDir() && (t.ignore == nil || !t.ignore.Exclusions()) && !ex.hasExceptions() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if p == top && contents && fi.IsDir() {
			return nil
		}
		out = append(out, srcFile{abs: p, dst: path.Join(dst, filepath.ToSlash(inner)), fi: fi})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.what, err)
	}
	return out, nil
}

// checksum sums what a COPY reads: for every file its path in the layer,
// type, mode, owner, size, link target and content. Modification times are
// left out, so touching a file changes nothing. load, when not nil, is
// told of every file read.
func checksum(files []srcFile, load *contextLoad) (string, error) {
	h := sha256.New()
	for _, f := range files {
		uid, gid := owner(f.fi)
		link := ""
		if f.fi.Mode()&fs.ModeSymlink != 0 {
			l, err := os.Readlink(f.abs)
			if err != nil {
				return "", err
			}
			link = l
		}
		fmt.Fprintf(h, "%q %o %d:%d %d %q %t ", f.dst, uint32(f.fi.Mode()), uid, gid, f.fi.Size(), link, f.extract)
		if f.data != nil {
			s := sha256.Sum256(f.data)
			h.Write(s[:])
		} else if f.fi.Mode().IsRegular() {
			sum, err := fileSum(f.abs)
			if err != nil {
				return "", err
			}
			h.Write(sum)
			load.add(f.fi.Size())
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sumBuffers are fileSum's read buffers: io.Copy would allocate one per
// file (an *os.File copies through WriteTo), 3 GB of garbage for a context
// of 100k files.
var sumBuffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func fileSum(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	buf := sumBuffers.Get().(*[32 << 10]byte)
	defer sumBuffers.Put(buf)
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf[:]); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func owner(fi fs.FileInfo) (uint32, uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}
