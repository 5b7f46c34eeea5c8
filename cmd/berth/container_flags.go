package main

import (
	"bufio"
	"cmp"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	units "github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/netmgr/portmap"
)

// runtimeFlags are docker run's and create's flags beyond the basics
// (containerCreateOptions), each mapped onto engine.ContainerConfig.
type runtimeFlags struct {
	entrypoint     optionalString
	envFiles       []string
	labelFiles     []string
	mounts         []string
	tmpfs          []string
	privileged     bool
	readOnly       bool
	capAdd         []string
	capDrop        []string
	hostname       string
	domainname     string
	addHosts       []string
	memory         string
	memReservation string
	memSwap        string
	cpus           float64
	cpuShares      int64
	pidsLimit      int64
	shmSize        string
	publishAll     bool
	expose         []string
	healthCmd      string
	healthInterval time.Duration
	healthTimeout  time.Duration
	healthStart    time.Duration
	healthStartInt time.Duration
	healthRetries  int
	noHealthcheck  bool
	ulimits        []string
	logDriver      string
	logOpts        []string
	stopSignal     string
	stopTimeout    optionalInt
	aliases        []string
	ip, ip6        string
	macAddress     string
	dns            []string
	dnsSearch      []string
	dnsOptions     []string
	sysctls        []string
	securityOpts   []string
	groupAdd       []string
	devices        []string
	volumesFrom    []string
	oomScoreAdj    int
	pid, ipc       string
	attach         []string
	cidfile        string
	cgroupFlags
}

