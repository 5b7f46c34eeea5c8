package spec

import (
	"testing"

	"github.com/distribution/reference"
)

// distribution/reference is berth's patched copy (third_party/reference),
// whose expressions compile on first use: image references parse, and are
// refused, as upstream's do.
func TestImageReferencesParse(t *testing.T) {
	const dgst = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ in, want string }{
		{"busybox", "docker.io/library/busybox"},
		{"busybox:1.36", "docker.io/library/busybox:1.36"},
		{"localhost:5000/a/b:t", "localhost:5000/a/b:t"},
		{"[::1]:5000/x@" + dgst, "[::1]:5000/x@" + dgst},
		{"ghcr.io/o/r:v1@" + dgst, "ghcr.io/o/r:v1@" + dgst},
	} {
		n, err := reference.ParseNormalizedNamed(tc.in)
		if err != nil || n.String() != tc.want {
			t.Errorf("ParseNormalizedNamed(%q) = %v, %v; want %s", tc.in, n, err, tc.want)
		}
	}
	for _, bad := range []string{"", "library/UPPER", "a:b:c", "x@sha256:12", "-lead/x", "a/b:-tag", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"} {
		if n, err := reference.ParseNormalizedNamed(bad); err == nil {
			t.Errorf("ParseNormalizedNamed(%q) = %v, want an error", bad, n)
		}
	}
	if !reference.TagRegexp.MatchString("v1.2") || reference.DigestRegexp.MatchString("nope") {
		t.Error("the exported expressions do not match as upstream's")
	}
}
