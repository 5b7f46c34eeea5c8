package dockerapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/netmgr/portmap"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var (
	created = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	started = created.Add(2 * time.Second)
	id      = engine.ContainerID("3f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d")
)

// webContainer is a running Compose service: image command, a published
// port, a named volume, a bind, a healthcheck, one network.
func webContainer() *engine.Container {
	return &engine.Container{
		ID:      id,
		ImageID: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		Created: created,
		Config: engine.ContainerConfig{
			Name:   "demo-web-1",
			Image:  "docker.io/library/nginx:latest",
			Labels: map[string]string{"com.docker.compose.project": "demo", "com.docker.compose.service": "web"},
			Env:    []string{"PATH=/custom", "MODE=dev"},
			Mounts: []engine.Mount{
				{Type: "volume", Source: "demo_data", Target: "/data"},
				{Type: "bind", Source: "/srv/conf", Target: "/etc/nginx/conf.d", ReadOnly: true},
			},
			Networks:  []engine.EndpointConfig{{Network: "demo_default", Aliases: []string{"web"}}},
			Ports:     []netmgr.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18080, ContainerPort: 80, Protocol: portmap.TCP}},
			Restart:   engine.RestartPolicy{Name: "unless-stopped"},
			Resources: engine.Resources{MemLimit: 64 << 20, CPUs: 0.5},
		},
		State: engine.State{
			Status: engine.StatusRunning, Pid: 4242, StartedAt: started,
			Health: &engine.Health{Status: engine.HealthHealthy},
		},
		Networks: []engine.NetworkStatus{{
			Network: "demo_default", Address: netip.MustParseAddr("172.30.0.2"), MAC: "02:42:ac:1e:00:02",
			Ports: []netmgr.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18080, ContainerPort: 80, Protocol: "tcp"}},
		}},
		ImageConfig: image.Config{
			Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"},
			Env: []string{"PATH=/usr/bin", "NGINX_VERSION=1.27"}, ExposedPorts: []string{"80/tcp"},
			Labels: map[string]string{"maintainer": "nginx"},
		},
		StopSignal: "SIGQUIT",
	}
}

func demoNetwork() *netmgr.Network {
	return &netmgr.Network{
		ID: "7d1e" + string(bytes.Repeat([]byte("0"), 60)), Name: "demo_default", Bridge: "berth7d1e000000",
		Subnet: netip.MustParsePrefix("172.30.0.0/16"), Gateway: netip.MustParseAddr("172.30.0.1"),
		Labels: map[string]string{"com.docker.compose.project": "demo"}, Created: created,
		Endpoints: map[string]netmgr.Endpoint{string(id): {
			Sandbox: string(id), IfName: "eth0", Addr: netip.MustParseAddr("172.30.0.2"), MAC: "02:42:ac:1e:00:02",
			Names: []string{"demo-web-1", "3f1c0d2e9a8b", "web"},
		}},
	}
}

func objects() Objects {
	return Objects{
		Networks: map[string]*netmgr.Network{"demo_default": demoNetwork()},
		Volumes:  map[string]*engine.Volume{"demo_data": {Name: "demo_data", Driver: "local", Mountpoint: "/var/lib/berth/volumes/demo_data/_data"}},
	}
}

func TestGolden(t *testing.T) {
	now := started.Add(3 * time.Hour)
	img := &image.Image{
		ID: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Digest: "sha256:cccc",
		RepoTags: []string{"docker.io/library/busybox:latest"}, RepoDigests: []string{"docker.io/library/busybox@sha256:cccc"},
		Created: created, OS: "linux", Architecture: "amd64", Size: 2155000,
		Config:  image.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}},
		DiffIDs: []string{"sha256:dddd"},
	}
	tests := []struct {
		name string
		doc  any
	}{
		{"container_inspect", ContainerInspect(webContainer(), objects())},
		{"container_summary", ContainerSummary(webContainer(), objects(), now)},
		{"image_inspect", ImageInspect(img)},
		{"image_summary", ImageSummary(img, 1)},
		{"network_inspect", NetworkInspect(demoNetwork())},
		{"volume", Volume(objects().Volumes["demo_data"])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.doc, "", "    ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			testutil.Golden(t, filepath.Join("testdata", tc.name+".json"), got, *update)
		})
	}
}

