package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/spec"
)

func loadRunTestProject(t *testing.T) *spec.Project {
	t.Helper()
	dir := t.TempDir()
	yaml := `name: p
services:
  web:
    image: busybox
    ports: ["8080:80"]
    networks:
      front:
        aliases: [www]
    volumes: [data:/data]
volumes:
  data: {}
networks:
  front: {}
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(t.Context(), spec.LoadOptions{WorkingDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOneOffConfig: a one-off container of `run` publishes the service's
// ports only with --service-ports, has -p's own, answers to the service's
// aliases only with --use-aliases, and -v names the project's volumes by key.
func TestOneOffConfig(t *testing.T) {
	p := loadRunTestProject(t)
	s, _ := p.Service("web")
	tests := []struct {
		name    string
		o       runOptions
		ports   []netmgr.PortMapping
		aliases []string
		mounts  []string // source:target
	}{
		{name: "defaults", o: runOptions{}, mounts: []string{"p_data:/data"}},
		{name: "service ports", o: runOptions{servicePorts: true},
			ports:  []netmgr.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
			mounts: []string{"p_data:/data"}},
		{name: "publish", o: runOptions{publish: []string{"127.0.0.1:9000-9001:90-91/udp"}},
			ports: []netmgr.PortMapping{
				{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 9000, ContainerPort: 90, Protocol: "udp"},
				{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 9001, ContainerPort: 91, Protocol: "udp"},
			},
			mounts: []string{"p_data:/data"}},
		{name: "aliases", o: runOptions{useAliases: true}, aliases: []string{"web", "www"}, mounts: []string{"p_data:/data"}},
		{name: "volume flag replaces the target's mount", o: runOptions{volumes: []string{"data:/data", "data:/copy", "/tmp:/host:ro"}},
			mounts: []string{"p_data:/data", "p_data:/copy", "/tmp:/host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := oneOffConfig(p, &s, tt.o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Ports, tt.ports) {
				t.Errorf("ports %+v, want %+v", cfg.Ports, tt.ports)
			}
			if len(cfg.Networks) != 1 || !slices.Equal(cfg.Networks[0].Aliases, tt.aliases) {
				t.Errorf("networks %+v, want aliases %v", cfg.Networks, tt.aliases)
			}
			var mounts []string
			for _, m := range cfg.Mounts {
				mounts = append(mounts, m.Source+":"+m.Target)
			}
			if !slices.Equal(mounts, tt.mounts) {
				t.Errorf("mounts %v, want %v", mounts, tt.mounts)
			}
			if cfg.Restart.Name != "" || cfg.Labels[spec.LabelOneOff] != spec.LabelTrue {
				t.Errorf("restart %+v, oneoff label %q", cfg.Restart, cfg.Labels[spec.LabelOneOff])
			}
		})
	}
}

func TestOneOffConfigBadPublish(t *testing.T) {
	p := loadRunTestProject(t)
	s, _ := p.Service("web")
	_, err := oneOffConfig(p, &s, runOptions{publish: []string{"80:80:80:80"}}, nil)
	if err == nil || !strings.Contains(oneLine(err), `-p "80:80:80:80"`) {
		t.Fatalf("error %v: want one naming -p and the value", err)
	}
}
