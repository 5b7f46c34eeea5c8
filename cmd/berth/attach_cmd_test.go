package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestParseDetachKeys(t *testing.T) {
	tests := map[string][]byte{
		"ctrl-p,ctrl-q": {0x10, 0x11},
		"ctrl-@,ctrl-[": {0, 27},
		"a,ctrl-A":      {'a', 1},
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			got, err := parseDetachKeys(in)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("parseDetachKeys(%q) = %v, %v; want %v", in, got, err, want)
			}
		})
	}
	for _, bad := range []string{"ctrl-1", "alt-x", "", "ab"} {
		if _, err := parseDetachKeys(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("parseDetachKeys(%q): err = %v, want invalid argument", bad, err)
		}
	}
}

// oneByte reads one byte a call, as a terminal delivers keys.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:1]) }

func TestDetachReader(t *testing.T) {
	keys := []byte{0x10, 0x11}
	tests := []struct {
		name, in, want string
		detached       bool
	}{
		{"plain", "hello\n", "hello\n", false},
		{"the keys", "ab\x10\x11cd", "ab", true},
		{"half the keys, then others", "a\x10b\x10\x10\x11", "a\x10b\x10", true},
		{"the first key at the end", "x\x10", "x\x10", false},
	}
	for _, tc := range tests {
		for _, split := range []bool{false, true} {
			name := tc.name
			if split {
				name += " byte by byte"
			}
			t.Run(name, func(t *testing.T) {
				var r io.Reader = strings.NewReader(tc.in)
				if split {
					r = oneByte{r}
				}
				detached := false
				d := &detachReader{r: r, keys: keys, detach: func() { detached = true }}
				got, err := io.ReadAll(d)
				if tc.detached && !errors.Is(err, errDetached) || !tc.detached && err != nil {
					t.Fatalf("err = %v", err)
				}
				if string(got) != tc.want || detached != tc.detached || d.seen() != tc.detached {
					t.Errorf("read %q, detached %v; want %q, %v", got, detached, tc.want, tc.detached)
				}
			})
		}
	}
}
