package spec

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
)

// Where Docker Compose mounts a config or secret whose target is empty or
// relative.
const (
	secretsDir = "/run/secrets/"
	configsDir = "/"
)

// convertService converts an enabled service; the FieldErrors (without
// File) are the values of its fields berth cannot run.
func convertService(project, name string, s types.ServiceConfig) (Service, []FieldError) {
	out := Service{
		Name:          name,
		Image:         s.Image,
		ContainerName: s.ContainerName,
		Entrypoint:    cloneCommand(s.Entrypoint),
		Command:       cloneCommand(s.Command),
		Environment:   environment(s.Environment),
		WorkingDir:    s.WorkingDir,
		User:          s.User,
		Hostname:      s.Hostname,
		Domainname:    s.DomainName,
		Init:          s.Init != nil && *s.Init,
		Labels:        cloneLabels(s.Labels),
		VolumesFrom:   cloneList(s.VolumesFrom),
		Scale:         s.GetScale(),
		Restart:       s.Restart,
		StopSignal:    s.StopSignal,
		Profiles:      slices.Clone(s.Profiles),
		PullPolicy:    s.PullPolicy,

		Healthcheck: healthcheck(s.HealthCheck),
		Expose:      exposed(s.Expose),

		Tty:        s.Tty,
		StdinOpen:  s.StdinOpen,
		ReadOnly:   s.ReadOnly,
		Privileged: s.Privileged,

		GroupAdd:    cloneList(s.GroupAdd),
		CapAdd:      normalizeCaps(s.CapAdd),
		CapDrop:     normalizeCaps(s.CapDrop),
		SecurityOpt: cloneList(s.SecurityOpt),
		Sysctls:     cloneMap(s.Sysctls),
		Ulimits:     ulimits(s.Ulimits),
		Devices:     devices(s.Devices),
		Tmpfs:       cloneList(s.Tmpfs),

		ShmSize:        int64(s.ShmSize),
		MemLimit:       int64(s.MemLimit),
		MemReservation: int64(s.MemReservation),
		MemSwapLimit:   int64(s.MemSwapLimit),
		CPUs:           cpus(s.CPUS),
		CPUShares:      s.CPUShares,
		PidsLimit:      s.PidsLimit,
		OomScoreAdj:    int(s.OomScoreAdj),

		Pid:         s.Pid,
		Ipc:         s.Ipc,
		NetworkMode: s.NetworkMode,
		MacAddress:  s.MacAddress,
		DNS:         cloneList(s.DNS),
		DNSSearch:   cloneList(s.DNSSearch),
		DNSOpt:      cloneList(s.DNSOpts),

		Logging: logging(s.Logging),

		CgroupParent:   s.CgroupParent,
		Cgroup:         s.Cgroup,
		Cpuset:         s.CPUSet,
		CPUQuota:       s.CPUQuota,
		CPUPeriod:      s.CPUPeriod,
		CPURTRuntime:   s.CPURTRuntime,
		CPURTPeriod:    s.CPURTPeriod,
		MemSwappiness:  int64(s.MemSwappiness),
		OomKillDisable: s.OomKillDisable,
		Uts:            s.Uts,
		UsernsMode:     s.UserNSMode,
		Annotations:    cloneLabels(types.Labels(s.Annotations)),
		NoAttach:       s.Attach != nil && !*s.Attach,
		Links:          cloneList(s.Links),
		ExternalLinks:  cloneList(s.ExternalLinks),
		Develop:        develop(s.Develop),
	}
	if b := s.Build; b != nil {
		out.Build = &Build{
			Context: b.Context, Dockerfile: b.Dockerfile, DockerfileInline: b.DockerfileInline,
			Target: b.Target, Labels: cloneLabels(b.Labels), Tags: cloneList(b.Tags),
			NoCache: b.NoCache, Pull: b.Pull, Network: b.Network, Privileged: b.Privileged,
			Entitlements:       cloneList(b.Entitlements),
			ShmSize:            int64(b.ShmSize),
			NoCacheFilter:      cloneList(b.NoCacheFilter),
			AdditionalContexts: cloneMap(b.AdditionalContexts),
			Ulimits:            ulimits(b.Ulimits),
		}
		if len(b.ExtraHosts) > 0 {
			out.Build.ExtraHosts = b.ExtraHosts.AsList("=")
			slices.Sort(out.Build.ExtraHosts)
		}
		for _, r := range b.Secrets {
			id := r.Source
			if r.Target != "" {
				id = r.Target
			}
			out.Build.Secrets = append(out.Build.Secrets, BuildSecret{ID: id, Source: r.Source})
		}
		for _, k := range b.SSH {
			if out.Build.SSH == nil {
				out.Build.SSH = map[string]string{}
			}
			out.Build.SSH[k.ID] = k.Path
		}
		for k, v := range b.Args {
			if v != nil {
				if out.Build.Args == nil {
					out.Build.Args = map[string]string{}
				}
				out.Build.Args[k] = *v
			}
		}
		if out.Image == "" {
			out.Image = ImageOrDefault("", project, name)
		}
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		out.StopGracePeriod = &d
	}
	if len(s.ExtraHosts) > 0 {
		out.ExtraHosts = s.ExtraHosts.AsList("=")
		slices.Sort(out.ExtraHosts)
	}
	foldDeploy(&out, s.Deploy)
	out.Networks = serviceNetworks(s.Networks)
	for _, v := range s.Volumes {
		out.Mounts = append(out.Mounts, mount(v))
	}
	out.DependsOn = dependencies(s.DependsOn)
	out.Blkio = blkio(s.BlkioConfig)
	out.DeviceCgroupRules = cloneList(s.DeviceCgroupRules)
	out.Runtime = s.Runtime
	if s.Umask != nil {
		u := *s.Umask
		out.Umask = &u
	}
	out.PostStart = hooks(s.PostStart)
	out.PreStop = hooks(s.PreStop)
	var errs []FieldError
	for i, h := range s.PreStart {
		if h.PerReplica {
			errs = append(errs, FieldError{Path: fmt.Sprintf("services.%s.pre_start[%d].per_replica", name, i), Issue: "per_replica is not yet supported (nor by Docker Compose)", Err: errdefs.ErrNotImplemented})
		}
		hs, herrs := convertService(project, name, types.ServiceConfig{Name: name, ContainerSpec: h.ContainerSpec})
		errs = append(errs, herrs...)
		out.PreStart = append(out.PreStart, hs)
	}
	for _, c := range s.Configs {
		out.Configs = append(out.Configs, fileRef(types.FileReferenceConfig(c), configsDir))
	}
	for _, c := range s.Secrets {
		out.Secrets = append(out.Secrets, fileRef(types.FileReferenceConfig(c), secretsDir))
	}
	var perrs []FieldError
	out.Ports, perrs = ports(name, s.Ports)
	errs = append(errs, perrs...)
	if out.Build != nil {
		for _, h := range out.Build.ExtraHosts {
			_, ip, _ := strings.Cut(h, "=")
			if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil && ip != "host-gateway" {
				errs = append(errs, FieldError{Path: "services." + name + ".build.extra_hosts", Issue: fmt.Sprintf("%q: %q is not an IP address", h, ip), Err: errdefs.ErrInvalidArgument})
			}
		}
	}
	for i, m := range out.Mounts {
		if (m.Recursive == "writable" || m.Recursive == "readonly") && !m.ReadOnly {
			errs = append(errs, FieldError{Path: fmt.Sprintf("services.%s.volumes[%d].bind.recursive", name, i),
				Issue: strconv.Quote(m.Recursive) + " needs read_only: true", Err: errdefs.ErrInvalidArgument})
		}
	}
	if s.PullPolicy != "" {
		policy, every, err := s.GetPullPolicy()
		if err != nil {
			errs = append(errs, FieldError{Path: "services." + name + ".pull_policy", Issue: err.Error(), Err: errdefs.ErrInvalidArgument})
		}
		if policy == types.PullPolicyRefresh {
			out.PullPolicy, out.PullRefresh = policy, every
		}
	}
	if s.PullRefreshAfter != "" {
		// The interval of a plain pull_policy: refresh, written as
		// every_<duration> takes it; with a policy that names its own
		// interval, or no refresh at all, it has no effect.
		var every types.ServiceConfig
		every.PullPolicy = "every_" + s.PullRefreshAfter
		_, after, err := every.GetPullPolicy()
		switch {
		case err != nil || after <= 0:
			errs = append(errs, FieldError{Path: "services." + name + ".pull_refresh_after", Issue: strconv.Quote(s.PullRefreshAfter) + " is not a duration", Err: errdefs.ErrInvalidArgument})
		case s.PullPolicy == types.PullPolicyRefresh:
			out.PullRefresh = after
		}
	}
	return out, errs
}

