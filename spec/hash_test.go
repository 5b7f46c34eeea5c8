package spec

import (
	"net/netip"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/netmgr/portmap"
)

func baseService() Service {
	grace := 10 * time.Second
	return Service{
		Name:            "web",
		Image:           "nginx:1.27",
		Command:         []string{"nginx", "-g", "daemon off;"},
		Environment:     []string{"A=1", "B=2", "C=3"},
		Labels:          map[string]string{"x": "1", "y": "2"},
		Networks:        []ServiceNetwork{{Name: "back", Aliases: []string{"a", "b"}}, {Name: "front"}},
		Mounts:          []Mount{{Type: "volume", Source: "data", Target: "/data"}},
		ExtraHosts:      []string{"a=10.0.0.1", "b=10.0.0.2"},
		Scale:           1,
		StopGracePeriod: &grace,
		Healthcheck:     &Healthcheck{Test: []string{"CMD", "true"}, Interval: 30 * time.Second},
		Ports: []Port{
			{Mapping: portmap.Mapping{HostPort: 8080, ContainerPort: 80, Protocol: portmap.TCP}, Mode: "ingress"},
			{Mapping: portmap.Mapping{HostPort: 8443, ContainerPort: 443, Protocol: portmap.TCP}, Mode: "ingress"},
		},
		Expose:      []string{"3000", "4000"},
		CapAdd:      []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"},
		SecurityOpt: []string{"no-new-privileges:true", "label=disable"},
		Sysctls:     map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:     map[string]Ulimit{"nofile": {Soft: 1024, Hard: 2048}},
		Devices:     []string{"/dev/a:/dev/a:rwm", "/dev/b:/dev/b:r"},
		Tmpfs:       []string{"/run:size=64m", "/tmp"},
		DNS:         []string{"8.8.8.8", "1.1.1.1"},
		Logging:     &Logging{Driver: "json-file", Options: map[string]string{"max-size": "10m"}},
		Secrets: []FileRef{
			{Source: "a", Target: "/run/secrets/a"},
			{Source: "b", Target: "/run/secrets/b"},
		},
	}
}

