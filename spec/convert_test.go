package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// loadFields loads testdata/fields/<file> as the only Compose file, with an
// environment the secrets and configs read from.
func loadFields(t *testing.T, file string) (*Project, string) {
	t.Helper()
	dir := copyCase(t, "fields")
	p := mustLoad(t, LoadOptions{
		WorkingDir:  dir,
		ConfigFiles: []string{file},
		Environ:     []string{"TOKEN=s3cr3t", "PORT=80", "APP_CONFIG=x=1"},
	})
	return p, dir
}

// resources gathers a service's resource fields for comparison.
type resources struct {
	ShmSize, MemLimit, MemReservation, MemSwapLimit int64
	CPUs                                            float64
	CPUShares, PidsLimit                            int64
	OomScoreAdj                                     int
	Ulimits                                         map[string]Ulimit
}

func resourcesOf(s Service) resources {
	return resources{
		ShmSize: s.ShmSize, MemLimit: s.MemLimit, MemReservation: s.MemReservation, MemSwapLimit: s.MemSwapLimit,
		CPUs: s.CPUs, CPUShares: s.CPUShares, PidsLimit: s.PidsLimit, OomScoreAdj: s.OomScoreAdj, Ulimits: s.Ulimits,
	}
}

const (
	kib = 1024
	mib = 1024 * kib
	gib = 1024 * mib
)

func mode(m uint32) *uint32 { return &m }