func (o *runtimeFlags) bind(f *pflag.FlagSet) {
	f.Var(&o.entrypoint, "entrypoint", "overwrite the default ENTRYPOINT of the image")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "read in a file of environment variables")
	f.StringArrayVar(&o.labelFiles, "label-file", nil, "read in a line delimited file of labels")
	f.StringArrayVar(&o.mounts, "mount", nil, "attach a filesystem mount to the container (type=bind|volume|tmpfs,source=…,target=…)")
	f.StringArrayVar(&o.tmpfs, "tmpfs", nil, "mount a tmpfs directory (PATH[:OPTIONS])")
	f.BoolVar(&o.privileged, "privileged", false, "give extended privileges to this container")
	f.BoolVar(&o.readOnly, "read-only", false, "mount the container's root filesystem as read only")
	f.StringArrayVar(&o.capAdd, "cap-add", nil, "add Linux capabilities")
	f.StringArrayVar(&o.capDrop, "cap-drop", nil, "drop Linux capabilities")
	f.StringVarP(&o.hostname, "hostname", "h", "", "container host name")
	f.StringVar(&o.domainname, "domainname", "", "container NIS domain name")
	f.StringArrayVar(&o.addHosts, "add-host", nil, "add a custom host-to-IP mapping (host:ip)")
	f.StringVarP(&o.memory, "memory", "m", "", "memory limit")
	f.StringVar(&o.memReservation, "memory-reservation", "", "memory soft limit")
	f.StringVar(&o.memSwap, "memory-swap", "", "swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.Float64Var(&o.cpus, "cpus", 0, "number of CPUs")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	f.StringVar(&o.shmSize, "shm-size", "", "size of /dev/shm")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "publish all exposed ports to random ports")
	f.StringArrayVar(&o.expose, "expose", nil, "expose a port or a range of ports")
	f.StringVar(&o.healthCmd, "health-cmd", "", "command to run to check health")
	f.DurationVar(&o.healthInterval, "health-interval", 0, "time between running the check (ms|s|m|h)")
	f.DurationVar(&o.healthTimeout, "health-timeout", 0, "maximum time to allow one check to run (ms|s|m|h)")
	f.DurationVar(&o.healthStart, "health-start-period", 0, "start period for the container to initialize before starting health-retries countdown (ms|s|m|h)")
	f.DurationVar(&o.healthStartInt, "health-start-interval", 0, "time between running the check during the start period (ms|s|m|h)")
	f.IntVar(&o.healthRetries, "health-retries", 0, "consecutive failures needed to report unhealthy")
	f.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
	f.StringArrayVar(&o.ulimits, "ulimit", nil, "ulimit options (NAME=SOFT[:HARD])")
	f.StringVar(&o.logDriver, "log-driver", "", "logging driver for the container (json-file only)")
	f.StringArrayVar(&o.logOpts, "log-opt", nil, "log driver options (max-size, max-file)")
	f.StringVar(&o.stopSignal, "stop-signal", "", "signal to stop the container")
	f.Var(&o.stopTimeout, "stop-timeout", "timeout (in seconds) to stop a container")
	f.StringArrayVar(&o.aliases, "network-alias", nil, "add network-scoped alias for the container")
	f.StringArrayVar(&o.aliases, "net-alias", nil, "add network-scoped alias for the container")
	f.StringVar(&o.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	f.StringVar(&o.ip6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	f.StringVar(&o.macAddress, "mac-address", "", "container MAC address (e.g., 92:d0:c6:0a:29:33)")
	f.StringArrayVar(&o.dns, "dns", nil, "set custom DNS servers")
	f.StringArrayVar(&o.dnsSearch, "dns-search", nil, "set custom DNS search domains")
	f.StringArrayVar(&o.dnsOptions, "dns-option", nil, "set DNS options")
	f.StringArrayVar(&o.dnsOptions, "dns-opt", nil, "set DNS options")
	f.StringArrayVar(&o.sysctls, "sysctl", nil, "sysctl options")
	f.StringArrayVar(&o.securityOpts, "security-opt", nil, "security options")
	f.StringArrayVar(&o.groupAdd, "group-add", nil, "add additional groups to join")
	f.StringArrayVar(&o.devices, "device", nil, "add a host device to the container")
	f.StringArrayVar(&o.volumesFrom, "volumes-from", nil, "mount volumes from the specified container(s)")
	f.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "tune host's OOM preferences (-1000 to 1000)")
	f.StringVar(&o.pid, "pid", "", "PID namespace to use")
	f.StringVar(&o.ipc, "ipc", "", "IPC mode to use")
	f.StringArrayVarP(&o.attach, "attach", "a", nil, "attach to STDIN, STDOUT or STDERR")
	f.StringVar(&o.cidfile, "cidfile", "", "write the container ID to the file")
	o.cgroupFlags.bind(f)
	for _, name := range []string{"net-alias", "dns-opt"} {
		_ = f.MarkHidden(name)
	}
}

// optionalString is a string flag that tells whether it was given
// (--entrypoint "" clears the image's entrypoint).
type optionalString struct {
	set bool
	v   string
}

func (s *optionalString) String() string     { return s.v }
func (s *optionalString) Set(v string) error { s.set, s.v = true, v; return nil }
func (s *optionalString) Type() string       { return "string" }

// optionalInt is an int flag that tells whether it was given.
type optionalInt struct {
	set bool
	v   int
}

func (n *optionalInt) String() string { return strconv.Itoa(n.v) }
func (n *optionalInt) Set(v string) error {
	i, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("not a number")
	}
	n.set, n.v = true, i
	return nil
}
func (n *optionalInt) Type() string { return "int" }

// badFlag is the one-line error for a bad value of a flag.
func badFlag(flag, value, why string) error {
	return fmt.Errorf("--%s %q: %s: %w", flag, value, why, errdefs.ErrInvalidArgument)
}

// apply sets c's fields from the flags; c already holds the basics.
func (o *runtimeFlags) apply(c *engine.ContainerConfig) error {
	for _, step := range []func(*engine.ContainerConfig) error{
		o.applyProcess, o.applyResources, o.cgroupFlags.apply, o.applyHealth, o.applyData, o.applyNetwork,
	} {
		if err := step(c); err != nil {
			return err
		}
	}
	return nil
}

