package main

import (
	"reflect"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
)

func TestContainerCreateOptions(t *testing.T) {
	o := containerCreateOptions{
		name: "web", env: []string{"A=1"}, volumes: []string{"/srv:/data:ro", "site:/www"}, network: "front",
		tty: true, user: "nobody", workdir: "/tmp", restart: "on-failure:3", labels: []string{"k=v"},
	}
	c, err := o.config([]string{"busybox", "sh", "-c", "true"})
	if err != nil {
		t.Fatal(err)
	}
	want := engine.ContainerConfig{
		Name: "web", Image: "busybox", Cmd: []string{"sh", "-c", "true"}, Env: []string{"A=1"}, User: "nobody", WorkingDir: "/tmp",
		Tty: true, Labels: map[string]string{"k": "v"},
		Mounts:   []engine.Mount{{Type: "bind", Source: "/srv", Target: "/data", ReadOnly: true}, {Type: "volume", Source: "site", Target: "/www"}},
		Networks: []engine.EndpointConfig{{Network: "front"}},
		Restart:  engine.RestartPolicy{Name: "on-failure", MaxRetries: 3},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config\n%+v\nwant\n%+v", c, want)
	}
	for _, bad := range []string{"/srv", ":/x", "/a:/b:rx", "a:b:c:d", "bad name:/x", "a/b:/x"} {
		if _, err := parseVolumeFlag(bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("-v %q: %v", bad, err)
		}
	}
}
