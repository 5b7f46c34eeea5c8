package engine

import (
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DeviceInfo is a host device node, found by Start (stat) for the
// container's Devices.
type DeviceInfo struct {
	Type         string // "c" or "b"
	Major, Minor int64
	Mode         uint32 // permission bits
	UID, GID     uint32
}

// allCapabilities are the capabilities of Linux 5.9 and later (CAP_ALL,
// privileged).
var allCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// ulimitTypes maps Docker's ulimit names to the runtime's.
var ulimitTypes = map[string]string{
	"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
	"locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
	"nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC",
	"rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME",
	"sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}

// RlimitTypes are the runtime names of the rlimits a container may set,
// for Start to read the host's hard limits of.
func RlimitTypes() []string { return slices.Sorted(maps.Values(ulimitTypes)) }

const cpuPeriod = 100000 // µs, Docker's CFS period

func invalid(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
}

// applyRuntime sets the process, security and resource settings of c on s,
// built by OCISpec with Docker's defaults.
func applyRuntime(s *specs.Spec, c ContainerConfig, in SpecInputs) error {
	p, l := s.Process, s.Linux
	// Not part of the spec, but checked here so that Create refuses it.
	switch r := c.Restart; {
	case r.Name != "" && r.Name != "no" && r.Name != "always" && r.Name != "unless-stopped" && r.Name != "on-failure":
		return invalid("restart %q: want no, always, on-failure or unless-stopped", r.Name)
	case r.MaxRetries < 0 || (r.MaxRetries > 0 && r.Name != "on-failure"):
		return invalid("restart: a retry count of %d with %q", r.MaxRetries, r.Name)
	case c.Logging.MaxSize < 0 || c.Logging.MaxFile < 0:
		return invalid("logging: negative max-size or max-file")
	case c.Logging.Driver != "" && c.Logging.Driver != LogDriverNone:
		return invalid("logging: driver %q: want none, or nothing for json-file", c.Logging.Driver)
	case c.Logging.Driver == LogDriverNone && c.Logging.MaxSize != 0:
		return invalid("logging: driver none keeps no log to rotate")
	case c.Logging.Compress && c.Logging.MaxSize == 0:
		return invalid("logging: compress needs max-size: no file is rotated to compress")
	}
	p.Terminal = c.Tty
	s.Root.Readonly = c.ReadOnly
	s.Domainname = c.Domainname
	if c.OomScoreAdj != 0 {
		if c.OomScoreAdj < -1000 || c.OomScoreAdj > 1000 {
			return invalid("oom_score_adj %d: outside [-1000, 1000]", c.OomScoreAdj)
		}
		v := c.OomScoreAdj
		p.OOMScoreAdj = &v
	}
	if c.Umask != nil {
		if *c.Umask > 0o777 {
			return invalid("umask %#o: more than the permission bits", *c.Umask)
		}
		u := *c.Umask
		p.User.Umask = &u
	}
	for _, g := range c.GroupAdd {
		// Names were resolved by Start into in.User; numbers are taken here.
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && !slices.Contains(p.User.AdditionalGids, uint32(n)) {
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
		}
	}
	rl, _, err := containerRlimits(c, in.HostRlimits)
	if err != nil {
		return err
	}
	p.Rlimits = rl

	caps, err := capabilities(c, in.HostCapabilities)
	if err != nil {
		return err
	}
	p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: slices.Clone(caps), Permitted: slices.Clone(caps)}

	if len(c.Sysctls) > 0 {
		l.Sysctl = maps.Clone(c.Sysctls)
	}
	for k, v := range in.EndpointSysctls {
		if l.Sysctl == nil {
			l.Sysctl = map[string]string{}
		}
		if _, own := l.Sysctl[k]; !own {
			l.Sysctl[k] = v
		}
	}
	if c.Domainname != "" {
		// runc before 1.2 ignores the domainname field: the UTS sysctl
		// sets it on every version.
		if l.Sysctl == nil {
			l.Sysctl = map[string]string{}
		}
		if _, ok := l.Sysctl["kernel.domainname"]; !ok {
			l.Sysctl["kernel.domainname"] = c.Domainname
		}
	}
	if err := setShm(s, c, in); err != nil {
		return err
	}
	if err := setNamespaces(l, c, in); err != nil {
		return err
	}
	if c.UTSMode == "host" {
		// The host's UTS namespace: its hostname is the container's, and
		// the runtime refuses to set one (or a domain name) there.
		s.Hostname, s.Domainname = "", ""
	}
	if err := setDevices(l, c, in); err != nil {
		return err
	}
	if err := setDeviceCgroupRules(l, c.DeviceCgroupRules); err != nil {
		return err
	}
	if err := setBlkio(l.Resources, c.Resources.Blkio, in); err != nil {
		return err
	}
	if err := setResources(l.Resources, c.Resources); err != nil {
		return err
	}
	if c.Privileged {
		for _, p := range slices.Sorted(maps.Keys(in.HostDevices)) {
			if slices.ContainsFunc(l.Devices, func(d specs.LinuxDevice) bool { return d.Path == p }) {
				continue
			}
			d := in.HostDevices[p]
			mode := os.FileMode(d.Mode & 0o777)
			uid, gid := d.UID, d.GID
			l.Devices = append(l.Devices, specs.LinuxDevice{Path: p, Type: d.Type, Major: d.Major, Minor: d.Minor, FileMode: &mode, UID: &uid, GID: &gid})
		}
		l.MaskedPaths, l.ReadonlyPaths = nil, nil
		l.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		for i := range s.Mounts {
			if d := s.Mounts[i].Destination; d == "/sys" || d == "/sys/fs/cgroup" {
				s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(s.Mounts[i].Options), func(o string) bool { return o == "ro" })
			}
		}
	}
	return setSecurityOpts(s, c, in)
}

