package image

import (
	"math/rand/v2"
	"path"
	"regexp"
	"strings"
	"testing"
)

// The grammars as Docker writes them, against which the hand-written
// matchers are checked.
var (
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE           = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	hexNameRE       = regexp.MustCompile(`^(?:sha256:)?([0-9a-f]{64})(?:\.json|\.tar|\.tar\.gz|\.tgz|\.tar\.zst)?$`)
)

func TestGrammarsMatchDockers(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	fixed := []string{
		"", "a", "A", "_", ".", "-", "a.b", "a..b", "a_b", "a__b", "a___b", "a-b", "a---b", "a-_b", "a._b",
		"a.", "a-", ".a", "-a", "_a", "ab9", "a/b", "é", "a\xffb", "latest", "v1.2.3-rc_1", "_x",
		strings.Repeat("t", 128), strings.Repeat("t", 129), "x" + strings.Repeat(".", 127),
		hex, "sha256:" + hex, hex + ".json", hex + ".tar.gz", hex + ".tar.zst", hex + ".tgz", hex + ".tar",
		hex + ".gz", "sha256:" + hex + ".json", "sha256:sha256:" + hex, hex[:63], hex + "0", strings.ToUpper(hex),
		"dir/" + hex + ".tar", "x" + hex,
	}
	alphabet := []string{"a", "z", "0", "9", "A", "Z", ".", "_", "-", "/", ":", "é", "sha256:", hex[:32], ".tar", ".json", ".gz"}
	r := rand.New(rand.NewPCG(1, 2))
	inputs := fixed
	for range 20000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	for _, s := range inputs {
		if got, want := isPathComponent(s), pathComponentRE.MatchString(s); got != want {
			t.Errorf("isPathComponent(%q) = %v, the grammar says %v", s, got, want)
		}
		if got, want := isTag(s), tagRE.MatchString(s); got != want {
			t.Errorf("isTag(%q) = %v, the grammar says %v", s, got, want)
		}
		want := ""
		if m := hexNameRE.FindStringSubmatch(path.Base(s)); m != nil {
			want = m[1]
		}
		if got := digestInName(s); got.Hex != want {
			t.Errorf("digestInName(%q) = %q, the grammar says %q", s, got.Hex, want)
		}
	}
}