func (o *runtimeFlags) applyProcess(c *engine.ContainerConfig) error {
	if o.entrypoint.set {
		c.Entrypoint = []string{}
		if o.entrypoint.v != "" {
			c.Entrypoint = []string{o.entrypoint.v}
		}
	}
	env, err := envFromFiles("env-file", o.envFiles)
	if err != nil {
		return err
	}
	c.Env = append(env, c.Env...)
	labels, err := envFromFiles("label-file", o.labelFiles)
	if err != nil {
		return err
	}
	for _, l := range labels {
		if k, v, _ := strings.Cut(l, "="); c.Labels[k] == "" {
			c.Labels[k] = v
		}
	}
	c.Privileged, c.ReadOnly = o.privileged, o.readOnly
	if c.CapAdd, err = capNames("cap-add", o.capAdd); err != nil {
		return err
	}
	if c.CapDrop, err = capNames("cap-drop", o.capDrop); err != nil {
		return err
	}
	c.Hostname, c.Domainname = o.hostname, o.domainname
	c.SecurityOpt, c.GroupAdd, c.Devices = o.securityOpts, o.groupAdd, o.devices
	if o.oomScoreAdj < -1000 || o.oomScoreAdj > 1000 {
		return badFlag("oom-score-adj", strconv.Itoa(o.oomScoreAdj), "must be between -1000 and 1000")
	}
	c.OomScoreAdj = o.oomScoreAdj
	for flag, v := range map[string]string{"pid": o.pid, "ipc": o.ipc} {
		if v != "" && v != "host" && !strings.HasPrefix(v, "container:") && (flag == "pid" || (v != "private" && v != "shareable" && v != "none")) {
			return badFlag(flag, v, "want host or container:NAME")
		}
	}
	c.PidMode, c.IpcMode = o.pid, o.ipc
	if o.stopSignal != "" {
		c.StopSignal = o.stopSignal
	}
	if o.stopTimeout.set {
		if o.stopTimeout.v < -1 {
			return badFlag("stop-timeout", strconv.Itoa(o.stopTimeout.v), "must be -1 or more")
		}
		d := time.Duration(o.stopTimeout.v) * time.Second
		c.StopTimeout = &d
	}
	c.Sysctls = map[string]string{}
	for _, s := range o.sysctls {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return badFlag("sysctl", s, "want NAME=VALUE")
		}
		c.Sysctls[k] = v
	}
	if len(c.Sysctls) == 0 {
		c.Sysctls = nil
	}
	for _, a := range o.attach {
		switch strings.ToLower(a) {
		case "stdin", "stdout", "stderr":
		default:
			return badFlag("attach", a, "want STDIN, STDOUT or STDERR")
		}
	}
	return nil
}

