package engine

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// SpecInputs is what OCISpec needs beyond the container's and the image's
// configuration: everything found by I/O, gathered by Start beforehand.
type SpecInputs struct {
	ID     ContainerID
	Rootfs string // absolute path of the mounted root filesystem
	NetNS  string // network namespace to join; "" for a new one with loopback only
	User   ExecUser
	// HostRlimits are the host's hard limits by type ("RLIMIT_NOFILE");
	// every rlimit of the container is clamped to them (raising a hard
	// limit needs CAP_SYS_RESOURCE, which berth may not have).
	HostRlimits map[string]uint64
	// RecursiveReadOnly says the kernel can make a bind mount read-only
	// with its sub-mounts (mount_setattr, Linux 5.12): read-only binds then
	// are, as Docker's are.
	RecursiveReadOnly bool
	// Files bind-mounted at /etc/hosts, /etc/resolv.conf and /etc/hostname;
	// "" leaves the image's.
	HostsPath, ResolvConfPath, HostnamePath string
	// InitPath is the berth binary, mounted read-only at /.berth/init when
	// the container has Init.
	InitPath string
	// VolumePaths are the host directories of the named volumes that
	// "volume" mounts name.
	VolumePaths map[string]string
	// ImageLayers are the layer directories (lowest first) of each "image"
	// mount, by its index in the container's mounts.
	ImageLayers map[int][]string
	// FilesDir is where Start writes the "file" mounts, one file per mount
	// index; empty only when the spec is built to validate a config.
	FilesDir string
	// Devices are the host devices the container's Devices name, by host
	// path.
	Devices map[string]DeviceInfo
	// PidNSPath and IpcNSPath are the namespaces joined by the pid and ipc
	// modes "container:<id>" (/proc/<pid>/ns/…), IpcShmPath that
	// container's /dev/shm.
	PidNSPath, IpcNSPath, IpcShmPath string
	// SeccompProfile is the content of the seccomp=<file> profile.
	SeccompProfile []byte
	// HostDevices are the host's device nodes under /dev, by path, which a
	// privileged container gets.
	HostDevices map[string]DeviceInfo
	// EndpointSysctls are the settings of the container's interfaces
	// (EndpointConfig.Sysctls with the interface's name in place of
	// IFNAME), set beside its own sysctls, which win.
	EndpointSysctls map[string]string
	// BlockDevices are the host's block devices the container's
	// Resources.Blkio names, by path.
	BlockDevices map[string]DeviceInfo
	// BlkioWeight says the kernel weighs block I/O (blkio.weight); without
	// it weights are dropped, as Docker drops them.
	BlkioWeight bool
	// HostCapabilities is the host's bounding set, what "all
	// capabilities" (privileged, cap_add ALL) means; nil: every one
	// known.
	HostCapabilities []string
}

// ExecUser is the user a container's process runs as, resolved from the
// image's /etc/passwd and /etc/group (ResolveUser).
type ExecUser struct {
	UID, GID       uint32
	AdditionalGIDs []uint32
	Home           string // for HOME when the environment has none
}

// Defaults of the process.
const (
	defaultPath   = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	defaultNofile = 1 << 20
	shmSize       = 64 << 20
)

// defaultCapabilities are Docker's.
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// maskedPaths and readonlyPaths are Docker's.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", fmt.Sprintf("size=%d", shmSize)}},
	}
}

// defaultDeviceRules are Docker's device cgroup rules: nothing but the
// usual character devices (the runtime adds its own defaults too).
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	dev := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
		if major >= 0 {
			r.Major = &major
		}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		dev("c", -1, -1, "m"), dev("b", -1, -1, "m"),
		dev("c", 1, 3, "rwm"), dev("c", 1, 8, "rwm"), dev("c", 1, 7, "rwm"),
		dev("c", 5, 0, "rwm"), dev("c", 1, 5, "rwm"), dev("c", 1, 9, "rwm"),
		dev("c", 5, 1, "rwm"), dev("c", 136, -1, "rwm"), dev("c", 5, 2, "rwm"),
		dev("c", 10, 200, "rwm"),
	}
}