func TestConfigHash(t *testing.T) {
	base := ConfigHash(baseService())
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(base) {
		t.Fatalf("ConfigHash = %q, want 64 hex digits", base)
	}
	// Pinned: if this changes, bump hashVersion, since every container
	// made before will be recreated.
	const pinned = "ca794ad1bba3d1b5aa593f9e14d156e500ce8819a9498aef39a7fb558f616d27"
	if base != pinned {
		t.Errorf("ConfigHash(baseService()) = %s, want %s: did hashInput change without a new hashVersion?", base, pinned)
	}
	tests := []struct {
		name   string
		change func(*Service)
		same   bool
	}{
		{name: "environment reordered", same: true, change: func(s *Service) { s.Environment = []string{"C=3", "A=1", "B=2"} }},
		{name: "labels rebuilt", same: true, change: func(s *Service) { s.Labels = map[string]string{"y": "2", "x": "1"} }},
		{name: "networks and aliases reordered", same: true, change: func(s *Service) {
			s.Networks = []ServiceNetwork{{Name: "front"}, {Name: "back", Aliases: []string{"b", "a"}}}
		}},
		{name: "extra hosts reordered", same: true, change: func(s *Service) { s.ExtraHosts = []string{"b=10.0.0.2", "a=10.0.0.1"} }},
		{name: "empty aliases rather than nil", same: true, change: func(s *Service) { s.Networks[1].Aliases = []string{} }},
		{name: "scale", same: true, change: func(s *Service) { s.Scale = 5 }},
		{name: "depends_on", same: true, change: func(s *Service) { s.DependsOn = []Dependency{{Service: "db", Condition: "service_started"}} }},
		{name: "profiles and pull_policy", same: true, change: func(s *Service) { s.Profiles = []string{"p"}; s.PullPolicy = "never" }},
		{name: "command", change: func(s *Service) { s.Command = []string{"nginx"} }},
		{name: "command cleared rather than the image's", change: func(s *Service) { s.Command = []string{} }},
		{name: "image", change: func(s *Service) { s.Image = "nginx:1.28" }},
		{name: "environment value", change: func(s *Service) { s.Environment = []string{"A=1", "B=2", "C=4"} }},
		{name: "label", change: func(s *Service) { s.Labels = map[string]string{"x": "1"} }},
		{name: "alias", change: func(s *Service) { s.Networks[0].Aliases = []string{"a"} }},
		{name: "mount read-only", change: func(s *Service) {
			s.Mounts = []Mount{{Type: "volume", Source: "data", Target: "/data", ReadOnly: true}}
		}},
		{name: "stop grace period", change: func(s *Service) { d := time.Second; s.StopGracePeriod = &d }},
		{name: "init", change: func(s *Service) { s.Init = true }},
		{name: "container name", change: func(s *Service) { s.ContainerName = "web" }},

		{name: "ports reordered", same: true, change: func(s *Service) {
			s.Ports = []Port{s.Ports[1], s.Ports[0]}
		}},
		{name: "capabilities reordered and in other spellings", same: true, change: func(s *Service) {
			s.CapAdd = []string{"sys_time", "CAP_NET_ADMIN"}
		}},
		{name: "expose, tmpfs, devices and security_opt reordered", same: true, change: func(s *Service) {
			slices.Reverse(s.Expose)
			slices.Reverse(s.Tmpfs)
			slices.Reverse(s.Devices)
			slices.Reverse(s.SecurityOpt)
		}},
		{name: "secrets reordered", same: true, change: func(s *Service) {
			s.Secrets = []FileRef{s.Secrets[1], s.Secrets[0]}
		}},
		{name: "sysctls and ulimits rebuilt", same: true, change: func(s *Service) {
			s.Sysctls = map[string]string{"net.core.somaxconn": "1024"}
			s.Ulimits = map[string]Ulimit{"nofile": {Soft: 1024, Hard: 2048}}
		}},
		{name: "healthcheck interval", change: func(s *Service) { s.Healthcheck.Interval = time.Minute }},
		{name: "healthcheck removed", change: func(s *Service) { s.Healthcheck = nil }},
		{name: "published port", change: func(s *Service) { s.Ports[0].HostPort = 8081 }},
		{name: "published port range", change: func(s *Service) { s.Ports[0].HostPortEnd = 8090 }},
		{name: "port host IP", change: func(s *Service) { s.Ports[0].HostIP = netip.MustParseAddr("127.0.0.1") }},
		{name: "port protocol", change: func(s *Service) { s.Ports[0].Protocol = portmap.UDP }},
		{name: "capability added", change: func(s *Service) { s.CapAdd = append(s.CapAdd, "CAP_SYS_ADMIN") }},
		{name: "ulimit", change: func(s *Service) { s.Ulimits = map[string]Ulimit{"nofile": {Soft: 1024, Hard: 4096}} }},
		{name: "memory limit", change: func(s *Service) { s.MemLimit = 256 << 20 }},
		{name: "cpus", change: func(s *Service) { s.CPUs = 0.5 }},
		{name: "tmpfs options", change: func(s *Service) { s.Tmpfs[0] = "/run:size=128m" }},
		{name: "logging option", change: func(s *Service) { s.Logging.Options["max-size"] = "20m" }},
		{name: "dns order", change: func(s *Service) { s.DNS = []string{"1.1.1.1", "8.8.8.8"} }},
		{name: "privileged", change: func(s *Service) { s.Privileged = true }},
		{name: "secret target", change: func(s *Service) { s.Secrets[0].Target = "/run/secrets/other" }},
		{name: "secret mode", change: func(s *Service) { s.Secrets[0].Mode = mode(0o400) }},
		{name: "network priority", change: func(s *Service) { s.Networks[1].Priority = 10 }},
		{name: "post_start hook", change: func(s *Service) { s.PostStart = []Hook{{Command: []string{"touch", "/ready"}}} }},
		{name: "pre_stop hook", change: func(s *Service) { s.PreStop = []Hook{{Command: []string{"sync"}, User: "root"}} }},
		{name: "mount subpath", change: func(s *Service) { s.Mounts[0].Subpath = "sub" }},
		{name: "tmpfs mount size", change: func(s *Service) {
			s.Mounts = append(s.Mounts, Mount{Type: "tmpfs", Target: "/scratch", TmpfsSize: 1 << 20})
		}},
	}
	t.Run("empty rather than nil", func(t *testing.T) {
		a := Service{Name: "a", Image: "x"}
		b := Service{
			Name: "a", Image: "x", Labels: map[string]string{}, Environment: []string{}, ExtraHosts: []string{}, Mounts: []Mount{},
			Ports: []Port{}, Expose: []string{}, CapAdd: []string{}, Sysctls: map[string]string{}, Ulimits: map[string]Ulimit{},
			Tmpfs: []string{}, DNS: []string{}, Secrets: []FileRef{}, Healthcheck: &Healthcheck{},
			Logging: &Logging{Driver: "", Options: map[string]string{}},
		}
		if ConfigHash(a) != ConfigHash(b) {
			t.Error("empty slices and maps hash differently from nil ones")
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := baseService()
			tc.change(&s)
			if got := ConfigHash(s); (got == base) != tc.same {
				t.Errorf("ConfigHash changed = %v, want %v", got != base, !tc.same)
			}
		})
	}
}

