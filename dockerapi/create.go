package dockerapi

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr/portmap"
)

// CreateConfig is the engine's configuration of the container that `POST
// /containers/create?name=…` asks for: req, the moby create body,
// translated once (habit 19). Settings berth cannot honour are
// errdefs.ErrInvalidArgument or errdefs.ErrNotImplemented naming them.
func CreateConfig(name string, req container.CreateRequest) (engine.ContainerConfig, error) {
	if req.Config == nil || req.Image == "" {
		return engine.ContainerConfig{}, fmt.Errorf("no image given: %w", errdefs.ErrInvalidArgument)
	}
	cfg := req.Config
	c := engine.ContainerConfig{
		Name:        name,
		Image:       cfg.Image,
		Labels:      maps.Clone(cfg.Labels),
		Entrypoint:  slices.Clone(cfg.Entrypoint),
		Cmd:         slices.Clone(cfg.Cmd),
		Env:         slices.Clone(cfg.Env),
		WorkingDir:  cfg.WorkingDir,
		User:        cfg.User,
		Hostname:    cfg.Hostname,
		Domainname:  cfg.Domainname,
		Tty:         cfg.Tty,
		OpenStdin:   cfg.OpenStdin,
		StopSignal:  cfg.StopSignal,
		Healthcheck: healthcheck(cfg.Healthcheck),
	}
	if len(c.Entrypoint) == 1 && c.Entrypoint[0] == "" {
		c.Entrypoint = []string{} // --entrypoint "": none
	}
	if cfg.StopTimeout != nil {
		d := time.Duration(*cfg.StopTimeout) * time.Second
		c.StopTimeout = &d
	}
	for p := range cfg.ExposedPorts {
		c.ExposedPorts = append(c.ExposedPorts, p.String())
	}
	slices.Sort(c.ExposedPorts)
	hc := req.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if err := hostSettings(&c, hc); err != nil {
		return c, err
	}
	if err := createMounts(&c, hc); err != nil {
		return c, err
	}
	if err := createNetworks(&c, hc, req.NetworkingConfig); err != nil {
		return c, err
	}
	return c, nil
}