// capabilities applies cap_add and cap_drop to Docker's default set the way
// Docker does: drop ALL keeps only the added ones, add ALL gives every
// capability but the dropped ones, otherwise the dropped ones go and the
// added ones come. Privileged gives every capability.
func capabilities(c ContainerConfig, host []string) ([]string, error) {
	all := allCapabilities
	if host != nil {
		all = host
	}
	if c.Privileged {
		return slices.Clone(all), nil
	}
	norm := func(field string, in []string) ([]string, error) {
		var out []string
		for _, n := range in {
			n = strings.ToUpper(strings.TrimSpace(n))
			if n != "ALL" && !strings.HasPrefix(n, "CAP_") {
				n = "CAP_" + n
			}
			if n != "ALL" && !slices.Contains(allCapabilities, n) {
				return nil, invalid("%s: unknown capability %q", field, n)
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	add, err := norm("cap_add", c.CapAdd)
	if err != nil {
		return nil, err
	}
	drop, err := norm("cap_drop", c.CapDrop)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(drop, "ALL"):
		caps = slices.DeleteFunc(slices.Clone(add), func(s string) bool { return s == "ALL" })
		if slices.Contains(add, "ALL") {
			caps = slices.Clone(all)
		}
	case slices.Contains(add, "ALL"):
		for _, n := range all {
			if !slices.Contains(drop, n) {
				caps = append(caps, n)
			}
		}
	default:
		for _, n := range defaultCapabilities {
			if !slices.Contains(drop, n) {
				caps = append(caps, n)
			}
		}
		for _, n := range add {
			if !slices.Contains(caps, n) {
				caps = append(caps, n)
			}
		}
	}
	if caps == nil {
		caps = []string{}
	}
	return caps, nil
}

// containerRlimits is RLIMIT_NOFILE at 1048576 (Docker's default) overlaid
// by the configured ulimits, each clamped to the host's hard limit: raising
// a hard limit needs CAP_SYS_RESOURCE, which berth may not have. The
// warnings say what was clamped.
func containerRlimits(c ContainerConfig, host map[string]uint64) ([]specs.POSIXRlimit, []string, error) {
	want := map[string]specs.POSIXRlimit{"RLIMIT_NOFILE": {Type: "RLIMIT_NOFILE", Hard: defaultNofile, Soft: defaultNofile}}
	for _, name := range slices.Sorted(maps.Keys(c.Ulimits)) {
		u := c.Ulimits[name]
		typ, ok := ulimitTypes[strings.ToLower(name)]
		if !ok {
			return nil, nil, invalid("ulimits: unknown limit %q", name)
		}
		conv := func(v int64) uint64 {
			if v < 0 {
				return math.MaxUint64 // -1: unlimited
			}
			return uint64(v)
		}
		soft, hard := conv(u.Soft), conv(u.Hard)
		if soft > hard {
			return nil, nil, invalid("ulimits: %s: soft limit %d above the hard limit %d", name, u.Soft, u.Hard)
		}
		want[typ] = specs.POSIXRlimit{Type: typ, Hard: hard, Soft: soft}
	}
	var out []specs.POSIXRlimit
	var warnings []string
	for _, typ := range slices.Sorted(maps.Keys(want)) {
		r := want[typ]
		if h, ok := host[typ]; ok && h > 0 && r.Hard > h {
			if _, asked := c.Ulimits[strings.ToLower(strings.TrimPrefix(typ, "RLIMIT_"))]; asked {
				warnings = append(warnings, fmt.Sprintf("ulimit %s: hard limit %d above the host's %d: clamped", strings.ToLower(strings.TrimPrefix(typ, "RLIMIT_")), r.Hard, h))
			}
			r.Hard = h
			r.Soft = min(r.Soft, h)
		}
		out = append(out, r)
	}
	return out, warnings, nil
}

// RlimitWarnings says which of c's ulimits OCISpec clamps to the host's
// hard limits, for Start to log.
func RlimitWarnings(c ContainerConfig, host map[string]uint64) []string {
	_, w, _ := containerRlimits(c, host)
	return w
}

// setShm sizes /dev/shm, or binds the host's (ipc host) or the other
// container's (ipc container:…).
func setShm(s *specs.Spec, c ContainerConfig, in SpecInputs) error {
	if c.ShmSize < 0 {
		return invalid("shm_size %d: negative", c.ShmSize)
	}
	i := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev/shm" && m.Source == "shm" })
	if i < 0 {
		return nil // a configured mount covers it
	}
	switch {
	case c.IpcMode == "host":
		s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}}
	case strings.HasPrefix(c.IpcMode, "container:"):
		if in.IpcShmPath == "" {
			return invalid("ipc %q: the container's /dev/shm is unknown", c.IpcMode)
		}
		s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: in.IpcShmPath, Options: []string{"rbind", "rprivate"}}
	case c.ShmSize > 0:
		m := &s.Mounts[i]
		m.Options = slices.Clone(m.Options)
		m.Options[len(m.Options)-1] = fmt.Sprintf("size=%d", c.ShmSize)
	}
	return nil
}