// serviceNetworks converts the networks a service joins, sorted by name.
func serviceNetworks(in map[string]*types.ServiceNetworkConfig) []ServiceNetwork {
	var out []ServiceNetwork
	for _, key := range slices.Sorted(maps.Keys(in)) {
		sn := ServiceNetwork{Name: key}
		if c := in[key]; c != nil {
			sn.Aliases = slices.Clone(c.Aliases)
			sn.IPv4Address = c.Ipv4Address
			sn.IPv6Address = c.Ipv6Address
			sn.MacAddress = c.MacAddress
			sn.Priority = c.Priority
			sn.GwPriority = c.GatewayPriority
			sn.InterfaceName = c.InterfaceName
			sn.LinkLocalIPs = cloneList(c.LinkLocalIPs)
			sn.DriverOpts = cloneMap(c.DriverOpts)
			sn.NoServiceAlias = !c.ServiceNameAliasEnabled()
		}
		out = append(out, sn)
	}
	return out
}

// blkio converts blkio_config; nil when it sets nothing.
func blkio(b *types.BlkioConfig) *Blkio {
	if b == nil {
		return nil
	}
	throttles := func(in []types.ThrottleDevice) []BlkioThrottle {
		var out []BlkioThrottle
		for _, t := range in {
			out = append(out, BlkioThrottle{Path: t.Path, Rate: uint64(t.Rate)})
		}
		return out
	}
	out := &Blkio{
		Weight:        b.Weight,
		DeviceReadBps: throttles(b.DeviceReadBps), DeviceWriteBps: throttles(b.DeviceWriteBps),
		DeviceReadIOps: throttles(b.DeviceReadIOps), DeviceWriteIOps: throttles(b.DeviceWriteIOps),
	}
	for _, w := range b.WeightDevice {
		out.WeightDevice = append(out.WeightDevice, BlkioWeightDevice{Path: w.Path, Weight: w.Weight})
	}
	if out.Weight == 0 && out.WeightDevice == nil && out.DeviceReadBps == nil && out.DeviceWriteBps == nil &&
		out.DeviceReadIOps == nil && out.DeviceWriteIOps == nil {
		return nil
	}
	return out
}