func TestLoadServiceFields(t *testing.T) {
	tests := []struct {
		name    string
		file    string                           // in testdata/fields
		get     func(p *Project, dir string) any // the part of the model under test
		want    func(dir string) any             // nil: want is wantVal
		wantVal any
	}{
		// ports and expose
		{
			name: "ports, short syntax with ranges expanded", file: "ports.yaml",
			get: func(p *Project, _ string) any { return service(t, p, "short").Ports },
			wantVal: []Port{
				{Target: 80, Published: "8080", Protocol: "tcp", Mode: "ingress"},
				{Target: 443, Published: "8443", HostIP: "127.0.0.1", Protocol: "udp", Mode: "ingress"},
				{Target: 90, Published: "9000", Protocol: "tcp", Mode: "ingress"},
				{Target: 91, Published: "9001", Protocol: "tcp", Mode: "ingress"},
				{Target: 70, Published: "7000-7010", Protocol: "tcp", Mode: "ingress"},
				{Target: 3000, Protocol: "tcp", Mode: "ingress"},
				{Target: 81, HostIP: "127.0.0.1", Protocol: "tcp", Mode: "ingress"},
			},
		},
		{
			name: "ports, long syntax", file: "ports.yaml",
			get: func(p *Project, _ string) any { return service(t, p, "long").Ports },
			wantVal: []Port{
				{Target: 82, Published: "8082", HostIP: "10.0.0.1", Protocol: "udp", Mode: "host"},
				{Target: 83, Published: "8083-8085", Protocol: "tcp", Mode: "ingress"},
				{Target: 84, Protocol: "tcp", Mode: "ingress"},
			},
		},
		{
			name: "expose, one PORT/PROTO per port", file: "ports.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "long").Expose },
			wantVal: []string{"3000/tcp", "4000/udp", "4001/udp"},
		},

		// healthcheck
		{
			name: "healthcheck, a string is CMD-SHELL, every duration", file: "healthcheck.yaml",
			get: func(p *Project, _ string) any { return service(t, p, "shell").Healthcheck },
			wantVal: &Healthcheck{
				Test:     []string{"CMD-SHELL", "curl -f http://localhost/"},
				Interval: 90 * time.Second, Timeout: 10 * time.Second, StartPeriod: 40 * time.Second, StartInterval: 5 * time.Second,
				Retries: 3,
			},
		},
		{
			name: "healthcheck, CMD list", file: "healthcheck.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "exec").Healthcheck },
			wantVal: &Healthcheck{Test: []string{"CMD", "pg_isready", "-U", "app"}, Interval: 500 * time.Millisecond},
		},
		{
			name: "healthcheck, NONE disables", file: "healthcheck.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "none").Healthcheck },
			wantVal: &Healthcheck{Test: []string{"NONE"}, Disable: true},
		},
		{
			name: "healthcheck, disable gives the NONE test", file: "healthcheck.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "disabled").Healthcheck },
			wantVal: &Healthcheck{Test: []string{"NONE"}, Disable: true, Interval: 10 * time.Second},
		},
		{
			name: "healthcheck, timing only keeps the image's test", file: "healthcheck.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "timing").Healthcheck },
			wantVal: &Healthcheck{Interval: 2 * time.Minute},
		},
		{
			name: "healthcheck, none written", file: "healthcheck.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "image").Healthcheck },
			wantVal: (*Healthcheck)(nil),
		},

		// resources
		{
			name: "resources, top-level keys and ulimits", file: "resources.yaml",
			get: func(p *Project, _ string) any { return resourcesOf(service(t, p, "top")) },
			wantVal: resources{
				ShmSize: 64 * mib, MemLimit: 512 * mib, MemReservation: 128 * mib, MemSwapLimit: 1 * gib,
				CPUs: 1.5, CPUShares: 512, PidsLimit: 100, OomScoreAdj: -500,
				Ulimits: map[string]Ulimit{"nproc": {Soft: 65535, Hard: 65535}, "nofile": {Soft: 20000, Hard: 40000}},
			},
		},
		{
			name: "resources, deploy.resources folded in, cpus reservation ignored", file: "resources.yaml",
			get:     func(p *Project, _ string) any { return resourcesOf(service(t, p, "deploy")) },
			wantVal: resources{MemLimit: 256 * mib, MemReservation: 64 * mib, CPUs: 0.1, PidsLimit: 50},
		},
		{
			name: "resources, the same value at the top and in deploy", file: "resources.yaml",
			get:     func(p *Project, _ string) any { return resourcesOf(service(t, p, "both")) },
			wantVal: resources{MemLimit: 1 * gib, CPUs: 0.5},
		},

		// container settings
		{
			name: "flags and names", file: "container.yaml",
			get: func(p *Project, _ string) any {
				s := service(t, p, "web")
				return []any{s.Tty, s.StdinOpen, s.ReadOnly, s.Privileged, s.Domainname, s.MacAddress, s.Pid, s.Ipc, s.NetworkMode}
			},
			wantVal: []any{true, true, true, true, "example.org", "02:42:ac:11:00:02", "host", "shareable", ""},
		},
		{
			name: "network_mode", file: "container.yaml",
			get:     func(p *Project, _ string) any { s := service(t, p, "db"); return []any{s.NetworkMode, s.Networks} },
			wantVal: []any{"host", []ServiceNetwork(nil)},
		},
		{
			name: "capabilities upper case, CAP_ prefixed, sorted, deduplicated", file: "container.yaml",
			get:     func(p *Project, _ string) any { s := service(t, p, "web"); return [][]string{s.CapAdd, s.CapDrop} },
			wantVal: [][]string{{"CAP_NET_ADMIN", "CAP_SYS_TIME"}, {"ALL"}},
		},
		{
			name: "group_add and security_opt as written", file: "container.yaml",
			get: func(p *Project, _ string) any {
				s := service(t, p, "web")
				return [][]string{s.GroupAdd, s.SecurityOpt}
			},
			wantVal: [][]string{{"audio", "1001"}, {"no-new-privileges:true", "label=disable"}},
		},
		{
			name: "sysctls, list syntax", file: "container.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "web").Sysctls },
			wantVal: map[string]string{"net.core.somaxconn": "1024", "net.ipv4.tcp_syncookies": "0"},
		},
		{
			name: "sysctls, mapping syntax", file: "container.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "db").Sysctls },
			wantVal: map[string]string{"net.core.somaxconn": "2048"},
		},
		{
			name: "devices completed, CDI name alone", file: "container.yaml",
			get: func(p *Project, _ string) any { return service(t, p, "web").Devices },
			wantVal: []string{
				"/dev/ttyUSB0:/dev/ttyUSB0:rwm",
				"/dev/sda:/dev/xvda:rwm",
				"/dev/snd:/dev/snd:r",
				"vendor.com/gpu=all",
				"/dev/sdb:/dev/xvdb:rwm",
			},
		},
		{
			name: "tmpfs key with options as written", file: "container.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "web").Tmpfs },
			wantVal: []string{"/run:size=64m,mode=1777", "/tmp"},
		},
		{
			name: "tmpfs key as a string", file: "container.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "db").Tmpfs },
			wantVal: []string{"/run"},
		},
		{
			name: "dns as a string, search and options in order", file: "container.yaml",
			get: func(p *Project, _ string) any {
				s := service(t, p, "web")
				return [][]string{s.DNS, s.DNSSearch, s.DNSOpt}
			},
			wantVal: [][]string{{"8.8.8.8"}, {"example.org", "example.com"}, {"ndots:2", "use-vc"}},
		},
		{
			name: "logging", file: "container.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "web").Logging },
			wantVal: &Logging{Driver: "json-file", Options: map[string]string{"max-size": "10m", "max-file": "3"}},
		},
		{
			name: "volumes_from as written", file: "container.yaml",
			get:     func(p *Project, _ string) any { return service(t, p, "web").VolumesFrom },
			wantVal: []string{"db:ro", "container:legacy"},
		},
		{
			name: "restart", file: "container.yaml",
			get: func(p *Project, _ string) any {
				var out []string
				for _, name := range []string{"web", "db", "deploy-on-failure", "deploy-any", "deploy-none"} {
					out = append(out, service(t, p, name).Restart)
				}
				return out
			},
			wantVal: []string{"on-failure:3", "unless-stopped", "on-failure:5", "always", "no"},
		},

		// mounts
		{
			name: "mounts", file: "mounts.yaml",
			get: func(p *Project, _ string) any { return service(t, p, "web").Mounts },
			want: func(dir string) any {
				return []Mount{
					{Type: "volume", Source: "data", Target: "/data", NoCopy: true, Subpath: "sub/dir"},
					{Type: "bind", Source: filepath.Join(dir, "conf"), Target: "/conf", Propagation: "rshared", CreateHostPath: true},
					{Type: "bind", Source: filepath.Join(dir, "strict"), Target: "/strict"},
					{Type: "bind", Source: filepath.Join(dir, "long"), Target: "/long"},
					{Type: "bind", Source: filepath.Join(dir, "short"), Target: "/short", ReadOnly: true, CreateHostPath: true},
					{Type: "tmpfs", Target: "/scratch", TmpfsSize: 64 * mib, TmpfsMode: 0o1777},
				}
			},
		},

		// networks and volumes
		{
			name: "service networks", file: "networks.yaml",
			get: func(p *Project, _ string) any { return service(t, p, "web").Networks },
			wantVal: []ServiceNetwork{
				{Name: "back"},
				{Name: "front", IPv4Address: "172.28.5.10", IPv6Address: "2001:db8::10", MacAddress: "02:42:ac:11:00:02", Priority: 100, GwPriority: 1},
			},
		},
		{
			name: "project networks", file: "networks.yaml",
			get: func(p *Project, _ string) any { return p.Networks },
			wantVal: []Network{
				{Key: "back", Name: "fields_back"},
				{
					Key: "front", Name: "fields_front", Driver: "bridge",
					DriverOpts: map[string]string{"com.docker.network.bridge.name": "br-front"},
					Subnets: []IPAMConfig{
						{Subnet: "172.28.0.0/16", IPRange: "172.28.5.0/24", Gateway: "172.28.5.254"},
						{Subnet: "2001:db8::/64"},
					},
					EnableIPv6: true, Attachable: true,
				},
			},
		},
		{
			name: "project volumes", file: "networks.yaml",
			get:     func(p *Project, _ string) any { return p.Volumes },
			wantVal: []Volume{{Key: "data", Name: "fields_data", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=100m"}}},
		},

		// secrets and configs
		{
			name: "service secrets, targets resolved", file: "files.yaml",
			get: func(p *Project, _ string) any { return service(t, p, "web").Secrets },
			want: func(dir string) any {
				return []FileRef{
					{Source: "token", Target: "/run/secrets/token", Digest: fileDigest(t, filepath.Join(dir, "token.txt"))},
					{Source: "env_token", Target: "/run/secrets/api-token", UID: "1000", GID: "1000", Mode: mode(0o440), Digest: digest("s3cr3t")},
					{Source: "ext", Target: "/etc/ext"}, // external: no digest
				}
			},
		},
		{
			name: "service configs, targets resolved", file: "files.yaml",
			get: func(p *Project, _ string) any { return service(t, p, "web").Configs },
			want: func(dir string) any {
				return []FileRef{
					{Source: "app", Target: "/app", Digest: fileDigest(t, filepath.Join(dir, "app.conf"))},
					{Source: "inline", Target: "/etc/inline.conf", Mode: mode(0o444), Digest: digest("port=80\n")},
					{Source: "from_env", Target: "/env.conf", Digest: digest("x=1")},
				}
			},
		},
		{
			name: "project secrets from a file and the environment, unused left out", file: "files.yaml",
			get: func(p *Project, _ string) any { return p.Secrets },
			want: func(dir string) any {
				return []FileObject{
					{Key: "env_token", Name: "fields_env_token", Environment: "TOKEN", Content: "s3cr3t"},
					{Key: "ext", Name: "ext", External: true},
					{Key: "token", Name: "fields_token", File: filepath.Join(dir, "token.txt")},
				}
			},
		},
		{
			name: "project configs from a file, content and the environment", file: "files.yaml",
			get: func(p *Project, _ string) any { return p.Configs },
			want: func(dir string) any {
				return []FileObject{
					{Key: "app", Name: "fields_app", File: filepath.Join(dir, "app.conf")},
					{Key: "from_env", Name: "fields_from_env", Environment: "APP_CONFIG", Content: "x=1"},
					{Key: "inline", Name: "fields_inline", Content: "port=80\n"},
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, dir := loadFields(t, tc.file)
			want := tc.wantVal
			if tc.want != nil {
				want = tc.want(dir)
			}
			if got := tc.get(p, dir); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
		})
	}
}

// TestNewFieldsStayUnsupported checks that carrying a field in the model
// does not make CheckSupported accept it: the allowlist grows only when the
// engine runs the field.
func TestNewFieldsStayUnsupported(t *testing.T) {
	tests := []struct {
		file string
		want []string // paths reported
	}{
		{file: "files.yaml", want: []string{"secrets.ext.external"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			p, _ := loadFields(t, tc.file)
			err := p.CheckSupported()
			if !errdefs.IsNotImplemented(err) {
				t.Fatalf("CheckSupported = %v, want not implemented", err)
			}
			var got []string
			for _, line := range strings.Split(err.Error(), "\n") {
				_, rest, _ := strings.Cut(line, ": ")
				path, _, _ := strings.Cut(rest, ": ")
				got = append(got, path)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("CheckSupported reports\n%s\nwant paths %q", err, tc.want)
			}
		})
	}
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return digest(string(b))
}
