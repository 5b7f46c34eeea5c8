package engine

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/engine/image"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const testID = ContainerID("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

func baseInputs() SpecInputs {
	dir := "/var/lib/berth/containers/" + string(testID)
	return SpecInputs{
		ID:             testID,
		Rootfs:         dir + "/bundle/rootfs",
		NetNS:          "/run/berth/netns/" + string(testID),
		User:           ExecUser{Home: "/root"},
		HostRlimits:    map[string]uint64{"RLIMIT_NOFILE": 1 << 30},
		HostsPath:      dir + "/hosts",
		ResolvConfPath: dir + "/resolv.conf",
		HostnamePath:   dir + "/hostname",
		InitPath:       "/usr/local/bin/berth",
		VolumePaths:    map[string]string{"site": "/var/lib/berth/volumes/site/_data"},
	}
}

var busyboxImage = image.Config{
	Cmd: []string{"sh"},
	Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
}

func TestOCISpecGolden(t *testing.T) {
	// Docker's architectures, whatever this kernel serves: the files are
	// the same on every machine.
	served := x32Served
	x32Served = func() bool { return true }
	t.Cleanup(func() { x32Served = served })
	grace := 3 * time.Second
	tests := []struct {
		name string
		cfg  ContainerConfig
		img  image.Config
		in   func(*SpecInputs)
	}{
		{
			name: "minimal",
			cfg:  ContainerConfig{Name: "min", Image: "busybox"},
			img:  busyboxImage,
			in:   func(in *SpecInputs) { in.NetNS = "" },
		},
		{
			name: "entrypoint_drops_image_cmd",
			cfg:  ContainerConfig{Name: "ep", Image: "x", Entrypoint: []string{"/bin/echo", "hi"}},
			img:  image.Config{Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"}},
		},
		{
			name: "cmd_after_image_entrypoint",
			cfg:  ContainerConfig{Name: "cmd", Image: "x", Cmd: []string{"redis-server", "--port", "7000"}},
			img:  image.Config{Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"redis-server"}, WorkingDir: "/data", Env: []string{"REDIS_VERSION=7", "HOME=/data"}},
		},
		{
			name: "env_workdir_hostname_user",
			cfg: ContainerConfig{
				Name: "app", Image: "x", Hostname: "web", WorkingDir: "/srv/app", User: "www-data",
				Env: []string{"MODE=prod", "PATH=/app/bin:/usr/bin:/bin", "EMPTY="},
			},
			img: image.Config{Cmd: []string{"serve"}, Env: []string{"MODE=dev", "LANG=C.UTF-8"}},
			in: func(in *SpecInputs) {
				in.User = ExecUser{UID: 33, GID: 33, AdditionalGIDs: []uint32{4, 109}, Home: "/var/www"}
			},
		},
		{
			name: "init",
			cfg:  ContainerConfig{Name: "init", Image: "busybox", Init: true, Cmd: []string{"httpd", "-f", "-p", "8080"}, StopTimeout: &grace},
			img:  busyboxImage,
		},
		{
			name: "mounts",
			cfg: ContainerConfig{Name: "mounts", Image: "busybox", Mounts: []Mount{
				{Type: "bind", Source: "/srv/data/", Target: "/data/sub", ReadOnly: true},
				{Type: "volume", Source: "site", Target: "/www"},
				{Type: "tmpfs", Target: "/run", Options: []string{"size=1m"}},
				{Type: "bind", Source: "/srv/data", Target: "/data"},
				{Type: "bind", Source: "/srv/hosts", Target: "/etc/hosts", ReadOnly: true},
				{Type: "tmpfs", Target: "/dev/shm", Options: []string{"size=128m"}},
			}},
			img: busyboxImage,
		},
		{
			name: "security",
			cfg: ContainerConfig{
				Name: "sec", Image: "busybox", Tty: true, OpenStdin: true, ReadOnly: true, Domainname: "example.org",
				GroupAdd: []string{"wheel", "1001"}, CapAdd: []string{"NET_ADMIN", "CAP_SYS_PTRACE"}, CapDrop: []string{"CAP_MKNOD", "net_raw"},
				SecurityOpt: []string{"no-new-privileges:true"}, Sysctls: map[string]string{"net.core.somaxconn": "1024", "kernel.msgmax": "65536"},
				OomScoreAdj: 500,
			},
			img: busyboxImage,
			in:  func(in *SpecInputs) { in.User.AdditionalGIDs = []uint32{10} }, // wheel, resolved by Start
		},
		{
			name: "resources",
			cfg: ContainerConfig{
				Name: "res", Image: "busybox", ShmSize: 256 << 20,
				Ulimits:   map[string]Ulimit{"nofile": {Soft: 1024, Hard: 65536}, "nproc": {Soft: 512, Hard: 512}, "core": {Soft: -1, Hard: -1}},
				Devices:   []string{"/dev/fuse:/dev/fuse:rwm", "/dev/net/tun:/dev/tun0:r"},
				Resources: Resources{MemLimit: 512 << 20, MemReservation: 128 << 20, MemSwapLimit: 1 << 30, CPUs: 1.5, CPUShares: 512, PidsLimit: 100},
			},
			img: busyboxImage,
			in: func(in *SpecInputs) {
				in.HostRlimits = map[string]uint64{"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 1 << 20}
				in.Devices = map[string]DeviceInfo{
					"/dev/fuse":    {Type: "c", Major: 10, Minor: 229, Mode: 0o666},
					"/dev/net/tun": {Type: "c", Major: 10, Minor: 200, Mode: 0o666},
				}
			},
		},
		{
			name: "privileged",
			cfg:  ContainerConfig{Name: "priv", Image: "busybox", Privileged: true, SecurityOpt: []string{"seccomp=/etc/ignored.json"}},
			img:  busyboxImage,
		},
		{
			name: "namespaces_unconfined",
			cfg:  ContainerConfig{Name: "ns", Image: "busybox", PidMode: "host", IpcMode: "container:db", CapDrop: []string{"ALL"}, CapAdd: []string{"CHOWN"}, SecurityOpt: []string{"seccomp=unconfined", "apparmor=unconfined"}},
			img:  busyboxImage,
			in: func(in *SpecInputs) {
				in.IpcNSPath, in.IpcShmPath = "/proc/4242/ns/ipc", "/proc/4242/root/dev/shm"
			},
		},
		{
			name: "blkio_device_rules",
			cfg: ContainerConfig{
				Name: "blk", Image: "busybox", DeviceCgroupRules: []string{"c 1:3 mr", "b 8:* rwm", "a *:* m"},
				Resources: Resources{Blkio: &Blkio{
					Weight: 300, WeightDevice: []BlkioWeightDevice{{Path: "/dev/sda", Weight: 200}},
					DeviceReadBps: []BlkioThrottle{{Path: "/dev/sda", Rate: 1 << 20}}, DeviceWriteIOps: []BlkioThrottle{{Path: "/dev/sdb", Rate: 100}},
				}},
			},
			img: busyboxImage,
			in: func(in *SpecInputs) {
				in.BlkioWeight = true
				in.BlockDevices = map[string]DeviceInfo{"/dev/sda": {Type: "b", Major: 8, Minor: 0}, "/dev/sdb": {Type: "b", Major: 8, Minor: 16}}
			},
		},
		{
			name: "blkio_without_weights",
			cfg: ContainerConfig{
				Name: "blk", Image: "busybox",
				Resources: Resources{Blkio: &Blkio{Weight: 300, DeviceWriteBps: []BlkioThrottle{{Path: "/dev/sda", Rate: 4096}}}},
			},
			img: busyboxImage,
			in: func(in *SpecInputs) {
				in.BlockDevices = map[string]DeviceInfo{"/dev/sda": {Type: "b", Major: 8, Minor: 0}}
			},
		},
		{
			name: "image_mounts",
			cfg: ContainerConfig{Name: "img", Image: "busybox", Mounts: []Mount{
				{Type: "image", Source: "content:1", Target: "/content", ReadOnly: true},
				{Type: "image", Source: "content:1", Target: "/sub", ReadOnly: true, Subpath: "site/sub"},
			}},
			img: busyboxImage,
			in: func(in *SpecInputs) {
				in.ImageLayers = map[int][]string{
					0: {"/var/lib/berth/layers/a", "/var/lib/berth/layers/b"},
					1: {"/var/lib/berth/layers/b/site/sub"},
				}
			},
		},
		{
			name: "rlimit_clamped",
			cfg:  ContainerConfig{Name: "rl", Image: "busybox"},
			img:  busyboxImage,
			in:   func(in *SpecInputs) { in.HostRlimits = map[string]uint64{"RLIMIT_NOFILE": 20000} },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInputs()
			if tc.in != nil {
				tc.in(&in)
			}
			spec, err := OCISpec(tc.cfg, tc.img, in)
			if err != nil {
				t.Fatal(err)
			}
			if sc := spec.Linux.Seccomp; sc != nil {
				// The default profile is hundreds of rules from
				// moby/profiles; the semantic tests check what matters.
				n := len(sc.Syscalls)
				sc.Syscalls = []specs.LinuxSyscall{{Names: []string{fmt.Sprintf("(%d rules)", n)}}}
			}
			got, err := json.MarshalIndent(spec, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./engine -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("config.json differs from %s (go test ./engine -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

// TestOCISpecSemantics states the rules the golden files show, so a bad
// -update cannot bless a regression unnoticed.
func TestOCISpecSemantics(t *testing.T) {
	t.Run("entrypoint set drops the image's cmd", func(t *testing.T) {
		s, err := OCISpec(ContainerConfig{Entrypoint: []string{"a"}}, image.Config{Entrypoint: []string{"x"}, Cmd: []string{"y"}}, baseInputs())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Process.Args, []string{"a"}) {
			t.Errorf("args %q, want [a]", s.Process.Args)
		}
	})
	t.Run("cmd keeps the image's entrypoint", func(t *testing.T) {
		s, err := OCISpec(ContainerConfig{Cmd: []string{"b"}}, image.Config{Entrypoint: []string{"x"}, Cmd: []string{"y"}}, baseInputs())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Process.Args, []string{"x", "b"}) {
			t.Errorf("args %q, want [x b]", s.Process.Args)
		}
	})
	t.Run("empty entrypoint resets the image's", func(t *testing.T) {
		s, err := OCISpec(ContainerConfig{Entrypoint: []string{}, Cmd: []string{"c"}}, image.Config{Entrypoint: []string{"x"}}, baseInputs())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Process.Args, []string{"c"}) {
			t.Errorf("args %q, want [c]", s.Process.Args)
		}
	})
	t.Run("init wraps the command", func(t *testing.T) {
		s, err := OCISpec(ContainerConfig{Init: true, Cmd: []string{"sleep", "9"}}, image.Config{}, baseInputs())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Process.Args, []string{"/.berth/init", "--ready-fd=3", "--", "sleep", "9"}) {
			t.Errorf("args %q", s.Process.Args)
		}
		if !slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool {
			return m.Destination == "/.berth/init" && m.Source == "/usr/local/bin/berth" && slices.Contains(m.Options, "ro")
		}) {
			t.Errorf("no read-only mount of the berth binary at /.berth/init: %+v", s.Mounts)
		}
	})
	t.Run("NOFILE is clamped to the host's hard limit", func(t *testing.T) {
		in := baseInputs()
		in.HostRlimits = map[string]uint64{"RLIMIT_NOFILE": 20000}
		s, err := OCISpec(ContainerConfig{Cmd: []string{"c"}}, image.Config{}, in)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.Process.Rlimits[0]; r.Hard != 20000 || r.Soft != 20000 {
			t.Errorf("NOFILE %d/%d, want 20000/20000", r.Soft, r.Hard)
		}
	})
	t.Run("terminal off, 14 capabilities, none ambient", func(t *testing.T) {
		s, err := OCISpec(ContainerConfig{Cmd: []string{"c"}}, image.Config{}, baseInputs())
		if err != nil {
			t.Fatal(err)
		}
		c := s.Process.Capabilities
		if s.Process.Terminal || len(c.Bounding) != 14 || len(c.Effective) != 14 || len(c.Permitted) != 14 || len(c.Ambient) != 0 {
			t.Errorf("terminal %v, capabilities %+v", s.Process.Terminal, c)
		}
		if s.Linux.CgroupsPath != "/berth/"+string(testID) {
			t.Errorf("cgroupsPath %q", s.Linux.CgroupsPath)
		}
	})
}

func TestOCISpecRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  ContainerConfig
		img  image.Config
	}{
		{"no command", ContainerConfig{}, image.Config{}},
		{"env without =", ContainerConfig{Cmd: []string{"c"}, Env: []string{"FOO"}}, image.Config{}},
		{"relative workdir", ContainerConfig{Cmd: []string{"c"}, WorkingDir: "srv"}, image.Config{}},
		{"relative mount target", ContainerConfig{Cmd: []string{"c"}, Mounts: []Mount{{Type: "tmpfs", Target: "tmp"}}}, image.Config{}},
		{"mount on /", ContainerConfig{Cmd: []string{"c"}, Mounts: []Mount{{Type: "tmpfs", Target: "/"}}}, image.Config{}},
		{"relative bind source", ContainerConfig{Cmd: []string{"c"}, Mounts: []Mount{{Type: "bind", Source: "data", Target: "/data"}}}, image.Config{}},
		{"unknown mount type", ContainerConfig{Cmd: []string{"c"}, Mounts: []Mount{{Type: "nfs", Target: "/x"}}}, image.Config{}},
		{"duplicate target", ContainerConfig{Cmd: []string{"c"}, Mounts: []Mount{{Type: "tmpfs", Target: "/x"}, {Type: "tmpfs", Target: "/x/"}}}, image.Config{}},
		{"unknown volume", ContainerConfig{Cmd: []string{"c"}, Mounts: []Mount{{Type: "volume", Source: "nope", Target: "/x"}}}, image.Config{}},
		{"image mount without an image", ContainerConfig{Cmd: []string{"c"}, Mounts: []Mount{{Type: "image", Target: "/x"}}}, image.Config{}},
		{"image mount without layers", ContainerConfig{Cmd: []string{"c"}, Mounts: []Mount{{Type: "image", Source: "content:1", Target: "/x"}}}, image.Config{}},
		{"device cgroup rule without access", ContainerConfig{Cmd: []string{"c"}, DeviceCgroupRules: []string{"c 1:3"}}, image.Config{}},
		{"device cgroup rule of a bad type", ContainerConfig{Cmd: []string{"c"}, DeviceCgroupRules: []string{"x 1:3 r"}}, image.Config{}},
		{"device cgroup rule of a bad number", ContainerConfig{Cmd: []string{"c"}, DeviceCgroupRules: []string{"c one:3 r"}}, image.Config{}},
		{"device cgroup rule of a bad access", ContainerConfig{Cmd: []string{"c"}, DeviceCgroupRules: []string{"c 1:3 rx"}}, image.Config{}},
		{"blkio weight out of range", ContainerConfig{Cmd: []string{"c"}, Resources: Resources{Blkio: &Blkio{Weight: 5}}}, image.Config{}},
		{"blkio throttle of an unknown device", ContainerConfig{Cmd: []string{"c"}, Resources: Resources{Blkio: &Blkio{DeviceReadBps: []BlkioThrottle{{Path: "/dev/nope", Rate: 1}}}}}, image.Config{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OCISpec(tc.cfg, tc.img, baseInputs())
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("err = %v, want an InvalidArgument error", err)
			}
		})
	}
}
