package reconciler

import (
	"reflect"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

func TestTranslateRuntime(t *testing.T) {
	p := &spec.Project{Name: "proj", WorkingDir: "/srv/proj", Services: []spec.Service{{Name: "db"}, {Name: "web"}}}
	s := &spec.Service{
		Name: "web", Tty: true, StdinOpen: true, ReadOnly: true, Privileged: false, Domainname: "example.org",
		GroupAdd: []string{"audio"}, CapAdd: []string{"CAP_NET_ADMIN"}, CapDrop: []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges:true", "seccomp=./sec.json"},
		Sysctls:     map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:     map[string]spec.Ulimit{"nofile": {Soft: 1024, Hard: 2048}},
		Devices:     []string{"/dev/fuse:/dev/fuse:rwm"},
		ShmSize:     1 << 26, MemLimit: 1 << 28, MemReservation: 1 << 27, MemSwapLimit: -1, CPUs: 0.5, CPUShares: 512, PidsLimit: 64,
		OomScoreAdj: 100, Pid: "host", Ipc: "service:db", Restart: "on-failure:3",
		Healthcheck: &spec.Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 2},
		Logging:     &spec.Logging{Driver: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "3"}},
	}
	var c engine.ContainerConfig
	if err := translateRuntime(p, s, &c); err != nil {
		t.Fatal(err)
	}
	want := engine.ContainerConfig{
		Tty: true, OpenStdin: true, ReadOnly: true, Domainname: "example.org",
		GroupAdd: []string{"audio"}, CapAdd: []string{"CAP_NET_ADMIN"}, CapDrop: []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges:true", "seccomp=/srv/proj/sec.json"},
		Sysctls:     map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:     map[string]engine.Ulimit{"nofile": {Soft: 1024, Hard: 2048}},
		Devices:     []string{"/dev/fuse:/dev/fuse:rwm"},
		ShmSize:     1 << 26,
		Resources:   engine.Resources{MemLimit: 1 << 28, MemReservation: 1 << 27, MemSwapLimit: -1, CPUs: 0.5, CPUShares: 512, PidsLimit: 64},
		OomScoreAdj: 100, PidMode: "host", IpcMode: "container:proj-db-1",
		Restart:     engine.RestartPolicy{Name: "on-failure", MaxRetries: 3},
		Healthcheck: &engine.Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 2},
		Logging:     engine.LogConfig{MaxSize: 10 << 20, MaxFile: 3},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestTranslateRuntimeRejects(t *testing.T) {
	p := &spec.Project{Name: "proj", Services: []spec.Service{{Name: "web"}}}
	for name, s := range map[string]spec.Service{
		"restart":        {Restart: "sometimes"},
		"restart count":  {Restart: "always:3"},
		"pid service":    {Pid: "service:nope"},
		"log driver":     {Logging: &spec.Logging{Driver: "syslog"}},
		"log max-size":   {Logging: &spec.Logging{Options: map[string]string{"max-size": "big"}}},
		"log max-file":   {Logging: &spec.Logging{Options: map[string]string{"max-size": "1m", "max-file": "0"}}},
		"unknown option": {Logging: &spec.Logging{Options: map[string]string{"labelz": "a"}}},
		"log compress":   {Logging: &spec.Logging{Options: map[string]string{"compress": "true"}}},
	} {
		t.Run(name, func(t *testing.T) {
			s.Name = "web"
			var c engine.ContainerConfig
			err := translateRuntime(p, &s, &c)
			if !errdefs.IsInvalidArgument(err) && !errdefs.IsNotImplemented(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}