// hooks converts post_start or pre_stop; nil when empty.
func hooks(in []types.ServiceHook) []Hook {
	var out []Hook
	for _, h := range in {
		out = append(out, execCommand(h))
	}
	return out
}

// dependencies converts depends_on, sorted by service.
func dependencies(in types.DependsOnConfig) []Dependency {
	var out []Dependency
	for _, dep := range slices.Sorted(maps.Keys(in)) {
		d := in[dep]
		out = append(out, Dependency{
			Service:   dep,
			Condition: d.Condition,
			Required:  d.Required,
			Restart:   d.Restart,
		})
	}
	return out
}

func mount(v types.ServiceVolumeConfig) Mount {
	m := Mount{
		Type:     v.Type,
		Source:   v.Source,
		Target:   v.Target,
		ReadOnly: v.ReadOnly,
	}
	if v.Volume != nil {
		m.NoCopy = v.Volume.NoCopy
		m.Subpath = v.Volume.Subpath
		m.VolumeLabels = cloneMap(v.Volume.Labels)
	}
	if v.Type == types.VolumeTypeImage {
		m.ReadOnly = true // an image is mounted read-only, as Docker does
		if v.Image != nil {
			m.Subpath = v.Image.SubPath
		}
	}
	if v.Bind != nil {
		m.Propagation = v.Bind.Propagation
		m.Recursive = v.Bind.Recursive
		// compose-go sets create_host_path for the short syntax and fills
		// in true for a bind: block that leaves it out.
		m.CreateHostPath = v.Type == types.VolumeTypeBind && bool(v.Bind.CreateHostPath)
	}
	if v.Tmpfs != nil {
		m.TmpfsSize = int64(v.Tmpfs.Size)
		m.TmpfsMode = v.Tmpfs.Mode
	}
	return m
}

// foldDeploy applies deploy.resources and deploy.restart_policy the way
// Docker Compose does when it creates a container: resource limits fill
// the top-level fields they share (compose-go has already rejected
// differing values), and a restart policy replaces restart.
func foldDeploy(out *Service, d *types.DeployConfig) {
	if d == nil {
		return
	}
	if l := d.Resources.Limits; l != nil {
		if out.MemLimit == 0 {
			out.MemLimit = int64(l.MemoryBytes)
		}
		if out.CPUs == 0 {
			out.CPUs = cpus(float32(l.NanoCPUs))
		}
		if out.PidsLimit == 0 && l.Pids > 0 {
			out.PidsLimit = l.Pids
		}
	}
	if r := d.Resources.Reservations; r != nil && out.MemReservation == 0 {
		out.MemReservation = int64(r.MemoryBytes)
	}
	if rp := d.RestartPolicy; rp != nil {
		out.Restart = restartFromDeploy(rp)
	}
}

