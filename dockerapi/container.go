// Package dockerapi turns berth's objects into the Docker Engine API's
// documents (the types of github.com/moby/moby/api): what `berth container
// inspect`, `ps`, `image ls` … print and what `berth serve` answers with.
// Each document is built here once, from the engine's values alone. Server
// is `berth serve`'s Docker Engine API over the engine: an adapter that
// translates each request into engine calls and keeps no state of its own
// beyond the exec instances and streams in flight.
package dockerapi

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
)

// Objects are the other objects a container's documents mention: its
// networks (for their IDs, gateways and prefix lengths) and its named
// volumes (for their data directories). A missing entry leaves those
// fields empty.
type Objects struct {
	Networks map[string]*netmgr.Network // by name
	Volumes  map[string]*engine.Volume  // by name
}

// zeroTime is how Docker prints a time that has not happened.
const zeroTime = "0001-01-01T00:00:00Z"

// Time formats t as Docker's documents do: RFC 3339 with nanoseconds, UTC.
func Time(t time.Time) string {
	if t.IsZero() {
		return zeroTime
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ContainerInspect is `GET /containers/{id}/json`: c as `docker inspect`
// shows it. File contents of configs and secrets are not shown.
func ContainerInspect(c *engine.Container, o Objects) container.InspectResponse {
	args := c.Args()
	out := container.InspectResponse{
		ID:             string(c.ID),
		Created:        Time(c.Created),
		Args:           []string{},
		State:          containerState(c.State),
		Image:          c.ImageID,
		ResolvConfPath: c.ResolvConfPath(),
		HostnamePath:   c.HostnamePath(),
		HostsPath:      c.HostsPath(),
		LogPath:        c.LogPath(),
		Name:           "/" + c.Config.Name,
		RestartCount:   c.State.RestartCount,
		Driver:         "overlayfs",
		Platform:       "linux",
		HostConfig:     hostConfig(c),
		Mounts:         mountPoints(c, o),
		Config:         containerConfig(c),
		NetworkSettings: &container.NetworkSettings{
			SandboxID: sandboxID(c),
			Ports:     portMap(c),
			Networks:  endpoints(c, o),
		},
	}
	if len(args) > 0 {
		out.Path, out.Args = args[0], slices.Clone(args[1:])
	}
	return out
}

// ContainerSummary is one element of `GET /containers/json` (`docker ps`),
// its Status worded at now.
func ContainerSummary(c *engine.Container, o Objects, now time.Time) container.Summary {
	s := container.Summary{
		ID:      string(c.ID),
		Names:   []string{"/" + c.Config.Name},
		Image:   image.FamiliarName(c.Config.Image),
		ImageID: c.ImageID,
		Command: summaryCommand(c.Args()),
		Created: c.Created.Unix(),
		Ports:   portSummaries(c),
		Labels:  labels(c),
		State:   container.ContainerState(c.State.Status),
		Status:  Status(c.State, now),
		Health:  &container.HealthSummary{Status: container.NoHealthcheck},
		NetworkSettings: &container.NetworkSettingsSummary{
			Networks: endpoints(c, o),
		},
		Mounts: mountPoints(c, o),
	}
	s.HostConfig.NetworkMode = string(networkMode(c))
	if h := c.State.Health; h != nil {
		s.Health = &container.HealthSummary{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
	}
	return s
}

// summaryCommand is the command line `docker ps` shows: the arguments
// holding a space in single quotes.
func summaryCommand(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if i > 0 && strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// Status is Docker's human status of a container at now: "Up 3 seconds
// (healthy)", "Exited (0) 2 minutes ago".
func Status(s engine.State, now time.Time) string {
	switch s.Status {
	case engine.StatusRunning:
		up := "Up " + units.HumanDuration(now.Sub(s.StartedAt))
		if s.Health != nil {
			up += " (" + s.Health.Status + ")"
		}
		return up
	case engine.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
	case engine.StatusPaused:
		return "Up " + units.HumanDuration(now.Sub(s.StartedAt)) + " (Paused)"
	case engine.StatusExited:
		if s.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", s.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
	case engine.StatusCreated:
		return "Created"
	case engine.StatusDead:
		return "Dead"
	}
	return string(s.Status)
}

func containerState(s engine.State) *container.State {
	out := &container.State{
		Status:     container.ContainerState(s.Status),
		Running:    s.Status == engine.StatusRunning || s.Status == engine.StatusPaused || s.Status == engine.StatusRestarting,
		Paused:     s.Status == engine.StatusPaused,
		Restarting: s.Status == engine.StatusRestarting,
		OOMKilled:  s.OOMKilled,
		Dead:       s.Status == engine.StatusDead,
		Pid:        s.Pid,
		ExitCode:   s.ExitCode,
		Error:      s.Error,
		StartedAt:  Time(s.StartedAt),
		FinishedAt: Time(s.FinishedAt),
	}
	if h := s.Health; h != nil {
		out.Health = &container.Health{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
		for _, r := range h.Log {
			out.Health.Log = append(out.Health.Log, &container.HealthcheckResult{Start: r.Start, End: r.End, ExitCode: r.ExitCode, Output: r.Output})
		}
	}
	return out
}

// containerConfig is inspect's Config: the container's settings over its
// image's, as Docker merges them.
func containerConfig(c *engine.Container) *container.Config {
	cfg, img := c.Config, c.ImageConfig
	ep, cmd := cfg.Entrypoint, cfg.Cmd
	if ep == nil {
		ep = img.Entrypoint
		if cmd == nil {
			cmd = img.Cmd
		}
	}
	out := &container.Config{
		Hostname:     cfg.Hostname,
		Domainname:   cfg.Domainname,
		User:         cmp.Or(cfg.User, img.User),
		AttachStdout: !cfg.OpenStdin || cfg.Tty,
		AttachStderr: !cfg.OpenStdin || cfg.Tty,
		AttachStdin:  cfg.OpenStdin,
		ExposedPorts: exposedPorts(c),
		Tty:          cfg.Tty,
		OpenStdin:    cfg.OpenStdin,
		Env:          mergeEnv(img.Env, cfg.Env),
		Cmd:          slices.Clone(cmd),
		Healthcheck:  healthConfig(c),
		Image:        image.FamiliarName(cfg.Image),
		WorkingDir:   cmp.Or(cfg.WorkingDir, img.WorkingDir),
		Entrypoint:   slices.Clone(ep),
		Labels:       labels(c),
		StopSignal:   c.StopSignal,
	}
	if out.Hostname == "" && len(c.ID) >= 12 {
		out.Hostname = string(c.ID[:12])
	}
	if len(img.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for _, v := range img.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	if cfg.StopTimeout != nil {
		secs := int(cfg.StopTimeout.Seconds())
		out.StopTimeout = &secs
	}
	return out
}

// mergeEnv is the image's environment with the container's variables
// over it, in the image's order and then the container's.
func mergeEnv(img, ctr []string) []string {
	out := slices.Clone(img)
	for _, kv := range ctr {
		k, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { ek, _, _ := strings.Cut(e, "="); return ek == k })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// labels are the image's labels with the container's over them, as Docker
// gives a container.
func labels(c *engine.Container) map[string]string {
	out := maps.Clone(c.ImageConfig.Labels)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, c.Config.Labels)
	return out
}

func healthConfig(c *engine.Container) *container.HealthConfig {
	if h := c.Config.Healthcheck; h != nil {
		return &container.HealthConfig{Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	if h := c.ImageConfig.Healthcheck; h != nil {
		return &container.HealthConfig{Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return nil
}

func networkMode(c *engine.Container) container.NetworkMode {
	switch {
	case c.Config.NetworkMode != "":
		return container.NetworkMode(c.Config.NetworkMode)
	case len(c.Config.Networks) > 0:
		return container.NetworkMode(c.Config.Networks[0].Network)
	}
	return "none"
}

func sandboxID(c *engine.Container) string {
	if len(c.Networks) == 0 {
		return ""
	}
	return string(c.ID)
}

func hostConfig(c *engine.Container) *container.HostConfig {
	cfg := c.Config
	init := cfg.Init
	hc := &container.HostConfig{
		LogConfig:      container.LogConfig{Type: "json-file", Config: map[string]string{}},
		NetworkMode:    networkMode(c),
		PortBindings:   portBindings(cfg.Ports),
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyMode(cmp.Or(cfg.Restart.Name, "no")), MaximumRetryCount: cfg.Restart.MaxRetries},
		AutoRemove:     cfg.AutoRemove,
		VolumesFrom:    slices.Clone(cfg.VolumesFrom),
		CapAdd:         slices.Clone(cfg.CapAdd),
		CapDrop:        slices.Clone(cfg.CapDrop),
		DNSOptions:     slices.Clone(cfg.DNSOptions),
		DNSSearch:      slices.Clone(cfg.DNSSearch),
		GroupAdd:       slices.Clone(cfg.GroupAdd),
		IpcMode:        container.IpcMode(cfg.IpcMode),
		OomScoreAdj:    cfg.OomScoreAdj,
		PidMode:        container.PidMode(cfg.PidMode),
		UTSMode:        container.UTSMode(cfg.UTSMode),
		CgroupnsMode:   container.CgroupnsMode(cfg.CgroupnsMode),
		Annotations:    maps.Clone(cfg.Annotations),
		Privileged:     cfg.Privileged,
		ReadonlyRootfs: cfg.ReadOnly,
		SecurityOpt:    slices.Clone(cfg.SecurityOpt),
		ShmSize:        cmp.Or(cfg.ShmSize, 64<<20),
		Sysctls:        maps.Clone(cfg.Sysctls),
		Runtime:        "runc",
		Init:           &init,
		Resources:      resources(cfg),
	}
	if cfg.Logging.MaxSize > 0 {
		hc.LogConfig.Config["max-size"] = strconv.FormatInt(cfg.Logging.MaxSize, 10)
	}
	if cfg.Logging.MaxFile > 0 {
		hc.LogConfig.Config["max-file"] = strconv.Itoa(cfg.Logging.MaxFile)
	}
	if cfg.Logging.Compress {
		hc.LogConfig.Config["compress"] = "true"
	}
	for _, s := range cfg.DNS {
		if a, err := netip.ParseAddr(s); err == nil {
			hc.DNS = append(hc.DNS, a)
		}
	}
	for _, h := range cfg.ExtraHosts {
		for _, n := range h.Names {
			hc.ExtraHosts = append(hc.ExtraHosts, n+":"+h.IP)
		}
	}
	for _, m := range cfg.Mounts {
		switch m.Type {
		case "bind":
			b := m.Source + ":" + m.Target
			if m.ReadOnly {
				b += ":ro"
			}
			hc.Binds = append(hc.Binds, b)
		case "tmpfs":
			if hc.Tmpfs == nil {
				hc.Tmpfs = map[string]string{}
			}
			hc.Tmpfs[m.Target] = strings.Join(m.Options, ",")
		}
	}
	return hc
}

func resources(cfg engine.ContainerConfig) container.Resources {
	r := cfg.Resources
	out := container.Resources{
		Memory:             r.MemLimit,
		MemoryReservation:  r.MemReservation,
		MemorySwap:         r.MemSwapLimit,
		NanoCPUs:           int64(r.CPUs * 1e9),
		CPUShares:          r.CPUShares,
		CgroupParent:       cfg.CgroupParent,
		CpusetCpus:         r.CpusetCpus,
		CpusetMems:         r.CpusetMems,
		CPUQuota:           r.CPUQuota,
		CPUPeriod:          r.CPUPeriod,
		CPURealtimeRuntime: r.CPURTRuntime,
		CPURealtimePeriod:  r.CPURTPeriod,
	}
	if r.MemSwappiness != 0 {
		out.MemorySwappiness = &r.MemSwappiness
	}
	if r.OomKillDisable {
		out.OomKillDisable = &r.OomKillDisable
	}
	if r.PidsLimit != 0 {
		out.PidsLimit = &r.PidsLimit
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Ulimits)) {
		u := cfg.Ulimits[name]
		out.Ulimits = append(out.Ulimits, &container.Ulimit{Name: name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, d := range cfg.Devices {
		parts := strings.SplitN(d, ":", 3)
		dm := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
		if len(parts) > 1 {
			dm.PathInContainer = parts[1]
		}
		if len(parts) > 2 {
			dm.CgroupPermissions = parts[2]
		}
		out.Devices = append(out.Devices, dm)
	}
	return out
}

// mountPoints are inspect's Mounts: what the container mounts, named
// volumes with their data directories.
func mountPoints(c *engine.Container, o Objects) []container.MountPoint {
	out := []container.MountPoint{}
	for _, m := range c.Config.Mounts {
		mp := container.MountPoint{Destination: m.Target, RW: !m.ReadOnly}
		switch m.Type {
		case "volume":
			mp.Type, mp.Name, mp.Driver = mount.TypeVolume, m.Source, "local"
			if v := o.Volumes[m.Source]; v != nil {
				mp.Source = v.Mountpoint
				mp.Driver = cmp.Or(v.Driver, "local")
			}
			if m.ReadOnly {
				mp.Mode = "ro"
			} else {
				mp.Mode = "z"
			}
		case "tmpfs":
			mp.Type = mount.TypeTmpfs
		default: // bind, file
			mp.Type, mp.Source = mount.TypeBind, m.Source
			mp.Propagation = mount.Propagation(cmp.Or(m.Propagation, string(mount.PropagationRPrivate)))
			if m.ReadOnly {
				mp.Mode = "ro"
			}
		}
		out = append(out, mp)
	}
	return out
}

// published lists the container's published ports while it runs.
func published(c *engine.Container) []netmgr.PortMapping {
	var out []netmgr.PortMapping
	for _, ns := range c.Networks {
		out = append(out, ns.Ports...)
	}
	return out
}

func portKey(port uint16, proto string) network.Port {
	p, _ := network.PortFrom(port, network.IPProtocol(cmp.Or(proto, "tcp")))
	return p
}

// portBindings are the container's requested port bindings.
func portBindings(ports []netmgr.PortMapping) network.PortMap {
	out := network.PortMap{}
	for _, b := range ports {
		k := portKey(b.ContainerPort, string(b.Protocol))
		out[k] = append(out[k], network.PortBinding{HostIP: b.HostIP, HostPort: b.HostPorts()})
	}
	return out
}

// exposedPorts: the image's EXPOSE, the container's expose and its
// published ports.
func exposedPorts(c *engine.Container) network.PortSet {
	out := network.PortSet{}
	for _, e := range append(slices.Clone(c.ImageConfig.ExposedPorts), c.Config.ExposedPorts...) {
		if p, err := network.ParsePort(e); err == nil {
			out[p] = struct{}{}
		}
	}
	for k := range portBindings(c.Config.Ports) {
		out[k] = struct{}{}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// portMap is NetworkSettings.Ports: every exposed port, with the host
// addresses it is published on while the container runs.
func portMap(c *engine.Container) network.PortMap {
	out := network.PortMap{}
	if len(c.Networks) == 0 {
		return out
	}
	for p := range exposedPorts(c) {
		out[p] = nil
	}
	for _, m := range published(c) {
		k := portKey(m.ContainerPort, string(m.Protocol))
		ip := m.HostIP
		if !ip.IsValid() {
			ip = netip.IPv4Unspecified()
		}
		out[k] = append(out[k], network.PortBinding{HostIP: ip, HostPort: strconv.Itoa(int(m.HostPort))})
	}
	return out
}

// portSummaries are `docker ps`'s ports: published ports while the
// container runs, sorted.
func portSummaries(c *engine.Container) []container.PortSummary {
	out := []container.PortSummary{}
	for _, m := range published(c) {
		ip := m.HostIP
		if !ip.IsValid() {
			ip = netip.IPv4Unspecified()
		}
		out = append(out, container.PortSummary{IP: ip, PrivatePort: m.ContainerPort, PublicPort: m.HostPort, Type: cmp.Or(string(m.Protocol), "tcp")})
	}
	slices.SortFunc(out, func(a, b container.PortSummary) int {
		if a.PrivatePort != b.PrivatePort {
			return int(a.PrivatePort) - int(b.PrivatePort)
		}
		if a.Type != b.Type {
			return strings.Compare(a.Type, b.Type)
		}
		return a.IP.Compare(b.IP)
	})
	return out
}

// endpoints are the container's networks: what it asked for, and its
// addresses while it runs.
func endpoints(c *engine.Container, o Objects) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	switch mode := c.Config.NetworkMode; {
	case mode == "host" || mode == "none":
		out[mode] = &network.EndpointSettings{}
		return out
	case mode != "":
		return out // container:<id>: the other container's
	}
	hostname := c.Config.Hostname
	if hostname == "" && len(c.ID) >= 12 {
		hostname = string(c.ID[:12])
	}
	for _, ep := range c.Config.Networks {
		es := &network.EndpointSettings{
			Aliases:    slices.Clone(ep.Aliases),
			GwPriority: ep.GwPriority,
			DNSNames:   append([]string{c.Config.Name, hostname}, ep.Aliases...),
		}
		if ep.Address.IsValid() || ep.Address6.IsValid() {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.Address, IPv6Address: ep.Address6}
		}
		if n := o.Networks[ep.Network]; n != nil {
			es.NetworkID = n.ID
		}
		if i := slices.IndexFunc(c.Networks, func(s engine.NetworkStatus) bool { return s.Network == ep.Network }); i >= 0 {
			st := c.Networks[i]
			es.EndpointID = string(c.ID)
			es.IPAddress, es.GlobalIPv6Address = st.Address, st.Address6
			if mac, err := parseMAC(st.MAC); err == nil {
				es.MacAddress = mac
			}
			if n := o.Networks[ep.Network]; n != nil {
				es.Gateway, es.IPPrefixLen = n.Gateway, n.Subnet.Bits()
				if st.Address6.IsValid() {
					es.IPv6Gateway, es.GlobalIPv6PrefixLen = n.Gateway6, n.Subnet6.Bits()
				}
			}
		}
		out[ep.Network] = es
	}
	return out
}

func parseMAC(s string) (network.HardwareAddr, error) {
	var mac network.HardwareAddr
	err := mac.UnmarshalText([]byte(s))
	return mac, err
}