// TestConfigHashFromFiles checks that spellings Compose treats alike hash
// alike once loaded, and that what only changes the number of containers
// does not change the hash.
func TestConfigHashFromFiles(t *testing.T) {
	const header = "services:\n  web:\n    image: web\n"
	tests := []struct {
		name string
		a, b string // appended to header
		same bool
	}{
		{name: "scale", same: true, a: "    scale: 1\n", b: "    scale: 3\n"},
		{name: "develop", same: true, a: "", b: "    develop: {watch: [{path: ./src, action: sync, target: /app}]}\n"},
		{name: "deploy.replicas", same: true, a: "    deploy: {replicas: 1}\n", b: "    deploy: {replicas: 4}\n"},
		{name: "port short and long syntax", same: true,
			a: "    ports: [\"8080:80\"]\n",
			b: "    ports: [{target: 80, published: \"8080\", protocol: tcp, mode: ingress}]\n"},
		{name: "port range and its ports", same: true,
			a: "    ports: [\"8000-8001:80-81\"]\n",
			b: "    ports: [\"8001:81\", \"8000:80\"]\n"},
		{name: "healthcheck NONE and disable", same: true,
			a: "    healthcheck: {test: [NONE]}\n",
			b: "    healthcheck: {disable: true}\n"},
		{name: "healthcheck string and CMD-SHELL", same: true,
			a: "    healthcheck: {test: \"curl -f localhost\"}\n",
			b: "    healthcheck: {test: [CMD-SHELL, \"curl -f localhost\"]}\n"},
		{name: "capability spellings", same: true,
			a: "    cap_add: [net_admin, SYS_TIME]\n",
			b: "    cap_add: [CAP_SYS_TIME, CAP_NET_ADMIN]\n"},
		{name: "ulimit single value and soft=hard", same: true,
			a: "    ulimits: {nofile: 1024}\n",
			b: "    ulimits: {nofile: {soft: 1024, hard: 1024}}\n"},
		{name: "mem_limit in bytes and deploy limit with a unit", same: true,
			a: "    mem_limit: 268435456\n",
			b: "    deploy: {resources: {limits: {memory: 256M}}}\n"},
		{name: "device short and full", same: true,
			a: "    devices: [/dev/fuse]\n",
			b: "    devices: [\"/dev/fuse:/dev/fuse:rwm\"]\n"},
		{name: "secret default target", same: true,
			a: "    secrets: [s]\nsecrets: {s: {file: ./s.txt}}\n",
			b: "    secrets: [{source: s, target: /run/secrets/s}]\nsecrets: {s: {file: ./s.txt}}\n"},
		{name: "mem_limit", a: "    mem_limit: 256m\n", b: "    mem_limit: 512m\n"},
		{name: "published port", a: "    ports: [\"8080:80\"]\n", b: "    ports: [\"8081:80\"]\n"},
		{name: "healthcheck interval", a: "    healthcheck: {interval: 10s}\n", b: "    healthcheck: {interval: 20s}\n"},
		{name: "tmpfs option", a: "    tmpfs: [\"/run:size=64m\"]\n", b: "    tmpfs: [\"/run:size=65m\"]\n"},
		{name: "cap_drop", a: "    cap_drop: [NET_RAW]\n", b: "    cap_drop: [ALL]\n"},
		{name: "inline config content",
			a: "    configs: [c]\nconfigs: {c: {content: \"a=1\"}}\n",
			b: "    configs: [c]\nconfigs: {c: {content: \"a=2\"}}\n"},
	}
	hash := func(t *testing.T, body string) string {
		t.Helper()
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", header+body)
		return ConfigHash(service(t, mustLoad(t, LoadOptions{WorkingDir: dir}), "web"))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if same := hash(t, tc.a) == hash(t, tc.b); same != tc.same {
				t.Errorf("same hash = %v, want %v for\n%s---\n%s", same, tc.same, tc.a, tc.b)
			}
		})
	}
}

