package engine

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/engine/image"
)

func mustSpec(t *testing.T, c ContainerConfig, in SpecInputs) *specs.Spec {
	t.Helper()
	if c.Cmd == nil {
		c.Cmd = []string{"c"}
	}
	s, err := OCISpec(c, image.Config{}, in)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hasSyscall(s *specs.Spec, name string) bool {
	if s.Linux.Seccomp == nil {
		return false
	}
	for _, sc := range s.Linux.Seccomp.Syscalls {
		if sc.Action == specs.ActAllow && slices.Contains(sc.Names, name) && len(sc.Args) == 0 {
			return true
		}
	}
	return false
}

func TestOCISpecCapabilities(t *testing.T) {
	tests := []struct {
		name      string
		c         ContainerConfig
		want, not []string
		n         int
	}{
		{"default", ContainerConfig{}, []string{"CAP_CHOWN", "CAP_NET_RAW"}, []string{"CAP_SYS_ADMIN"}, 14},
		{"add and drop", ContainerConfig{CapAdd: []string{"sys_admin"}, CapDrop: []string{"CAP_NET_RAW"}}, []string{"CAP_SYS_ADMIN"}, []string{"CAP_NET_RAW"}, 14},
		{"drop ALL keeps the added", ContainerConfig{CapDrop: []string{"ALL"}, CapAdd: []string{"CAP_CHOWN"}}, []string{"CAP_CHOWN"}, []string{"CAP_KILL"}, 1},
		{"drop ALL", ContainerConfig{CapDrop: []string{"ALL"}}, nil, []string{"CAP_CHOWN"}, 0},
		{"add ALL less the dropped", ContainerConfig{CapAdd: []string{"ALL"}, CapDrop: []string{"CAP_SYS_BOOT"}}, []string{"CAP_SYS_ADMIN"}, []string{"CAP_SYS_BOOT"}, len(allCapabilities) - 1},
		{"privileged", ContainerConfig{Privileged: true, CapDrop: []string{"ALL"}}, []string{"CAP_SYS_ADMIN"}, nil, len(allCapabilities)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustSpec(t, tc.c, baseInputs()).Process.Capabilities
			if len(c.Bounding) != tc.n || !slices.Equal(c.Bounding, c.Effective) || !slices.Equal(c.Bounding, c.Permitted) {
				t.Errorf("capabilities %+v, want %d in each set", c, tc.n)
			}
			for _, w := range tc.want {
				if !slices.Contains(c.Bounding, w) {
					t.Errorf("%s missing from %v", w, c.Bounding)
				}
			}
			for _, w := range tc.not {
				if slices.Contains(c.Bounding, w) {
					t.Errorf("%s in %v", w, c.Bounding)
				}
			}
		})
	}
}

