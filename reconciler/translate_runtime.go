package reconciler

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// translateRuntime sets the container's process, security and resource
// settings beyond the basics ContainerConfig sets itself: tty, stdin_open,
// read_only, privileged, domainname, group_add, cap_add/cap_drop,
// security_opt, sysctls, ulimits, devices, shm_size, the resource limits,
// oom_score_adj, pid and ipc, restart, healthcheck and logging.
func translateRuntime(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	c.Tty, c.OpenStdin, c.ReadOnly, c.Privileged = s.Tty, s.StdinOpen, s.ReadOnly, s.Privileged
	c.Domainname = s.Domainname
	c.GroupAdd = slices.Clone(s.GroupAdd)
	c.CapAdd, c.CapDrop = slices.Clone(s.CapAdd), slices.Clone(s.CapDrop)
	for _, o := range s.SecurityOpt {
		// A seccomp profile file is relative to the project directory.
		if k, v, ok := cutOpt(o); ok && k == "seccomp" && v != "unconfined" && !filepath.IsAbs(v) {
			o = k + "=" + filepath.Join(p.WorkingDir, v)
		}
		c.SecurityOpt = append(c.SecurityOpt, o)
	}
	c.Sysctls = maps.Clone(s.Sysctls)
	if len(s.Ulimits) > 0 {
		c.Ulimits = make(map[string]engine.Ulimit, len(s.Ulimits))
		for k, u := range s.Ulimits {
			c.Ulimits[k] = engine.Ulimit{Soft: u.Soft, Hard: u.Hard}
		}
	}
	c.Devices = slices.Clone(s.Devices)
	c.ShmSize = s.ShmSize
	c.Resources = engine.Resources{
		MemLimit:       s.MemLimit,
		MemReservation: s.MemReservation,
		MemSwapLimit:   s.MemSwapLimit,
		CPUs:           s.CPUs,
		CPUShares:      s.CPUShares,
		PidsLimit:      s.PidsLimit,
		CpusetCpus:     s.Cpuset,
		CPUQuota:       s.CPUQuota,
		CPUPeriod:      s.CPUPeriod,
		CPURTRuntime:   s.CPURTRuntime,
		CPURTPeriod:    s.CPURTPeriod,
		MemSwappiness:  s.MemSwappiness,
		OomKillDisable: s.OomKillDisable,
	}
	c.Resources.Blkio = blkioConfig(s.Blkio)
	for _, r := range s.DeviceCgroupRules {
		if _, err := engine.ParseDeviceCgroupRule(r); err != nil {
			return fmt.Errorf("service %q: %w", s.Name, err)
		}
	}
	c.DeviceCgroupRules = slices.Clone(s.DeviceCgroupRules)
	c.Runtime = s.Runtime
	c.Links = slices.Clone(s.ExternalLinks)
	c.CgroupParent, c.CgroupnsMode, c.UTSMode = s.CgroupParent, s.Cgroup, s.Uts
	c.Annotations = maps.Clone(s.Annotations)
	c.OomScoreAdj = s.OomScoreAdj
	if s.Umask != nil {
		u := *s.Umask
		c.Umask = &u
	}
	var err error
	if c.PidMode, err = namespaceMode(p, s, "pid", s.Pid); err != nil {
		return err
	}
	if c.IpcMode, err = namespaceMode(p, s, "ipc", s.Ipc); err != nil {
		return err
	}
	if c.Restart, err = restartPolicy(s.Restart); err != nil {
		return fmt.Errorf("service %q: restart: %w", s.Name, err)
	}
	if h := s.Healthcheck; h != nil {
		c.Healthcheck = &engine.Healthcheck{
			Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}
		if h.Disable {
			c.Healthcheck.Test = []string{"NONE"}
		}
	}
	if c.Logging, err = logConfig(s.Logging); err != nil {
		return fmt.Errorf("service %q: logging: %w", s.Name, err)
	}
	return nil
}

func cutOpt(o string) (k, v string, ok bool) {
	if k, v, ok = strings.Cut(o, "="); !ok {
		k, v, ok = strings.Cut(o, ":")
	}
	return k, v, ok
}

// namespaceMode turns "service:name" into "container:<its first
// container>"; the other modes pass as written.
func namespaceMode(p *spec.Project, s *spec.Service, field, mode string) (string, error) {
	name, ok := strings.CutPrefix(mode, "service:")
	if !ok {
		return mode, nil
	}
	i := slices.IndexFunc(p.Services, func(o spec.Service) bool { return o.Name == name })
	if i < 0 {
		return "", fmt.Errorf("service %q: %s %q: no such service: %w", s.Name, field, mode, errdefs.ErrInvalidArgument)
	}
	return "container:" + ContainerName(p, &p.Services[i], 1), nil
}