// setNamespaces applies the pid and ipc modes: "host" leaves the namespace
// out, "container:<id>" joins the other container's (its path found by
// Start).
func setNamespaces(l *specs.Linux, c ContainerConfig, in SpecInputs) error {
	for _, m := range []struct {
		field, mode, path string
		typ               specs.LinuxNamespaceType
		modes             []string
	}{
		{"pid", c.PidMode, in.PidNSPath, specs.PIDNamespace, []string{"", "host"}},
		{"ipc", c.IpcMode, in.IpcNSPath, specs.IPCNamespace, []string{"", "host", "private", "shareable"}},
		{"uts", c.UTSMode, "", specs.UTSNamespace, []string{"", "host"}},
	} {
		i := slices.IndexFunc(l.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == m.typ })
		switch {
		case m.mode == "host":
			l.Namespaces = slices.Delete(l.Namespaces, i, i+1)
		case strings.HasPrefix(m.mode, "container:"):
			if m.path == "" {
				return invalid("%s %q: the container's namespace is unknown", m.field, m.mode)
			}
			l.Namespaces[i].Path = m.path
		case !slices.Contains(m.modes, m.mode):
			return invalid("%s %q: want host or container:<name>", m.field, m.mode)
		}
	}
	switch c.CgroupnsMode {
	case "", "host":
	case "private":
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	default:
		return invalid("cgroup %q: want host or private", c.CgroupnsMode)
	}
	if c.UTSMode == "host" && (c.Hostname != "" || c.Domainname != "") {
		return invalid("uts host: a hostname or domain name cannot be set")
	}
	if strings.Contains(c.CgroupParent, "..") {
		return invalid("cgroup_parent %q: must not leave the hierarchy", c.CgroupParent)
	}
	return nil
}

// ParseDevice reads a device mapping, "host[:container[:permissions]]".
func ParseDevice(d string) (host, ctr, perms string, err error) {
	parts := strings.Split(d, ":")
	if len(parts) > 3 || parts[0] == "" {
		return "", "", "", invalid("devices: %q: want HOST[:CONTAINER[:PERMISSIONS]]", d)
	}
	host, ctr, perms = parts[0], parts[0], "rwm"
	if len(parts) > 1 && parts[1] != "" {
		ctr = parts[1]
	}
	if len(parts) > 2 {
		perms = parts[2]
	}
	if len(parts) == 2 && strings.Trim(parts[1], "rwm") == "" {
		ctr, perms = host, parts[1] // "host:rw"
	}
	if perms == "" || strings.Trim(perms, "rwm") != "" {
		return "", "", "", invalid("devices: %q: permissions %q: want some of r, w, m", d, perms)
	}
	if !strings.HasPrefix(host, "/") || !strings.HasPrefix(ctr, "/") {
		return "", "", "", invalid("devices: %q: not absolute paths", d)
	}
	return host, ctr, perms, nil
}

