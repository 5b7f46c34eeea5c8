package gctune

import (
	"runtime/debug"
	"testing"
)

func TestCLIPolicySetAtInit(t *testing.T) {
	if got := debug.SetGCPercent(CLIPercent); got != CLIPercent {
		t.Errorf("GOGC at the start of a test binary = %d, want %d", got, CLIPercent)
	}
}

func TestIsResolver(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{
		{"resolver", []string{"berth", "resolver", "--net", "x"}, true},
		{"up", []string{"berth", "up", "resolver"}, false},
		{"no args", []string{"berth"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isResolver(tc.args); got != tc.want {
				t.Errorf("isResolver(%q) = %v, want %v", tc.args, got, tc.want)
			}
		})
	}
}