func (o *runtimeFlags) applyResources(c *engine.ContainerConfig) error {
	for _, b := range []struct {
		flag, v string
		dst     *int64
	}{
		{"memory", o.memory, &c.Resources.MemLimit},
		{"memory-reservation", o.memReservation, &c.Resources.MemReservation},
		{"shm-size", o.shmSize, &c.ShmSize},
	} {
		if b.v == "" {
			continue
		}
		n, err := units.RAMInBytes(b.v)
		if err != nil || n <= 0 {
			return badFlag(b.flag, b.v, "not a size (e.g. 512m, 1g)")
		}
		*b.dst = n
	}
	if o.memSwap != "" {
		if o.memSwap == "-1" {
			c.Resources.MemSwapLimit = -1
		} else if n, err := units.RAMInBytes(o.memSwap); err != nil || n <= 0 {
			return badFlag("memory-swap", o.memSwap, "not a size, or -1")
		} else {
			c.Resources.MemSwapLimit = n
		}
	}
	if o.cpus < 0 {
		return badFlag("cpus", strconv.FormatFloat(o.cpus, 'g', -1, 64), "must not be negative")
	}
	if o.cpuShares < 0 {
		return badFlag("cpu-shares", strconv.FormatInt(o.cpuShares, 10), "must not be negative")
	}
	c.Resources.CPUs, c.Resources.CPUShares, c.Resources.PidsLimit = o.cpus, o.cpuShares, o.pidsLimit
	c.Ulimits = map[string]engine.Ulimit{}
	for _, u := range o.ulimits {
		l, err := units.ParseUlimit(u)
		if err != nil {
			return badFlag("ulimit", u, "want NAME=SOFT[:HARD]")
		}
		c.Ulimits[l.Name] = engine.Ulimit{Soft: l.Soft, Hard: l.Hard}
	}
	if len(c.Ulimits) == 0 {
		c.Ulimits = nil
	}
	if o.logDriver != "" && o.logDriver != "json-file" {
		return badFlag("log-driver", o.logDriver, "berth logs to json-file only")
	}
	for _, l := range o.logOpts {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return badFlag("log-opt", l, "max-size is not a size")
			}
			c.Logging.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return badFlag("log-opt", l, "max-file must be 1 or more")
			}
			c.Logging.MaxFile = n
		case "compress":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return badFlag("log-opt", l, "compress is not a boolean")
			}
			c.Logging.Compress = b
		default:
			return badFlag("log-opt", l, "only max-size, max-file and compress are supported")
		}
	}
	if c.Logging.Compress && (c.Logging.MaxFile < 2 || c.Logging.MaxSize == 0) {
		// Docker's words.
		return badFlag("log-opt", "compress=true", "compress cannot be true when max-file is less than 2 or max-size is not set")
	}
	return nil
}

func (o *runtimeFlags) applyHealth(c *engine.ContainerConfig) error {
	if o.noHealthcheck {
		if o.healthCmd != "" || o.healthInterval != 0 || o.healthTimeout != 0 || o.healthRetries != 0 || o.healthStart != 0 {
			return fmt.Errorf("--no-healthcheck conflicts with --health-* options: %w", errdefs.ErrInvalidArgument)
		}
		c.Healthcheck = &engine.Healthcheck{Test: []string{"NONE"}}
		return nil
	}
	for flag, d := range map[string]time.Duration{"health-interval": o.healthInterval, "health-timeout": o.healthTimeout,
		"health-start-period": o.healthStart, "health-start-interval": o.healthStartInt} {
		if d < 0 {
			return badFlag(flag, d.String(), "must not be negative")
		}
	}
	if o.healthRetries < 0 {
		return badFlag("health-retries", strconv.Itoa(o.healthRetries), "must not be negative")
	}
	h := engine.Healthcheck{Interval: o.healthInterval, Timeout: o.healthTimeout, StartPeriod: o.healthStart,
		StartInterval: o.healthStartInt, Retries: o.healthRetries}
	if o.healthCmd != "" {
		h.Test = []string{"CMD-SHELL", o.healthCmd}
	}
	if h.Test != nil || h.Interval != 0 || h.Timeout != 0 || h.StartPeriod != 0 || h.StartInterval != 0 || h.Retries != 0 {
		c.Healthcheck = &h
	}
	return nil
}

func (o *runtimeFlags) applyData(c *engine.ContainerConfig) error {
	for _, m := range o.mounts {
		mnt, err := parseMountFlag(m)
		if err != nil {
			return err
		}
		c.Mounts = append(c.Mounts, mnt)
	}
	for _, t := range o.tmpfs {
		mnt, err := parseTmpfsFlag(t)
		if err != nil {
			return err
		}
		c.Mounts = append(c.Mounts, mnt)
	}
	c.VolumesFrom = o.volumesFrom
	return nil
}