func healthcheck(h *container.HealthConfig) *engine.Healthcheck {
	if h == nil {
		return nil
	}
	return &engine.Healthcheck{Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
}

// hostSettings copies HostConfig's process, security and resource
// settings.
func hostSettings(c *engine.ContainerConfig, hc *container.HostConfig) error {
	if hc.PublishAllPorts {
		return fmt.Errorf("HostConfig.PublishAllPorts: not supported by berth's API server: %w", errdefs.ErrNotImplemented)
	}
	if t := hc.LogConfig.Type; t != "" && t != "json-file" && t != "local" {
		return fmt.Errorf("HostConfig.LogConfig.Type %q: berth keeps json-file logs only: %w", t, errdefs.ErrInvalidArgument)
	}
	switch hc.RestartPolicy.Name {
	case "", "no", "always", "unless-stopped", "on-failure":
	default:
		return fmt.Errorf("HostConfig.RestartPolicy.Name %q: want no, always, on-failure or unless-stopped: %w", hc.RestartPolicy.Name, errdefs.ErrInvalidArgument)
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != "no" {
		return fmt.Errorf("HostConfig.AutoRemove and RestartPolicy %q: conflicting options: %w", hc.RestartPolicy.Name, errdefs.ErrInvalidArgument)
	}
	c.Restart = engine.RestartPolicy{Name: string(hc.RestartPolicy.Name), MaxRetries: hc.RestartPolicy.MaximumRetryCount}
	c.AutoRemove = hc.AutoRemove
	c.Init = hc.Init != nil && *hc.Init
	c.Privileged, c.ReadOnly = hc.Privileged, hc.ReadonlyRootfs
	c.CapAdd, c.CapDrop = slices.Clone(hc.CapAdd), slices.Clone(hc.CapDrop)
	c.SecurityOpt, c.GroupAdd = slices.Clone(hc.SecurityOpt), slices.Clone(hc.GroupAdd)
	c.Sysctls, c.Annotations = maps.Clone(hc.Sysctls), maps.Clone(hc.Annotations)
	c.ShmSize, c.OomScoreAdj = hc.ShmSize, hc.OomScoreAdj
	c.IpcMode, c.PidMode, c.UTSMode = string(hc.IpcMode), string(hc.PidMode), string(hc.UTSMode)
	c.CgroupnsMode, c.CgroupParent = string(hc.CgroupnsMode), hc.CgroupParent
	c.VolumesFrom = slices.Clone(hc.VolumesFrom)
	c.DNSSearch, c.DNSOptions = slices.Clone(hc.DNSSearch), slices.Clone(hc.DNSOptions)
	for _, a := range hc.DNS {
		c.DNS = append(c.DNS, a.String())
	}
	for _, h := range hc.ExtraHosts {
		e, err := extraHost("HostConfig.ExtraHosts", h)
		if err != nil {
			return err
		}
		c.ExtraHosts = append(c.ExtraHosts, e)
	}
	r := hc.Resources
	c.Resources = engine.Resources{MemLimit: r.Memory, MemReservation: r.MemoryReservation, MemSwapLimit: r.MemorySwap,
		CPUs: float64(r.NanoCPUs) / 1e9, CPUShares: r.CPUShares, CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems, CPUQuota: r.CPUQuota,
		CPUPeriod: r.CPUPeriod, CPURTRuntime: r.CPURealtimeRuntime, CPURTPeriod: r.CPURealtimePeriod}
	if r.PidsLimit != nil && *r.PidsLimit > 0 {
		c.Resources.PidsLimit = *r.PidsLimit
	}
	if r.MemorySwappiness != nil && *r.MemorySwappiness >= 0 {
		c.Resources.MemSwappiness = *r.MemorySwappiness
	}
	c.Resources.OomKillDisable = r.OomKillDisable != nil && *r.OomKillDisable
	for _, u := range r.Ulimits {
		if c.Ulimits == nil {
			c.Ulimits = map[string]engine.Ulimit{}
		}
		c.Ulimits[u.Name] = engine.Ulimit{Soft: u.Soft, Hard: u.Hard}
	}
	for _, d := range r.Devices {
		c.Devices = append(c.Devices, d.PathOnHost+":"+d.PathInContainer+":"+d.CgroupPermissions)
	}
	return nil
}

// createMounts reads Binds, Mounts and Tmpfs.
func createMounts(c *engine.ContainerConfig, hc *container.HostConfig) error {
	for _, b := range hc.Binds {
		m, err := parseBind(b)
		if err != nil {
			return err
		}
		c.Mounts = append(c.Mounts, m)
	}
	for i, mt := range hc.Mounts {
		m := engine.Mount{Type: string(mt.Type), Source: mt.Source, Target: mt.Target, ReadOnly: mt.ReadOnly}
		switch mt.Type {
		case mount.TypeBind:
			if o := mt.BindOptions; o != nil {
				m.Propagation, m.CreateHostPath = string(o.Propagation), o.CreateMountpoint
			}
		case mount.TypeVolume:
			if o := mt.VolumeOptions; o != nil {
				m.NoCopy, m.Subpath = o.NoCopy, o.Subpath
			}
		case mount.TypeTmpfs:
			if o := mt.TmpfsOptions; o != nil {
				m.TmpfsSize, m.TmpfsMode = o.SizeBytes, uint32(o.Mode.Perm())
			}
		default:
			return fmt.Errorf("HostConfig.Mounts[%d]: type %q: want bind, volume or tmpfs: %w", i, mt.Type, errdefs.ErrInvalidArgument)
		}
		if !filepath.IsAbs(m.Target) {
			return fmt.Errorf("HostConfig.Mounts[%d]: target %q is not an absolute path: %w", i, m.Target, errdefs.ErrInvalidArgument)
		}
		c.Mounts = append(c.Mounts, m)
	}
	for _, target := range slices.Sorted(maps.Keys(hc.Tmpfs)) {
		m := engine.Mount{Type: "tmpfs", Target: target}
		if o := hc.Tmpfs[target]; o != "" {
			m.Options = strings.Split(o, ",")
		}
		c.Mounts = append(c.Mounts, m)
	}
	return nil
}

// parseBind reads a Binds entry, SOURCE:TARGET[:OPTIONS]: an absolute
// source is a bind, another a named volume; options are ro, rw, nocopy,
// a propagation, and SELinux's z and Z (ignored).
func parseBind(b string) (engine.Mount, error) {
	parts := strings.Split(b, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !filepath.IsAbs(parts[1]) {
		return engine.Mount{}, fmt.Errorf("HostConfig.Binds %q: want SOURCE:TARGET[:OPTIONS] with an absolute target: %w", b, errdefs.ErrInvalidArgument)
	}
	m := engine.Mount{Type: "volume", Source: parts[0], Target: parts[1]}
	if filepath.IsAbs(m.Source) {
		m.Type, m.CreateHostPath = "bind", true // as Docker: a missing bind source is made
	} else if err := engine.ValidateVolumeName(m.Source); err != nil {
		return m, fmt.Errorf("HostConfig.Binds %q: %w", b, err)
	}
	if len(parts) < 3 {
		return m, nil
	}
	for _, o := range strings.Split(parts[2], ",") {
		switch o {
		case "ro":
			m.ReadOnly = true
		case "rw", "z", "Z", "":
		case "nocopy":
			m.NoCopy = true
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			m.Propagation = o
		default:
			return m, fmt.Errorf("HostConfig.Binds %q: option %q: %w", b, o, errdefs.ErrInvalidArgument)
		}
	}
	return m, nil
}

// EndpointConfig is the engine's attachment to network name that Docker's
// endpoint settings (nil: none) ask for.
func EndpointConfig(name string, s *network.EndpointSettings) engine.EndpointConfig {
	ep := engine.EndpointConfig{Network: name}
	if s != nil {
		ep.Aliases, ep.GwPriority = slices.Clone(s.Aliases), s.GwPriority
		if s.IPAMConfig != nil {
			ep.Address, ep.Address6 = s.IPAMConfig.IPv4Address, s.IPAMConfig.IPv6Address
		}
		if len(s.MacAddress) > 0 {
			ep.MacAddress = s.MacAddress.String()
		}
	}
	return ep
}

// createNetworks reads the network mode, the endpoints and the port
// bindings.
func createNetworks(c *engine.ContainerConfig, hc *container.HostConfig, nc *network.NetworkingConfig) error {
	var eps map[string]*network.EndpointSettings
	if nc != nil {
		eps = nc.EndpointsConfig
	}
	endpoint := func(name string) engine.EndpointConfig { return EndpointConfig(name, eps[name]) }
	switch mode := string(hc.NetworkMode); {
	case mode == "" || mode == "default" || mode == engine.DefaultNetwork:
		c.Networks = []engine.EndpointConfig{endpoint(engine.DefaultNetwork)}
		if _, ok := eps["default"]; ok && mode != engine.DefaultNetwork {
			c.Networks[0] = endpoint("default")
			c.Networks[0].Network = engine.DefaultNetwork
		}
	case mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:"):
		c.NetworkMode = mode
	default:
		c.Networks = []engine.EndpointConfig{endpoint(mode)}
	}
	for _, name := range slices.Sorted(maps.Keys(eps)) {
		if c.NetworkMode == "" && name != "default" && !slices.ContainsFunc(c.Networks, func(e engine.EndpointConfig) bool { return e.Network == name }) {
			c.Networks = append(c.Networks, endpoint(name))
		}
	}
	return portBindingsConfig(c, hc.PortBindings)
}

// portBindingsConfig types HostConfig.PortBindings into the engine's port
// mappings.
func portBindingsConfig(c *engine.ContainerConfig, pm network.PortMap) error {
	var errs []error
	for _, p := range slices.SortedFunc(maps.Keys(pm), func(a, b network.Port) int { return strings.Compare(a.String(), b.String()) }) {
		bindings := pm[p]
		if len(bindings) == 0 {
			bindings = []network.PortBinding{{}}
		}
		for _, b := range bindings {
			ip := ""
			if b.HostIP.IsValid() {
				ip = b.HostIP.String()
			}
			m, err := portmap.Parse(ip, b.HostPort, int(p.Num()), string(p.Proto()))
			if err != nil {
				errs = append(errs, fmt.Errorf("HostConfig.PortBindings %q: %w", p.String(), err))
				continue
			}
			c.Ports = append(c.Ports, m)
		}
	}
	switch {
	case len(errs) > 0:
		return errors.Join(errs...)
	case len(c.Ports) > 0 && c.NetworkMode == "host":
		c.Ports = nil // as Docker: the host's ports themselves
	case len(c.Ports) > 0 && c.NetworkMode != "":
		return fmt.Errorf("HostConfig.PortBindings: network mode %q has no network to publish from: %w", c.NetworkMode, errdefs.ErrInvalidArgument)
	}
	return nil
}

// extraHost reads an extra hosts entry, "HOST:IP" or "HOST=IP", of the
// field named field.
func extraHost(field, h string) (engine.HostEntry, error) {
	host, ip, ok := strings.Cut(h, "=")
	if !ok {
		host, ip, ok = strings.Cut(h, ":")
	}
	if !ok || host == "" || ip == "" {
		return engine.HostEntry{}, fmt.Errorf("%s %q: want HOST:IP: %w", field, h, errdefs.ErrInvalidArgument)
	}
	return engine.HostEntry{IP: ip, Names: []string{host}}, nil
}
