package lazyregexp

import (
	"regexp"
	"sync"
	"testing"
)

func TestMatchesAsRegexp(t *testing.T) {
	const expr = `^(\w+)-(\d+)$`
	want := regexp.MustCompile(expr)
	r := &Regexp{str: expr} // not compiled yet, as outside tests
	for _, s := range []string{"web-1", "web-", "-1", "a-12 ", "x_y-007"} {
		if got, w := r.MatchString(s), want.MatchString(s); got != w {
			t.Errorf("MatchString(%q) = %v, want %v", s, got, w)
		}
		if got, w := r.FindStringSubmatch(s), want.FindStringSubmatch(s); len(got) != len(w) || (w != nil && got[2] != w[2]) {
			t.Errorf("FindStringSubmatch(%q) = %q, want %q", s, got, w)
		}
		if got, w := r.ReplaceAllString(s, "$2"), want.ReplaceAllString(s, "$2"); got != w {
			t.Errorf("ReplaceAllString(%q) = %q, want %q", s, got, w)
		}
	}
	if r.String() != expr {
		t.Errorf("String() = %q", r.String())
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	r := &Regexp{str: `^a+$`}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if !r.MatchString("aaa") {
				t.Error("no match")
			}
		})
	}
	wg.Wait()
}

func TestBadPatternFailsUnderTest(t *testing.T) {
	if !inTest {
		t.Fatal("inTest is false under go test")
	}
	defer func() {
		if recover() == nil {
			t.Error("New of a bad pattern did not panic under go test")
		}
	}()
	New(`(`)
}