func (o *runtimeFlags) applyNetwork(c *engine.ContainerConfig) error {
	for _, h := range o.addHosts {
		name, ip, ok := strings.Cut(h, ":")
		if n, i, eq := strings.Cut(h, "="); eq {
			name, ip, ok = n, i, true
		}
		ip = strings.Trim(ip, "[]")
		if _, err := netip.ParseAddr(ip); !ok || name == "" || err != nil {
			return badFlag("add-host", h, "want HOST:IP")
		}
		c.ExtraHosts = append(c.ExtraHosts, engine.HostEntry{IP: ip, Names: []string{name}})
	}
	for _, d := range o.dns {
		if _, err := netip.ParseAddr(d); err != nil {
			return badFlag("dns", d, "not an IP address")
		}
	}
	c.DNS, c.DNSSearch, c.DNSOptions = o.dns, o.dnsSearch, o.dnsOptions
	if len(o.aliases) == 0 && o.ip == "" && o.ip6 == "" && o.macAddress == "" {
		return nil
	}
	if len(c.Networks) != 1 || c.Networks[0].Network == engine.DefaultNetwork {
		return fmt.Errorf("--network-alias, --ip, --ip6 and --mac-address need a user-defined network (--network NAME): %w", errdefs.ErrInvalidArgument)
	}
	ep := &c.Networks[0]
	ep.Aliases, ep.MacAddress = o.aliases, o.macAddress
	for _, a := range []struct {
		flag, v string
		dst     *netip.Addr
		v4      bool
	}{{"ip", o.ip, &ep.Address, true}, {"ip6", o.ip6, &ep.Address6, false}} {
		if a.v == "" {
			continue
		}
		addr, err := netip.ParseAddr(a.v)
		if err != nil || addr.Is4() != a.v4 {
			return badFlag(a.flag, a.v, "not an address of that family")
		}
		*a.dst = addr
	}
	return nil
}

// exposedPorts are --expose's ports, as -P publishes them.
func (o *runtimeFlags) exposedPorts() ([]netmgr.PortMapping, error) {
	var out []netmgr.PortMapping
	for _, e := range o.expose {
		m, err := exposedPort(e)
		if err != nil {
			return nil, badFlag("expose", e, "want PORT[-PORT][/PROTO]")
		}
		out = append(out, m...)
	}
	return out, nil
}

// exposedPort reads PORT[-PORT][/PROTO], one mapping per port with no host
// side.
func exposedPort(e string) ([]netmgr.PortMapping, error) {
	port, proto, _ := strings.Cut(e, "/")
	p, err := portmap.ParseProtocol(cmp.Or(proto, "tcp"))
	if err != nil {
		return nil, err
	}
	lo, hi, isRange := strings.Cut(port, "-")
	if !isRange {
		hi = lo
	}
	from, err1 := strconv.ParseUint(lo, 10, 16)
	to, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || from < 1 || from > to {
		return nil, fmt.Errorf("%q: not a port or range: %w", e, errdefs.ErrInvalidArgument)
	}
	var out []netmgr.PortMapping
	for n := from; n <= to; n++ {
		out = append(out, netmgr.PortMapping{ContainerPort: uint16(n), Protocol: p})
	}
	return out, nil
}

// capNames are docker's capability names as the engine takes them: CAP_…,
// or ALL.
func capNames(flag string, in []string) ([]string, error) {
	var out []string
	for _, c := range in {
		n := strings.ToUpper(strings.TrimSpace(c))
		if n == "" || strings.ContainsAny(n, " =:") {
			return nil, badFlag(flag, c, "not a capability")
		}
		if n != "ALL" && !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		out = append(out, n)
	}
	return out, nil
}