func setDevices(l *specs.Linux, c ContainerConfig, in SpecInputs) error {
	for _, d := range c.Devices {
		host, ctr, perms, err := ParseDevice(d)
		if err != nil {
			return err
		}
		info, ok := in.Devices[host]
		if !ok {
			return invalid("devices: %q: no such device on the host", host)
		}
		mode := os.FileMode(info.Mode & 0o777)
		uid, gid := info.UID, info.GID
		major, minor := info.Major, info.Minor
		l.Devices = append(l.Devices, specs.LinuxDevice{
			Path: ctr, Type: info.Type, Major: major, Minor: minor,
			FileMode: &mode, UID: &uid, GID: &gid,
		})
		l.Resources.Devices = append(l.Resources.Devices, specs.LinuxDeviceCgroup{
			Allow: true, Type: info.Type, Major: &major, Minor: &minor, Access: perms,
		})
	}
	return nil
}

// setResources sets the cgroup limits. The runtime writes them to cgroups
// v1 or v2, whichever the host has (shares become a weight on v2).
func setResources(r *specs.LinuxResources, res Resources) error {
	if res.MemLimit < 0 || res.MemReservation < 0 || res.CPUs < 0 || res.CPUShares < 0 {
		return invalid("resources: negative limit")
	}
	if res.MemLimit > 0 && res.MemLimit < 6<<20 {
		return invalid("mem_limit %d: below the minimum of 6 MiB", res.MemLimit)
	}
	if res.MemSwapLimit > 0 && res.MemSwapLimit < res.MemLimit {
		return invalid("memswap_limit %d: below mem_limit %d", res.MemSwapLimit, res.MemLimit)
	}
	if res.MemSwapLimit > 0 && res.MemLimit == 0 {
		return invalid("memswap_limit: set without mem_limit")
	}
	if res.MemLimit > 0 || res.MemReservation > 0 || res.MemSwapLimit != 0 {
		r.Memory = &specs.LinuxMemory{}
		if res.MemLimit > 0 {
			r.Memory.Limit = ptr(res.MemLimit)
		}
		if res.MemReservation > 0 {
			r.Memory.Reservation = ptr(res.MemReservation)
		}
		if res.MemSwapLimit != 0 {
			r.Memory.Swap = ptr(res.MemSwapLimit)
		}
	}
	if res.CPUs > 0 || res.CPUShares > 0 {
		r.CPU = &specs.LinuxCPU{}
		if res.CPUs > 0 {
			q := int64(math.Round(res.CPUs * cpuPeriod))
			if q < 1000 {
				return invalid("cpus %g: below the minimum of 0.01", res.CPUs)
			}
			r.CPU.Quota = &q
			r.CPU.Period = ptr(uint64(cpuPeriod))
		}
		if res.CPUShares > 0 {
			r.CPU.Shares = ptr(uint64(res.CPUShares))
		}
	}
	if res.PidsLimit != 0 {
		r.Pids = &specs.LinuxPids{Limit: ptr(res.PidsLimit)}
	}
	return setMoreResources(r, res)
}