// TestContainerInspect states what the golden file shows, field by field,
// so a careless -update cannot bless a regression.
func TestContainerInspect(t *testing.T) {
	got := ContainerInspect(webContainer(), objects())
	if got.Name != "/demo-web-1" || got.ID != string(id) || got.Created != "2025-03-01T12:00:00.123456789Z" {
		t.Errorf("Name %q ID %q Created %q", got.Name, got.ID, got.Created)
	}
	if s := got.State; s.Pid != 4242 || !s.Running || s.Status != "running" || s.StartedAt != "2025-03-01T12:00:02.123456789Z" ||
		s.FinishedAt != zeroTime || s.Health == nil || s.Health.Status != "healthy" {
		t.Errorf("State = %+v", s)
	}
	if got.Path != "/docker-entrypoint.sh" || len(got.Args) != 3 || got.Args[2] != "daemon off;" {
		t.Errorf("Path %q Args %q: want the image's entrypoint and command", got.Path, got.Args)
	}
	c := got.Config
	if c.Image != "nginx:latest" || c.Hostname != "3f1c0d2e9a8b" || c.StopSignal != "SIGQUIT" || c.Labels["maintainer"] != "nginx" || c.Labels["com.docker.compose.service"] != "web" {
		t.Errorf("Config = %+v", c)
	}
	if want := []string{"PATH=/custom", "NGINX_VERSION=1.27", "MODE=dev"}; len(c.Env) != 3 || c.Env[0] != want[0] || c.Env[1] != want[1] || c.Env[2] != want[2] {
		t.Errorf("Env = %q, want %q", c.Env, want)
	}
	hc := got.HostConfig
	if hc.RestartPolicy.Name != "unless-stopped" || hc.NetworkMode != "demo_default" || hc.Memory != 64<<20 || hc.NanoCPUs != 5e8 ||
		len(hc.Binds) != 1 || hc.Binds[0] != "/srv/conf:/etc/nginx/conf.d:ro" {
		t.Errorf("HostConfig = %+v", hc)
	}
	p80 := network.MustParsePort("80/tcp")
	if b := hc.PortBindings[p80]; len(b) != 1 || b[0].HostPort != "18080" || b[0].HostIP.String() != "127.0.0.1" {
		t.Errorf("PortBindings = %v", hc.PortBindings)
	}
	ns := got.NetworkSettings
	if b := ns.Ports[p80]; len(b) != 1 || b[0].HostPort != "18080" {
		t.Errorf("NetworkSettings.Ports = %v", ns.Ports)
	}
	ep := ns.Networks["demo_default"]
	if ep == nil || ep.IPAddress.String() != "172.30.0.2" || ep.Gateway.String() != "172.30.0.1" || ep.IPPrefixLen != 16 ||
		ep.MacAddress.String() != "02:42:ac:1e:00:02" || len(ep.Aliases) != 1 || ep.NetworkID != demoNetwork().ID {
		t.Errorf("Networks[demo_default] = %+v", ep)
	}
	if len(got.Mounts) != 2 || got.Mounts[0].Name != "demo_data" || got.Mounts[0].Source != "/var/lib/berth/volumes/demo_data/_data" || got.Mounts[1].RW {
		t.Errorf("Mounts = %+v", got.Mounts)
	}
}

func TestStoppedContainer(t *testing.T) {
	c := webContainer()
	c.State = engine.State{Status: engine.StatusExited, ExitCode: 137, StartedAt: started, FinishedAt: started.Add(time.Minute)}
	c.Networks = nil
	got := ContainerInspect(c, objects())
	if got.State.Running || got.State.ExitCode != 137 || got.State.Pid != 0 || got.State.FinishedAt == zeroTime {
		t.Errorf("State = %+v", got.State)
	}
	if len(got.NetworkSettings.Ports) != 0 || got.NetworkSettings.Networks["demo_default"].IPAddress.IsValid() {
		t.Errorf("a stopped container has no ports or addresses: %+v", got.NetworkSettings)
	}
	s := ContainerSummary(c, objects(), started.Add(time.Minute+2*time.Hour))
	if s.Status != "Exited (137) 2 hours ago" || len(s.Ports) != 0 || s.Command != "/docker-entrypoint.sh nginx -g 'daemon off;'" {
		t.Errorf("Summary Status %q Ports %v Command %q", s.Status, s.Ports, s.Command)
	}
}

func TestStatus(t *testing.T) {
	now := started.Add(90 * time.Second)
	tests := []struct {
		name string
		st   engine.State
		want string
	}{
		{"running", engine.State{Status: engine.StatusRunning, StartedAt: started}, "Up About a minute"},
		{"healthy", engine.State{Status: engine.StatusRunning, StartedAt: started, Health: &engine.Health{Status: "starting"}}, "Up About a minute (starting)"},
		{"paused", engine.State{Status: engine.StatusPaused, StartedAt: started}, "Up About a minute (Paused)"},
		{"exited", engine.State{Status: engine.StatusExited, ExitCode: 1, FinishedAt: started}, "Exited (1) About a minute ago"},
		{"created", engine.State{Status: engine.StatusCreated}, "Created"},
		{"dead", engine.State{Status: engine.StatusDead}, "Dead"},
		{"restarting", engine.State{Status: engine.StatusRestarting, ExitCode: 2, FinishedAt: now.Add(-3 * time.Second)}, "Restarting (2) 3 seconds ago"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Status(tc.st, now); got != tc.want {
				t.Errorf("Status = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHostAndNoneNetworks(t *testing.T) {
	c := webContainer()
	c.Config.NetworkMode, c.Config.Networks, c.Networks = "host", nil, nil
	got := ContainerInspect(c, Objects{})
	if got.HostConfig.NetworkMode != "host" || len(got.NetworkSettings.Networks) != 1 || got.NetworkSettings.Networks["host"] == nil {
		t.Errorf("host network: mode %q networks %v", got.HostConfig.NetworkMode, got.NetworkSettings.Networks)
	}
}

func TestNetworkAndVolume(t *testing.T) {
	n := NetworkInspect(demoNetwork())
	if n.Driver != "bridge" || n.Options[netmgr.OptBridgeName] != "berth7d1e000000" || len(n.IPAM.Config) != 1 ||
		n.IPAM.Config[0].Subnet.String() != "172.30.0.0/16" || n.Containers[string(id)].Name != "demo-web-1" ||
		n.Containers[string(id)].IPv4Address.String() != "172.30.0.2/16" {
		t.Errorf("NetworkInspect = %+v", n)
	}
	v := Volume(&engine.Volume{Name: "x"})
	if v.Driver != "local" || v.Scope != "local" || v.Labels == nil || v.Options == nil || v.CreatedAt != "" {
		t.Errorf("Volume = %+v", v)
	}
}