// envFromFiles reads docker's env files: KEY=VALUE lines, KEY alone taking
// the value from berth's environment, # comments and blank lines skipped.
func envFromFiles(flag string, files []string) ([]string, error) {
	var out []string
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", strings.TrimPrefix(flag, "--"), path, err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if k = strings.TrimSpace(k); k == "" || strings.ContainsAny(k, " \t") {
				_ = f.Close()
				return nil, fmt.Errorf("--%s %q: line %d: %q is not KEY=VALUE: %w", strings.TrimPrefix(flag, "--"), path, n, line, errdefs.ErrInvalidArgument)
			}
			if !ok {
				var set bool
				if v, set = os.LookupEnv(k); !set {
					continue
				}
			}
			out = append(out, k+"="+v)
		}
		err = sc.Err()
		_ = f.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseMountFlag reads docker's --mount: comma-separated key=value fields
// (type, source|src, target|dst|destination, readonly|ro, volume-nocopy,
// volume-subpath, bind-propagation, bind-create-src, tmpfs-size,
// tmpfs-mode).
func parseMountFlag(v string) (engine.Mount, error) {
	m := engine.Mount{Type: "volume"}
	for _, field := range strings.Split(v, ",") {
		key, val, hasVal := strings.Cut(field, "=")
		bad := func(why string) error { return badFlag("mount", v, fmt.Sprintf("%s: %s", key, why)) }
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, bad("not true or false")
			}
			return b, nil
		}
		var err error
		switch strings.ToLower(key) {
		case "type":
			if val != "bind" && val != "volume" && val != "tmpfs" {
				return m, bad("want bind, volume or tmpfs")
			}
			m.Type = val
		case "source", "src":
			m.Source = val
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			m.ReadOnly, err = boolVal()
		case "volume-nocopy":
			m.NoCopy, err = boolVal()
		case "bind-create-src":
			m.CreateHostPath, err = boolVal()
		case "volume-subpath":
			m.Subpath = val
		case "bind-propagation":
			m.Propagation = val
		case "tmpfs-size":
			if m.TmpfsSize, err = units.RAMInBytes(val); err != nil {
				return m, bad("not a size")
			}
		case "tmpfs-mode":
			mode, perr := strconv.ParseUint(val, 8, 32)
			if perr != nil {
				return m, bad("not an octal mode")
			}
			m.TmpfsMode = uint32(mode)
		default:
			return m, bad("unknown field")
		}
		if err != nil {
			return m, err
		}
	}
	if m.Target == "" || !filepath.IsAbs(m.Target) {
		return m, badFlag("mount", v, "target must be an absolute path")
	}
	switch m.Type {
	case "bind":
		if m.Source == "" {
			return m, badFlag("mount", v, "a bind mount needs a source")
		}
		abs, err := filepath.Abs(m.Source)
		if err != nil {
			return m, err
		}
		m.Source = abs
	case "volume":
		if m.Source != "" {
			if err := engine.ValidateVolumeName(m.Source); err != nil {
				return m, fmt.Errorf("--mount %q: %w", v, err)
			}
		}
	case "tmpfs":
		if m.Source != "" {
			return m, badFlag("mount", v, "a tmpfs mount has no source")
		}
	}
	return m, nil
}

// parseTmpfsFlag reads --tmpfs PATH[:OPTIONS] (size=…, mode=…, and mount
// options such as noexec).
func parseTmpfsFlag(v string) (engine.Mount, error) {
	target, opts, _ := strings.Cut(v, ":")
	if !filepath.IsAbs(target) {
		return engine.Mount{}, badFlag("tmpfs", v, "the path must be absolute")
	}
	m := engine.Mount{Type: "tmpfs", Target: target}
	if opts == "" {
		return m, nil
	}
	for _, o := range strings.Split(opts, ",") {
		k, val, _ := strings.Cut(o, "=")
		switch k {
		case "size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return m, badFlag("tmpfs", v, "size is not a size")
			}
			m.TmpfsSize = n
		case "mode":
			mode, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return m, badFlag("tmpfs", v, "mode is not an octal mode")
			}
			m.TmpfsMode = uint32(mode)
		default:
			m.Options = append(m.Options, o)
		}
	}
	return m, nil
}