// restartPolicy reads "no", "always", "unless-stopped", "on-failure" and
// "on-failure:N".
func restartPolicy(r string) (engine.RestartPolicy, error) {
	name, n, hasN := strings.Cut(r, ":")
	switch name {
	case "", "no", "always", "unless-stopped":
		if hasN {
			return engine.RestartPolicy{}, fmt.Errorf("%q: only on-failure takes a retry count: %w", r, errdefs.ErrInvalidArgument)
		}
		return engine.RestartPolicy{Name: name}, nil
	case "on-failure":
		p := engine.RestartPolicy{Name: name}
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return p, fmt.Errorf("%q: %q is not a retry count: %w", r, n, errdefs.ErrInvalidArgument)
			}
			p.MaxRetries = v
		}
		return p, nil
	}
	return engine.RestartPolicy{}, fmt.Errorf("%q: want no, always, on-failure[:N] or unless-stopped: %w", r, errdefs.ErrInvalidArgument)
}

// logConfig reads the json-file driver's max-size and max-file.
func logConfig(l *spec.Logging) (engine.LogConfig, error) {
	var lc engine.LogConfig
	if l == nil {
		return lc, nil
	}
	switch l.Driver {
	case "", "json-file":
	case "local":
		// Docker's local driver keeps 5 files of 20 MB, the rotated ones
		// compressed, unless told otherwise; berth keeps its JSON lines
		// with that rotation.
		lc.MaxSize, lc.MaxFile, lc.Compress = 20<<20, 5, true
	case engine.LogDriverNone:
		if len(l.Options) > 0 {
			return lc, fmt.Errorf("driver none takes no options: %w", errdefs.ErrInvalidArgument)
		}
		lc.Driver = engine.LogDriverNone
		return lc, nil
	default:
		return lc, fmt.Errorf("driver %q: only json-file, local and none are supported: %w", l.Driver, errdefs.ErrNotImplemented)
	}
	for _, k := range slices.Sorted(maps.Keys(l.Options)) {
		v := l.Options[k]
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return lc, fmt.Errorf("max-size %q: not a size: %w", v, errdefs.ErrInvalidArgument)
			}
			lc.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return lc, fmt.Errorf("max-file %q: not a positive number: %w", v, errdefs.ErrInvalidArgument)
			}
			lc.MaxFile = n
		case "mode":
			// The shim drains the container's output as it comes and
			// writes it itself: the container never waits on its log,
			// which is what non-blocking buys from Docker's drivers.
			if v != "blocking" && v != "non-blocking" {
				return lc, fmt.Errorf("mode %q: want blocking or non-blocking: %w", v, errdefs.ErrInvalidArgument)
			}
		case "max-buffer-size":
			if n, err := units.RAMInBytes(v); err != nil || n <= 0 {
				return lc, fmt.Errorf("max-buffer-size %q: not a size: %w", v, errdefs.ErrInvalidArgument)
			}
			if l.Options["mode"] != "non-blocking" {
				// Docker's words.
				return lc, fmt.Errorf("max-buffer-size is only supported with 'mode=non-blocking': %w", errdefs.ErrInvalidArgument)
			}
		case "labels", "labels-regex", "env", "env-regex", "tag":
			if l.Driver == "local" {
				// Docker's words.
				return lc, fmt.Errorf("unknown log opt '%s' for local log driver: %w", k, errdefs.ErrInvalidArgument)
			}
			switch k {
			case "labels":
				lc.Labels = splitList(v)
			case "labels-regex":
				lc.LabelsRegex = v
			case "env":
				lc.Env = splitList(v)
			case "env-regex":
				lc.EnvRegex = v
			case "tag":
				lc.Tag = v
			}
		case "compress":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return lc, fmt.Errorf("compress %q: not a boolean: %w", v, errdefs.ErrInvalidArgument)
			}
			lc.Compress = b
		default:
			return lc, fmt.Errorf("option %q: not supported: %w", k, errdefs.ErrNotImplemented)
		}
	}
	if err := engine.CheckLogAttrs(lc); err != nil {
		return lc, err
	}
	if lc.MaxFile > 1 && lc.MaxSize == 0 {
		return lc, fmt.Errorf("max-file needs max-size: %w", errdefs.ErrInvalidArgument)
	}
	if lc.Compress && (lc.MaxFile < 2 || lc.MaxSize == 0) {
		if _, set := l.Options["compress"]; set || l.Driver != "local" {
			// Docker's words (json-file).
			return lc, fmt.Errorf("compress cannot be true when max-file is less than 2 or max-size is not set: %w", errdefs.ErrInvalidArgument)
		}
		lc.Compress = false // local's default, with one file: nothing rotated to compress
	}
	return lc, nil
}

// blkioConfig is blkio_config as the engine takes it.
func blkioConfig(b *spec.Blkio) *engine.Blkio {
	if b == nil {
		return nil
	}
	throttles := func(in []spec.BlkioThrottle) []engine.BlkioThrottle {
		var out []engine.BlkioThrottle
		for _, t := range in {
			out = append(out, engine.BlkioThrottle(t))
		}
		return out
	}
	out := &engine.Blkio{
		Weight:        b.Weight,
		DeviceReadBps: throttles(b.DeviceReadBps), DeviceWriteBps: throttles(b.DeviceWriteBps),
		DeviceReadIOps: throttles(b.DeviceReadIOps), DeviceWriteIOps: throttles(b.DeviceWriteIOps),
	}
	for _, w := range b.WeightDevice {
		out.WeightDevice = append(out.WeightDevice, engine.BlkioWeightDevice(w))
	}
	return out
}

// splitList splits a comma-separated option value, as Docker's logging
// options are written, dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
