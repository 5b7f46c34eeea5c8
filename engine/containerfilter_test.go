package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestContainerFilter(t *testing.T) {
	c := &Container{ID: "abc123", Config: ContainerConfig{Name: "proj-web-1", Image: "busybox",
		Labels: map[string]string{"tier": "front", "team": "a"}}, State: State{Status: StatusExited, ExitCode: 3}}
	for _, tc := range []struct {
		by   map[string][]string
		want bool
	}{
		{map[string][]string{}, true},
		{map[string][]string{"name": {"web"}}, true},
		{map[string][]string{"name": {"db", "web"}}, true}, // one key's values: any
		{map[string][]string{"name": {"db"}}, false},
		{map[string][]string{"label": {"tier=front", "team"}}, true},
		{map[string][]string{"label": {"tier=front", "team=b"}}, false}, // labels: all
		{map[string][]string{"status": {"exited"}, "exited": {"3"}}, true},
		{map[string][]string{"status": {"exited"}, "exited": {"0"}}, false}, // keys: all
		{map[string][]string{"id": {"abc"}, "ancestor": {"busybox:latest"}}, true},
	} {
		f, err := ParseContainerFilter(tc.by)
		if err != nil {
			t.Fatalf("%v: %v", tc.by, err)
		}
		if got := f.Match(c); got != tc.want {
			t.Errorf("%v: match %v, want %v", tc.by, got, tc.want)
		}
	}
	for k, v := range map[string]string{"colour": "red", "status": "sleeping", "exited": "zero"} {
		_, err := ParseContainerFilter(map[string][]string{k: {v}})
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), `filter "`+k+"="+v+`"`) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}