// setMoreResources sets the cpuset, the CPU quota and period, the
// real-time CPU budget, swappiness and the OOM killer switch.
func setMoreResources(r *specs.LinuxResources, res Resources) error {
	switch {
	case res.CPUQuota < 0 || res.CPUPeriod < 0 || res.CPURTRuntime < 0 || res.CPURTPeriod < 0:
		return invalid("resources: negative CPU quota or period")
	case res.CPUPeriod != 0 && (res.CPUPeriod < 1000 || res.CPUPeriod > 1000000):
		return invalid("cpu_period %d: want 1000-1000000 µs", res.CPUPeriod)
	case res.CPUQuota != 0 && res.CPUQuota < 1000:
		return invalid("cpu_quota %d: below the minimum of 1000 µs", res.CPUQuota)
	case res.MemSwappiness < 0 || res.MemSwappiness > 100:
		return invalid("mem_swappiness %d: want 0-100", res.MemSwappiness)
	case res.CpusetCpus != "" && !validCpuset(res.CpusetCpus):
		return invalid("cpuset %q: want a list such as 0-2,4", res.CpusetCpus)
	case res.CpusetMems != "" && !validCpuset(res.CpusetMems):
		return invalid("cpuset_mems %q: want a list such as 0-1", res.CpusetMems)
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	if res.CpusetCpus != "" {
		cpu().Cpus = res.CpusetCpus
	}
	if res.CpusetMems != "" {
		cpu().Mems = res.CpusetMems
	}
	if res.CPUQuota > 0 && res.CPUs == 0 {
		cpu().Quota = ptr(res.CPUQuota)
	}
	if res.CPUPeriod > 0 && res.CPUs == 0 {
		cpu().Period = ptr(uint64(res.CPUPeriod))
	}
	if res.CPURTRuntime > 0 {
		cpu().RealtimeRuntime = ptr(res.CPURTRuntime)
	}
	if res.CPURTPeriod > 0 {
		cpu().RealtimePeriod = ptr(uint64(res.CPURTPeriod))
	}
	if res.MemSwappiness > 0 || res.OomKillDisable {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if res.MemSwappiness > 0 {
			r.Memory.Swappiness = ptr(uint64(res.MemSwappiness))
		}
		if res.OomKillDisable {
			r.Memory.DisableOOMKiller = ptr(true)
		}
	}
	return nil
}

// validCpuset tells whether s is a list of CPUs and ranges: "0", "0-3,6".
func validCpuset(s string) bool {
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		if err1 != nil {
			return false
		}
		if isRange {
			b, err2 := strconv.ParseUint(hi, 10, 16)
			if err2 != nil || b < a {
				return false
			}
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

// setSecurityOpts applies security_opt (no-new-privileges, seccomp,
// apparmor=unconfined, label=disable) and the default seccomp profile,
// which depends on the container's capabilities.
func setSecurityOpts(s *specs.Spec, c ContainerConfig, in SpecInputs) error {
	profile := "default"
	if c.Privileged {
		profile = "unconfined"
	}
	for _, o := range c.SecurityOpt {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		switch k {
		case "no-new-privileges":
			b := true
			if ok {
				var err error
				if b, err = strconv.ParseBool(v); err != nil {
					return invalid("security_opt %q: not a boolean", o)
				}
			}
			s.Process.NoNewPrivileges = b
		case "seccomp":
			switch {
			case !ok || v == "":
				return invalid("security_opt %q: want seccomp=unconfined or seccomp=<profile file>", o)
			case v == "unconfined":
				profile = v
			case !c.Privileged: // Docker ignores profiles of privileged containers
				profile = "file"
			}
		case "apparmor", "label":
			// berth applies no AppArmor profile or SELinux label: only
			// turning them off is a faithful translation.
			if !ok || (v != "unconfined" && v != "disable") {
				return invalid("security_opt %q: not supported (only apparmor=unconfined and label=disable)", o)
			}
		default:
			return invalid("security_opt %q: not supported", o)
		}
	}
	var err error
	switch profile {
	case "unconfined":
		s.Linux.Seccomp = nil
	case "file":
		s.Linux.Seccomp, err = seccomp.LoadProfile(string(in.SeccompProfile), s)
	default:
		s.Linux.Seccomp, err = seccomp.GetDefaultProfile(s)
		if err == nil && !x32Served() {
			dropArch(s.Linux.Seccomp, specs.ArchX32)
		}
	}
	if err != nil {
		return invalid("security_opt: seccomp profile: %v", err)
	}
	return nil
}

// dropArch removes arch from the architectures profile p filters.
//
// Docker's default profile on amd64 names three: x86_64, x86 and x32. A
// kernel without the x32 ABI refuses every x32 system call before any
// filter could matter, yet runc compiles the whole profile for each
// architecture named, in every container it starts: about a fifth of a
// container's start (runc run of a busybox container: 41 ms with all three,
// 33 ms without x32, 20 ms with no profile). So berth leaves x32 out where
// the kernel cannot serve it. What differs from Docker there is only how an
// x32 system call, which fails either way, fails: ENOSYS (or EPERM) under
// Docker's filter, the filter's kill (SIGSYS) under berth's, as for any
// architecture the filter does not name.
func dropArch(p *specs.LinuxSeccomp, arch specs.Arch) {
	if p != nil {
		p.Architectures = slices.DeleteFunc(p.Architectures, func(a specs.Arch) bool { return a == arch })
	}
}

// SeccompFile is the profile file security_opt names (seccomp=<file>), or "".
func SeccompFile(c ContainerConfig) string {
	for _, o := range c.SecurityOpt {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		if k == "seccomp" && ok && v != "unconfined" && v != "" {
			return v
		}
	}
	return ""
}