// OCISpec builds the runtime configuration of a container from its
// configuration, its image's and the inputs gathered by I/O. It is pure:
// the same arguments give the same spec. Errors are
// errdefs.ErrInvalidArgument and name the field.
func OCISpec(c ContainerConfig, img image.Config, in SpecInputs) (*specs.Spec, error) {
	if len(in.ID) < 12 {
		return nil, fmt.Errorf("container ID %q: too short: %w", in.ID, errdefs.ErrInvalidArgument)
	}
	if !path.IsAbs(in.Rootfs) {
		return nil, fmt.Errorf("rootfs %q: not an absolute path: %w", in.Rootfs, errdefs.ErrInvalidArgument)
	}
	args, err := processArgs(c, img)
	if err != nil {
		return nil, err
	}
	hostname := containerHostname(c, in.ID)
	env, err := processEnv(c, img, hostname, in.User.Home)
	if err != nil {
		return nil, err
	}
	cwd, err := workingDir(c, img)
	if err != nil {
		return nil, err
	}
	if c.Init {
		if in.InitPath == "" {
			return nil, fmt.Errorf("init: no berth binary to mount: %w", errdefs.ErrInvalidArgument)
		}
		args = append([]string{ctrstate.InitPath, ctrstate.InitReadyArg, "--"}, args...)
	}
	mounts, err := specMounts(c, in)
	if err != nil {
		return nil, err
	}
	netns := specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: in.NetNS}
	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: false,
			User: specs.User{
				UID:            in.User.UID,
				GID:            in.User.GID,
				AdditionalGids: slices.Clone(in.User.AdditionalGIDs),
			},
			Args: args,
			Env:  env,
			Cwd:  cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  slices.Clone(defaultCapabilities),
				Effective: slices.Clone(defaultCapabilities),
				Permitted: slices.Clone(defaultCapabilities),
			},
			// Rlimits, capabilities and the rest: applyRuntime.
		},
		Root:     &specs.Root{Path: in.Rootfs},
		Hostname: hostname,
		Mounts:   mounts,
		Linux: &specs.Linux{
			CgroupsPath: cgroupsPath(c, in.ID),
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
				netns,
			},
			Resources:     &specs.LinuxResources{Devices: defaultDeviceRules()},
			MaskedPaths:   slices.Clone(maskedPaths),
			ReadonlyPaths: slices.Clone(readonlyPaths),
		},
	}
	s.Annotations = maps.Clone(c.Annotations)
	if err := setNetworkMode(s.Linux, c); err != nil {
		return nil, err
	}
	if err := applyRuntime(s, c, in); err != nil {
		return nil, err
	}
	return s, nil
}

// processArgs merges entrypoint and command as Docker does: the
// container's entrypoint replaces the image's and drops the image's
// command; the container's command replaces the image's.
func processArgs(c ContainerConfig, img image.Config) ([]string, error) {
	ep, cmd := c.Entrypoint, c.Cmd
	if ep == nil {
		ep = img.Entrypoint
		if cmd == nil {
			cmd = img.Cmd
		}
	}
	args := append(slices.Clone(ep), cmd...)
	if len(args) == 0 || args[0] == "" {
		return nil, fmt.Errorf("no command: neither the container nor its image has an entrypoint or a command: %w", errdefs.ErrInvalidArgument)
	}
	return args, nil
}

// containerHostname is the configured hostname, else the ID's first 12
// digits.
func containerHostname(c ContainerConfig, id ContainerID) string {
	if c.Hostname != "" {
		return c.Hostname
	}
	return string(id[:12])
}

// processEnv is PATH (when neither sets it), HOSTNAME, the image's
// environment overlaid by the container's, and HOME (when neither sets it).
func processEnv(c ContainerConfig, img image.Config, hostname, home string) ([]string, error) {
	var env []string
	index := map[string]int{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			env[i] = kv
			return
		}
		index[k] = len(env)
		env = append(env, kv)
	}
	set("HOSTNAME=" + hostname)
	for _, kv := range img.Env {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" {
			set(kv)
		}
	}
	for i, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("env[%d]: %q is not KEY=VALUE: %w", i, kv, errdefs.ErrInvalidArgument)
		}
		set(kv)
	}
	if _, ok := index["PATH"]; !ok {
		env = append([]string{defaultPath}, env...)
	}
	if _, ok := index["HOME"]; !ok {
		env = append(env, "HOME="+cmp.Or(home, "/"))
	}
	return env, nil
}

func workingDir(c ContainerConfig, img image.Config) (string, error) {
	cwd := cmp.Or(c.WorkingDir, img.WorkingDir, "/")
	if !path.IsAbs(cwd) {
		return "", fmt.Errorf("working_dir %q: not an absolute path: %w", cwd, errdefs.ErrInvalidArgument)
	}
	return path.Clean(cwd), nil
}