// restartFromDeploy maps a deploy.restart_policy onto the restart
// attribute's values, as Docker Compose maps it onto the engine's policy.
// Other conditions are kept as written.
func restartFromDeploy(rp *types.RestartPolicy) string {
	switch rp.Condition {
	case "none", types.RestartPolicyNo:
		return types.RestartPolicyNo
	case "any", types.RestartPolicyAlways:
		return types.RestartPolicyAlways
	case types.RestartPolicyOnFailure:
		if rp.MaxAttempts != nil && *rp.MaxAttempts > 0 {
			return types.RestartPolicyOnFailure + ":" + strconv.FormatUint(*rp.MaxAttempts, 10)
		}
		return types.RestartPolicyOnFailure
	}
	return rp.Condition
}

// healthcheck converts a healthcheck; nil when the file sets nothing that
// changes the image's. A disabled check always has the test ["NONE"], as
// Docker Compose sends it.
func healthcheck(h *types.HealthCheckConfig) *Healthcheck {
	if h == nil {
		return nil
	}
	out := &Healthcheck{
		Test:          cloneList(h.Test),
		Interval:      duration(h.Interval),
		Timeout:       duration(h.Timeout),
		StartPeriod:   duration(h.StartPeriod),
		StartInterval: duration(h.StartInterval),
		Disable:       h.Disable || len(h.Test) > 0 && h.Test[0] == "NONE",
	}
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	if out.Disable {
		out.Test = []string{"NONE"}
	}
	if out.isZero() {
		return nil
	}
	return out
}

func (h *Healthcheck) isZero() bool {
	return h.Test == nil && h.Interval == 0 && h.Timeout == 0 && h.StartPeriod == 0 &&
		h.StartInterval == 0 && h.Retries == 0 && !h.Disable
}

func duration(d *types.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

// normalizeCaps writes capabilities the way the engine compares them: upper
// case with the CAP_ prefix ("net_admin" and "CAP_NET_ADMIN" are the same),
// "ALL" as is; sorted, without duplicates.
func normalizeCaps(caps []string) []string {
	var out []string
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ulimits converts ulimits; a single value sets both limits, and a soft or
// hard limit given alone is 0 for the other, as Docker Compose sends it.
func ulimits(in map[string]*types.UlimitsConfig) map[string]Ulimit {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]Ulimit, len(in))
	for name, u := range in {
		if u == nil {
			continue
		}
		l := Ulimit{Soft: int64(u.Single), Hard: int64(u.Single)}
		if u.Soft != 0 {
			l.Soft = int64(u.Soft)
		}
		if u.Hard != 0 {
			l.Hard = int64(u.Hard)
		}
		out[name] = l
	}
	return out
}

// devices writes each device as "host:container:permissions", filling in
// what the short syntax leaves out as Docker does. A CDI device name has no
// container path or permissions and is kept alone.
func devices(in []types.DeviceMapping) []string {
	var out []string
	for _, d := range in {
		target := cmp.Or(d.Target, d.Source)
		if isCDIName(d.Source) && target == d.Source {
			out = append(out, d.Source)
			continue
		}
		out = append(out, d.Source+":"+target+":"+cmp.Or(d.Permissions, "rwm"))
	}
	return out
}

// isCDIName reports whether s looks like a fully qualified CDI device name,
// "vendor.com/class=name", rather than a device path.
func isCDIName(s string) bool {
	kind, name, ok := strings.Cut(s, "=")
	return ok && name != "" && !strings.HasPrefix(s, "/") && strings.Contains(kind, "/")
}

// cpus converts compose-go's float32 CPU count without the noise a plain
// conversion adds (0.1 stays 0.1, not 0.10000000149011612).
func cpus(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64) // cannot fail: a formatted float
	return v
}

func logging(l *types.LoggingConfig) *Logging {
	if l == nil || l.Driver == "" && len(l.Options) == 0 {
		return nil
	}
	return &Logging{Driver: l.Driver, Options: cloneMap(l.Options)}
}

// fileRef converts a service's config or secret reference, resolving the
// target against dir as Docker Compose does.
func fileRef(r types.FileReferenceConfig, dir string) FileRef {
	out := FileRef{Source: r.Source, Target: r.Target, UID: r.UID, GID: r.GID}
	switch {
	case out.Target == "":
		out.Target = dir + r.Source
	case !path.IsAbs(out.Target):
		out.Target = dir + out.Target
	}
	if r.Mode != nil {
		m := uint32(*r.Mode)
		out.Mode = &m
	}
	return out
}

// exposed normalises expose entries to Docker's "PORT/PROTO" form, one per
// port (a range is expanded), sorted and without duplicates; an entry that
// is not a port or range is kept as written, and the support check reports
// it.
func exposed(in []string) []string {
	var out []string
	for _, e := range in {
		ports, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		lo, hi, isRange := strings.Cut(ports, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || a == 0 || b < a || b-a > 65535 {
			out = append(out, e)
			continue
		}
		for p := a; p <= b; p++ {
			out = append(out, strconv.FormatUint(p, 10)+"/"+proto)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
