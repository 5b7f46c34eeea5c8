package image

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is the registry name Docker writes in normalised references.
// go-containerregistry spells it "index.docker.io".
const dockerHub = "docker.io"

// isPathComponent and isTag are Docker's grammar for repository path
// components, [a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*, and for tags,
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} (github.com/distribution/reference),
// written out: compiled as regular expressions they cost every berth
// process a third of a millisecond at start.
func isPathComponent(s string) bool {
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && isLowerAlnum(s[j]) {
			j++
		}
		switch {
		case j == i:
			return false // a separator first, or two in a row
		case j == len(s):
			return true
		}
		k := j
		for k < len(s) && !isLowerAlnum(s[k]) {
			k++
		}
		if sep := s[j:k]; sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = k
	}
	return false // empty, or a separator last
}

func isLowerAlnum(c byte) bool { return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') }

func isTag(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !isLowerAlnum(c) && (c < 'A' || c > 'Z') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// minIDPrefix is the shortest hexadecimal image ID prefix Resolve accepts.
// Shorter strings are too likely to be meant as names.
const minIDPrefix = 4

// Normalize returns the canonical form of an image reference, the form kept
// in the store and in Image.RepoTags: the registry is explicit (docker.io for
// Docker Hub), Docker Hub's official images get "library/", and a reference
// without tag or digest gets ":latest".
//
//	hello                    → docker.io/library/hello:latest
//	me/app:1                 → docker.io/me/app:1
//	localhost:5000/x         → localhost:5000/x:latest
//	busybox@sha256:…         → docker.io/library/busybox@sha256:…
//
// A malformed reference is an errdefs.ErrInvalidArgument error.
func Normalize(ref string) (string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	return canonical(r), nil
}

// parseRef parses ref like Docker does and rejects what Docker rejects.
func parseRef(ref string) (name.Reference, error) {
	if ref == "" {
		return nil, fmt.Errorf("empty image reference: %w", errdefs.ErrInvalidArgument)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w (%w)", ref, err, errdefs.ErrInvalidArgument)
	}
	// go-containerregistry checks characters only; Docker also wants each
	// path component to start and end with a letter or digit.
	for c := range strings.SplitSeq(r.Context().RepositoryStr(), "/") {
		if !isPathComponent(c) {
			return nil, fmt.Errorf("reference %q: bad repository name component %q: %w", ref, c, errdefs.ErrInvalidArgument)
		}
	}
	if t, ok := r.(name.Tag); ok && !isTag(t.TagStr()) {
		return nil, fmt.Errorf("reference %q: bad tag %q: %w", ref, t.TagStr(), errdefs.ErrInvalidArgument)
	}
	// Docker refuses names that could be taken for an image ID.
	if repo := strings.TrimPrefix(r.Context().RepositoryStr(), "library/"); len(repo) == 64 && isHex(repo) {
		return nil, fmt.Errorf("reference %q: a 64-digit hexadecimal name is an image ID, not a name: %w", ref, errdefs.ErrInvalidArgument)
	}
	return r, nil
}

// canonical formats a parsed reference in the store's normalised form.
func canonical(r name.Reference) string {
	repo := r.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = dockerHub
	}
	s := reg + "/" + repo.RepositoryStr()
	switch t := r.(type) {
	case name.Tag:
		return s + ":" + t.TagStr()
	case name.Digest:
		return s + "@" + t.DigestStr()
	}
	return s
}

// normalizeTag is Normalize for names that are given to an image (Import,
// Tag, Put): they must carry a tag, not a digest.
func normalizeTag(ref string) (string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	if _, ok := r.(name.Tag); !ok {
		return "", fmt.Errorf("reference %q: an image name needs a tag, not a digest: %w", ref, errdefs.ErrInvalidArgument)
	}
	return canonical(r), nil
}

// FamiliarName shortens a normalised reference for display, as Docker does:
// "docker.io/library/hello:latest" becomes "hello:latest" and
// "docker.io/me/app:1" becomes "me/app:1". Any other string (another
// registry, an image ID, a reference that is not normalised) is returned
// unchanged.
func FamiliarName(ref string) string {
	rest, ok := strings.CutPrefix(ref, dockerHub+"/")
	if !ok {
		if rest, ok = strings.CutPrefix(ref, name.DefaultRegistry+"/"); !ok {
			return ref
		}
	}
	if short, ok := strings.CutPrefix(rest, "library/"); ok {
		repo := short
		if i := strings.IndexAny(repo, ":@"); i >= 0 {
			repo = repo[:i]
		}
		if !strings.Contains(repo, "/") {
			return short
		}
	}
	return rest
}

// repoOf returns the repository part (before ":tag" or "@digest") of a
// normalised reference.
func repoOf(norm string) string {
	if i := strings.LastIndexByte(norm, '@'); i >= 0 {
		return norm[:i]
	}
	slash := strings.LastIndexByte(norm, '/')
	if i := strings.LastIndexByte(norm, ':'); i > slash {
		return norm[:i]
	}
	return norm
}

// isDigestRef reports whether a normalised reference names a digest.
func isDigestRef(norm string) bool { return strings.Contains(norm, "@") }

// isHex reports whether s is non-empty and only lower-case hex digits.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