// specMounts is, in order: the default mounts (less those a configured
// mount covers), the /etc files, the init, and the configured mounts,
// parents before children.
func specMounts(c ContainerConfig, in SpecInputs) ([]specs.Mount, error) {
	user, err := userMounts(c, in)
	if err != nil {
		return nil, err
	}
	covered := func(dst string) bool {
		return slices.ContainsFunc(user, func(m specs.Mount) bool {
			return m.Destination == dst || strings.HasPrefix(dst, strings.TrimSuffix(m.Destination, "/")+"/")
		})
	}
	var out []specs.Mount
	for _, m := range defaultMounts() {
		if !covered(m.Destination) {
			out = append(out, m)
		}
	}
	for _, f := range []struct{ dst, src string }{
		{"/etc/hosts", in.HostsPath},
		{"/etc/resolv.conf", in.ResolvConfPath},
		{"/etc/hostname", in.HostnamePath},
	} {
		if f.src != "" && !covered(f.dst) {
			out = append(out, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: []string{"rbind", "rprivate"}})
		}
	}
	if c.Init {
		out = append(out, specs.Mount{Destination: ctrstate.InitPath, Type: "bind", Source: in.InitPath, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	slices.SortStableFunc(user, func(a, b specs.Mount) int {
		return cmp.Compare(strings.Count(a.Destination, "/"), strings.Count(b.Destination, "/"))
	})
	return append(out, user...), nil
}

// userMounts converts the configured mounts.
func userMounts(c ContainerConfig, in SpecInputs) ([]specs.Mount, error) {
	var out []specs.Mount
	seen := map[string]bool{}
	for i, m := range c.Mounts {
		if !path.IsAbs(m.Target) || path.Clean(m.Target) == "/" {
			return nil, fmt.Errorf("mounts[%d]: target %q: not an absolute path below /: %w", i, m.Target, errdefs.ErrInvalidArgument)
		}
		dst := path.Clean(m.Target)
		if seen[dst] {
			return nil, fmt.Errorf("mounts[%d]: target %q: mounted twice: %w", i, m.Target, errdefs.ErrInvalidArgument)
		}
		seen[dst] = true
		rw := "rw"
		if m.ReadOnly {
			rw = "ro"
		}
		sm := specs.Mount{Destination: dst}
		switch m.Type {
		case "bind", "volume":
			src := m.Source
			if m.Type == "volume" {
				p, ok := in.VolumePaths[m.Source]
				if !ok {
					return nil, fmt.Errorf("mounts[%d]: volume %q: no path given: %w", i, m.Source, errdefs.ErrInvalidArgument)
				}
				src = p
				sub, err := cleanSubpath(m.Subpath)
				if err != nil {
					return nil, fmt.Errorf("mounts[%d]: %w", i, err)
				}
				src = path.Join(src, sub)
			}
			if !path.IsAbs(src) {
				return nil, fmt.Errorf("mounts[%d]: source %q: not an absolute path: %w", i, m.Source, errdefs.ErrInvalidArgument)
			}
			sm.Type, sm.Source = "bind", path.Clean(src)
			bind, err := bindOptions(m.Recursive, m.ReadOnly, in.RecursiveReadOnly)
			if err != nil {
				return nil, fmt.Errorf("mounts[%d]: %w", i, err)
			}
			sm.Options = append(bind, m.Options...)
			if m.Propagation != "" {
				if !slices.Contains(propagations, m.Propagation) {
					return nil, fmt.Errorf("mounts[%d]: propagation %q: want one of %s: %w", i, m.Propagation, strings.Join(propagations, ", "), errdefs.ErrInvalidArgument)
				}
				sm.Options = append(sm.Options, m.Propagation)
			}
		case "tmpfs":
			sm.Type, sm.Source = "tmpfs", "tmpfs"
			sm.Options = append([]string{"nosuid", "nodev", rw}, m.Options...)
			sm.Options = append(sm.Options, tmpfsOptions(m)...)
		case "file":
			sm.Type, sm.Source = "bind", path.Join(in.FilesDir, fileMountName(i))
			sm.Options = []string{"rbind", "ro", "nosuid", "nodev", "noexec"}
		case "image":
			if err := checkImageMountSource(i, m); err != nil {
				return nil, err
			}
			layers, ok := in.ImageLayers[i]
			if !ok {
				return nil, fmt.Errorf("mounts[%d]: image %q: no layers given: %w", i, m.Source, errdefs.ErrInvalidArgument)
			}
			im, err := imageMount(dst, layers)
			if err != nil {
				return nil, fmt.Errorf("mounts[%d]: %w", i, err)
			}
			sm = im
		default:
			return nil, fmt.Errorf("mounts[%d]: type %q: want bind, volume, tmpfs, file or image: %w", i, m.Type, errdefs.ErrInvalidArgument)
		}
		out = append(out, sm)
	}
	return out, nil
}

// cgroupsPath is the container's cgroup, relative to each hierarchy's
// root: under its CgroupParent, else under berth's own.
func cgroupsPath(c ContainerConfig, id ContainerID) string {
	if c.CgroupParent == "" {
		return ctrstate.CgroupsPath(string(id))
	}
	return path.Join("/", c.CgroupParent, string(id))
}

// bindOptions are the options of a bind mount with Docker's
// bind.recursive and read-only flag: rbind, or bind when recursion is
// disabled; ro, made recursive (rro) when recursive is "readonly", or
// enabled (the default) on a kernel that can (rroOK), as Docker does.
func bindOptions(recursive string, readOnly, rroOK bool) ([]string, error) {
	switch recursive {
	case "", "enabled", "disabled", "writable", "readonly":
	default:
		return nil, invalid("bind recursive %q: want enabled, disabled, writable or readonly", recursive)
	}
	if !readOnly {
		if recursive == "writable" || recursive == "readonly" {
			return nil, invalid("bind recursive %q needs a read-only mount", recursive)
		}
		if recursive == "disabled" {
			return []string{"bind", "rw"}, nil
		}
		return []string{"rbind", "rw"}, nil
	}
	switch recursive {
	case "disabled":
		return []string{"bind", "ro"}, nil
	case "writable":
		return []string{"rbind", "ro"}, nil
	case "", "enabled":
		if !rroOK {
			return []string{"rbind", "ro"}, nil
		}
	}
	return []string{"rbind", "ro", "rro"}, nil
}