// TestConfigHashFollowsFileContent: berth copies a config or secret into a
// container when it starts, so a new content of its file is a new hash.
func TestConfigHashFollowsFileContent(t *testing.T) {
	hash := func(content string) string {
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    secrets: [s]\nsecrets: {s: {file: ./s.txt}}\n")
		writeFile(t, dir+"/s.txt", content)
		return ConfigHash(service(t, mustLoad(t, LoadOptions{WorkingDir: dir}), "web"))
	}
	if hash("one") == hash("two") {
		t.Error("a secret's new file content leaves the service's hash as it was")
	}
	if hash("one") != hash("one") {
		t.Error("the same content in another directory hashes differently")
	}
}

// TestConfigHashOfPortsPinned pins the hash of services that publish ports
// in every spelling berth accepts: the model of a port may change, but a
// service whose file did not change must keep its hash (and its containers)
// across an upgrade.
func TestConfigHashOfPortsPinned(t *testing.T) {
	p, _ := loadFields(t, "ports.yaml")
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", `services:
  v6:
    image: web
    ports: ["[fd00::1]:8080:80/udp", "[::]::81", "0.0.0.0:82:82"]
  span:
    image: web
    ports:
      - {target: 80, published: "8080-8080"}
      - {target: 81, published: 9000, protocol: UDP, host_ip: 127.0.0.1}
`)
	q := mustLoad(t, LoadOptions{WorkingDir: dir})
	for _, tc := range []struct {
		p    *Project
		name string
		want string
	}{
		{p, "short", "e4a9d39b98e4f9ac32d97492a163d1214ece6753b38a135108076ca12c99d72a"},
		// long also sets expose, normalised to PORT/PROTO since berth runs
		// it; no container had it before, as it was refused.
		{p, "long", "094bdfc64db600e8e4d777d1b21ea48a87fb8e05b39472b021713b028dcdb622"},
		{q, "v6", "8a3388bb630dfc64df45c40c272debff95ae7d5f25c604f1d82d037fee7582d6"},
		{q, "span", "9343a306cb820f187f098bd477128792f706ef89c892eb64d9ff28a4835abd4b"},
	} {
		if got := ConfigHash(service(t, tc.p, tc.name)); got != tc.want {
			t.Errorf("ConfigHash(%s) = %s, want %s", tc.name, got, tc.want)
		}
	}
}
