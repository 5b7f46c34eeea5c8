package engine

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/image"
)

func TestEffectiveHealthcheck(t *testing.T) {
	img := &image.Healthcheck{Test: []string{"CMD", "probe"}, Interval: time.Minute, Retries: 4}
	tests := []struct {
		name string
		c    *Healthcheck
		img  *image.Healthcheck
		want *Healthcheck
	}{
		{"none", nil, nil, nil},
		{"the image's", nil, img, &Healthcheck{Test: []string{"CMD", "probe"}, Interval: time.Minute, Retries: 4}},
		{"timing over the image's test", &Healthcheck{Interval: time.Second}, img, &Healthcheck{Test: []string{"CMD", "probe"}, Interval: time.Second, Retries: 4}},
		{"own test", &Healthcheck{Test: []string{"CMD-SHELL", "true"}}, img, &Healthcheck{Test: []string{"CMD-SHELL", "true"}, Interval: time.Minute, Retries: 4}},
		{"disabled", &Healthcheck{Test: []string{"NONE"}}, img, nil},
	}
	for _, tc := range tests {
		if got := effectiveHealthcheck(tc.c, tc.img); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	got := healthArgs(&Healthcheck{Test: []string{"CMD", "a b"}, Interval: 2 * time.Second, Retries: 3})
	want := []string{"--health-test", "CMD", "--health-test", "a b", "--health-interval", "2s", "--health-retries", "3"}
	if !slices.Equal(got, want) {
		t.Errorf("healthArgs %q, want %q", got, want)
	}
}

func TestShimArgs(t *testing.T) {
	rec := &record{Config: ContainerConfig{Tty: true, Restart: RestartPolicy{Name: "on-failure", MaxRetries: 2}}}
	if got := shimArgs(rec); !slices.Equal(got, []string{"--tty", "--restart", "on-failure:2"}) {
		t.Errorf("shimArgs %q", got)
	}
}

// runcDeleteArgs lets the shim delete runc's state itself only for runc and
// a container with a PID namespace of its own, naming its cgroup.
func TestRuncDeleteArgs(t *testing.T) {
	for _, tc := range []struct {
		runtime string
		cfg     ContainerConfig
		want    []string
	}{
		{"/usr/sbin/runc", ContainerConfig{}, []string{"--runc-cgroup", "/berth/abc"}},
		{"/usr/sbin/runc", ContainerConfig{CgroupParent: "/mine"}, []string{"--runc-cgroup", "/mine/abc"}},
		{"/usr/sbin/runc", ContainerConfig{PidMode: "host"}, nil},
		{"/usr/sbin/runc", ContainerConfig{PidMode: "container:db"}, nil},
		{"/usr/bin/crun", ContainerConfig{}, nil},
	} {
		if got := runcDeleteArgs(tc.runtime, &record{ID: "abc", Config: tc.cfg}); !slices.Equal(got, tc.want) {
			t.Errorf("runcDeleteArgs(%q, %+v) = %q, want %q", tc.runtime, tc.cfg, got, tc.want)
		}
	}
}