func TestOCISpecSecurity(t *testing.T) {
	t.Run("default seccomp follows the capabilities", func(t *testing.T) {
		s := mustSpec(t, ContainerConfig{}, baseInputs())
		if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
			t.Fatalf("no default seccomp profile: %+v", s.Linux.Seccomp)
		}
		if !hasSyscall(s, "read") || hasSyscall(s, "mount") {
			t.Error("default profile: read must be allowed, mount denied")
		}
		if s := mustSpec(t, ContainerConfig{CapAdd: []string{"SYS_ADMIN"}}, baseInputs()); !hasSyscall(s, "mount") {
			t.Error("with CAP_SYS_ADMIN the profile must allow mount")
		}
	})
	t.Run("default seccomp leaves out x32 where the kernel cannot serve it", func(t *testing.T) {
		served := x32Served
		t.Cleanup(func() { x32Served = served })
		x32Served = func() bool { return false }
		s := mustSpec(t, ContainerConfig{}, baseInputs())
		if slices.Contains(s.Linux.Seccomp.Architectures, specs.ArchX32) || len(s.Linux.Seccomp.Architectures) == 0 && runtime.GOARCH == "amd64" {
			t.Errorf("architectures %v on a kernel without x32", s.Linux.Seccomp.Architectures)
		}
		x32Served = func() bool { return true }
		s = mustSpec(t, ContainerConfig{}, baseInputs())
		if runtime.GOARCH == "amd64" && !slices.Contains(s.Linux.Seccomp.Architectures, specs.ArchX32) {
			t.Errorf("architectures %v on a kernel serving x32: want Docker's, x32 included", s.Linux.Seccomp.Architectures)
		}
		in := baseInputs()
		in.SeccompProfile = []byte(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X32"]}`)
		x32Served = func() bool { return false }
		s = mustSpec(t, ContainerConfig{SecurityOpt: []string{"seccomp=/p.json"}}, in)
		if !slices.Contains(s.Linux.Seccomp.Architectures, specs.ArchX32) {
			t.Errorf("a profile of the user's own lost x32: %v", s.Linux.Seccomp.Architectures)
		}
	})
	t.Run("seccomp=unconfined and privileged have none", func(t *testing.T) {
		for _, c := range []ContainerConfig{{SecurityOpt: []string{"seccomp=unconfined"}}, {SecurityOpt: []string{"seccomp:unconfined"}}, {Privileged: true}} {
			if s := mustSpec(t, c, baseInputs()); s.Linux.Seccomp != nil {
				t.Errorf("%+v: seccomp %+v", c, s.Linux.Seccomp)
			}
		}
	})
	t.Run("seccomp=<file> loads the profile", func(t *testing.T) {
		in := baseInputs()
		in.SeccompProfile = []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}`)
		s := mustSpec(t, ContainerConfig{SecurityOpt: []string{"seccomp=/p.json"}}, in)
		if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) != 1 {
			t.Errorf("seccomp %+v", s.Linux.Seccomp)
		}
	})
	t.Run("no-new-privileges", func(t *testing.T) {
		for opt, want := range map[string]bool{"no-new-privileges": true, "no-new-privileges:true": true, "no-new-privileges=false": false} {
			if s := mustSpec(t, ContainerConfig{SecurityOpt: []string{opt}}, baseInputs()); s.Process.NoNewPrivileges != want {
				t.Errorf("%s: noNewPrivileges %v", opt, s.Process.NoNewPrivileges)
			}
		}
	})
	t.Run("privileged unmasks and allows every device", func(t *testing.T) {
		s := mustSpec(t, ContainerConfig{Privileged: true}, baseInputs())
		if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
			t.Error("masked or read-only paths left")
		}
		if d := s.Linux.Resources.Devices; len(d) != 1 || !d[0].Allow || d[0].Access != "rwm" {
			t.Errorf("device rules %+v", d)
		}
	})
	t.Run("read_only, tty, domainname, oom_score_adj, sysctls", func(t *testing.T) {
		s := mustSpec(t, ContainerConfig{ReadOnly: true, Tty: true, Domainname: "d.org", OomScoreAdj: -500, Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}, baseInputs())
		if !s.Root.Readonly || !s.Process.Terminal || s.Domainname != "d.org" || s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != -500 || s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" {
			t.Errorf("spec %+v %+v", s.Root, s.Process)
		}
	})
}

func TestOCISpecLimits(t *testing.T) {
	t.Run("ulimits clamped to the host's hard limits, with a warning", func(t *testing.T) {
		c := ContainerConfig{Ulimits: map[string]Ulimit{"nofile": {Soft: 30000, Hard: 40000}, "nproc": {Soft: 10, Hard: 20}}}
		host := map[string]uint64{"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 1000}
		in := baseInputs()
		in.HostRlimits = host
		s := mustSpec(t, c, in)
		want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 20000, Soft: 20000}, {Type: "RLIMIT_NPROC", Hard: 20, Soft: 10}}
		if !slices.Equal(s.Process.Rlimits, want) {
			t.Errorf("rlimits %+v, want %+v", s.Process.Rlimits, want)
		}
		w := RlimitWarnings(c, host)
		if len(w) != 1 || !strings.Contains(w[0], "nofile") {
			t.Errorf("warnings %q", w)
		}
		if w := RlimitWarnings(ContainerConfig{}, host); len(w) != 0 {
			t.Errorf("the default NOFILE warns: %q", w)
		}
	})
	t.Run("umask", func(t *testing.T) {
		u := uint32(0o027)
		s := mustSpec(t, ContainerConfig{Umask: &u}, baseInputs())
		if s.Process.User.Umask == nil || *s.Process.User.Umask != 0o027 {
			t.Errorf("umask %v, want 0027", s.Process.User.Umask)
		}
		if s := mustSpec(t, ContainerConfig{}, baseInputs()); s.Process.User.Umask != nil {
			t.Errorf("umask %v without one set", *s.Process.User.Umask)
		}
	})
	t.Run("resources", func(t *testing.T) {
		s := mustSpec(t, ContainerConfig{Resources: Resources{MemLimit: 64 << 20, MemSwapLimit: -1, CPUs: 0.5, CPUShares: 256, PidsLimit: 50}}, baseInputs())
		r := s.Linux.Resources
		if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != -1 || *r.CPU.Quota != 50000 || *r.CPU.Period != 100000 || *r.CPU.Shares != 256 || *r.Pids.Limit != 50 {
			t.Errorf("resources %+v %+v %+v", r.Memory, r.CPU, r.Pids)
		}
	})
	t.Run("cpuset, quota, real-time budget, swappiness, OOM killer", func(t *testing.T) {
		s := mustSpec(t, ContainerConfig{Resources: Resources{CpusetCpus: "0-1,3", CPUQuota: 20000, CPUPeriod: 50000,
			CPURTRuntime: 950, CPURTPeriod: 1000, MemSwappiness: 10, OomKillDisable: true}}, baseInputs())
		c, m := s.Linux.Resources.CPU, s.Linux.Resources.Memory
		if c.Cpus != "0-1,3" || *c.Quota != 20000 || *c.Period != 50000 || *c.RealtimeRuntime != 950 || *c.RealtimePeriod != 1000 {
			t.Errorf("cpu %+v", c)
		}
		if *m.Swappiness != 10 || !*m.DisableOOMKiller {
			t.Errorf("memory %+v", m)
		}
		// cpus wins over a quota and period, as with docker.
		s = mustSpec(t, ContainerConfig{Resources: Resources{CPUs: 1, CPUQuota: 20000, CPUPeriod: 50000}}, baseInputs())
		if *s.Linux.Resources.CPU.Quota != 100000 || *s.Linux.Resources.CPU.Period != 100000 {
			t.Errorf("cpus and quota: %+v", s.Linux.Resources.CPU)
		}
	})
	t.Run("cgroup parent and namespace, uts host, annotations", func(t *testing.T) {
		in := baseInputs()
		s := mustSpec(t, ContainerConfig{CgroupParent: "ci/jobs", CgroupnsMode: "private", UTSMode: "host",
			Annotations: map[string]string{"org.example/k": "v"}}, in)
		if want := "/ci/jobs/" + string(in.ID); s.Linux.CgroupsPath != want {
			t.Errorf("cgroupsPath %q, want %q", s.Linux.CgroupsPath, want)
		}
		var cgroupns, uts bool
		for _, ns := range s.Linux.Namespaces {
			cgroupns = cgroupns || ns.Type == specs.CgroupNamespace
			uts = uts || ns.Type == specs.UTSNamespace
		}
		if !cgroupns || uts {
			t.Errorf("namespaces %+v", s.Linux.Namespaces)
		}
		if s.Hostname != "" || s.Domainname != "" {
			t.Errorf("uts host: hostname %q, domain name %q: the runtime refuses them there", s.Hostname, s.Domainname)
		}
		if s.Annotations["org.example/k"] != "v" {
			t.Errorf("annotations %v", s.Annotations)
		}
		if s := mustSpec(t, ContainerConfig{}, in); s.Linux.CgroupsPath != "/berth/"+string(in.ID) {
			t.Errorf("default cgroupsPath %q", s.Linux.CgroupsPath)
		}
	})
	t.Run("shm_size", func(t *testing.T) {
		s := mustSpec(t, ContainerConfig{ShmSize: 1 << 20}, baseInputs())
		i := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev/shm" })
		if !slices.Contains(s.Mounts[i].Options, "size=1048576") {
			t.Errorf("shm %+v", s.Mounts[i])
		}
	})
	t.Run("pid and ipc modes", func(t *testing.T) {
		in := baseInputs()
		in.PidNSPath = "/proc/7/ns/pid"
		s := mustSpec(t, ContainerConfig{PidMode: "container:x", IpcMode: "host"}, in)
		var pid, ipc bool
		for _, ns := range s.Linux.Namespaces {
			pid = pid || ns.Type == specs.PIDNamespace && ns.Path == "/proc/7/ns/pid"
			ipc = ipc || ns.Type == specs.IPCNamespace
		}
		if !pid || ipc {
			t.Errorf("namespaces %+v", s.Linux.Namespaces)
		}
	})
	t.Run("devices", func(t *testing.T) {
		in := baseInputs()
		in.Devices = map[string]DeviceInfo{"/dev/fuse": {Type: "c", Major: 10, Minor: 229, Mode: 0o666}}
		s := mustSpec(t, ContainerConfig{Devices: []string{"/dev/fuse:/dev/f:r"}}, in)
		if d := s.Linux.Devices; len(d) != 1 || d[0].Path != "/dev/f" || d[0].Major != 10 || d[0].Minor != 229 {
			t.Errorf("devices %+v", d)
		}
		last := s.Linux.Resources.Devices[len(s.Linux.Resources.Devices)-1]
		if !last.Allow || *last.Major != 10 || last.Access != "r" {
			t.Errorf("rule %+v", last)
		}
	})
}

func TestOCISpecRejectsRuntime(t *testing.T) {
	for name, c := range map[string]ContainerConfig{
		"unknown capability":     {CapAdd: []string{"CAP_FLY"}},
		"unknown ulimit":         {Ulimits: map[string]Ulimit{"wings": {1, 1}}},
		"soft above hard":        {Ulimits: map[string]Ulimit{"nofile": {10, 5}}},
		"unknown security_opt":   {SecurityOpt: []string{"apparmor=docker-default"}},
		"bad no-new-privileges":  {SecurityOpt: []string{"no-new-privileges=maybe"}},
		"unknown device":         {Devices: []string{"/dev/nope"}},
		"bad device permissions": {Devices: []string{"/dev/fuse:/dev/fuse:x"}},
		"tiny memory":            {Resources: Resources{MemLimit: 1024}},
		"swap below memory":      {Resources: Resources{MemLimit: 64 << 20, MemSwapLimit: 32 << 20}},
		"bad pid mode":           {PidMode: "private-ish"},
		"unresolved container":   {IpcMode: "container:db"},
		"oom_score_adj":          {OomScoreAdj: 2000},
		"bad cpuset":             {Resources: Resources{CpusetCpus: "0-x"}},
		"cpu period too short":   {Resources: Resources{CPUPeriod: 10}},
		"swappiness above 100":   {Resources: Resources{MemSwappiness: 101}},
		"bad cgroup namespace":   {CgroupnsMode: "shared"},
		"bad uts mode":           {UTSMode: "container:x"},
		"uts host with hostname": {UTSMode: "host", Hostname: "h"},
		"uts host with a domain": {UTSMode: "host", Domainname: "d.org"},
		"cgroup parent escapes":  {CgroupParent: "../../x"},
		"umask above 0777":       {Umask: func() *uint32 { u := uint32(0o1777); return &u }()},
	} {
		t.Run(name, func(t *testing.T) {
			c.Cmd = []string{"c"}
			if _, err := OCISpec(c, image.Config{}, baseInputs()); !errdefs.IsInvalidArgument(err) {
				t.Errorf("err = %v, want InvalidArgument", err)
			}
		})
	}
}

func TestOCISpecPrivilegedHostDevices(t *testing.T) {
	in := baseInputs()
	in.HostDevices = map[string]DeviceInfo{"/dev/sda": {Type: "b", Major: 8}, "/dev/fuse": {Type: "c", Major: 10, Minor: 229}}
	in.Devices = map[string]DeviceInfo{"/dev/fuse": {Type: "c", Major: 10, Minor: 229}}
	s := mustSpec(t, ContainerConfig{Privileged: true, Devices: []string{"/dev/fuse"}}, in)
	var paths []string
	for _, d := range s.Linux.Devices {
		paths = append(paths, d.Path)
	}
	if !slices.Equal(paths, []string{"/dev/fuse", "/dev/sda"}) {
		t.Errorf("devices %q", paths)
	}
	if s := mustSpec(t, ContainerConfig{}, in); len(s.Linux.Devices) != 0 {
		t.Errorf("unprivileged: devices %+v", s.Linux.Devices)
	}
}

func TestOCISpecHostCapabilities(t *testing.T) {
	in := baseInputs()
	in.HostCapabilities = []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}
	if c := mustSpec(t, ContainerConfig{Privileged: true}, in).Process.Capabilities; !slices.Equal(c.Bounding, in.HostCapabilities) {
		t.Errorf("privileged: %v", c.Bounding)
	}
	if c := mustSpec(t, ContainerConfig{CapAdd: []string{"ALL"}, CapDrop: []string{"CAP_CHOWN"}}, in).Process.Capabilities; !slices.Equal(c.Bounding, []string{"CAP_SYS_ADMIN"}) {
		t.Errorf("cap_add ALL: %v", c.Bounding)
	}
}
