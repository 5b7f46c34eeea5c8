package spec

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// hashVersion is part of the hashed bytes. Bump it whenever hashInput or
// the way it is filled changes, so that the change is deliberate: every
// container made before is then recreated once.
const hashVersion = "h2"

// hashInput lists exactly the fields of a service whose change requires a
// new container. Scale (scale, deploy.replicas), depends_on, profiles and
// pull_policy are left out, as is develop, which only berth watch reads:
// changing them does not change what runs inside a container. Adding a
// field here is a reviewed decision that bumps hashVersion. Fields whose
// order does not matter are sorted, so that reordering them in the file
// does not recreate containers.
type hashInput struct {
	Version         string                `json:"v"`
	Image           string                `json:"image"`
	ContainerName   string                `json:"container_name"`
	Entrypoint      []string              `json:"entrypoint"` // null (image's) differs from [] (cleared)
	Command         []string              `json:"command"`
	Env             []string              `json:"env"` // sorted KEY=VALUE
	WorkingDir      string                `json:"working_dir"`
	User            string                `json:"user"`
	Hostname        string                `json:"hostname"`
	Domainname      string                `json:"domainname"`
	Init            bool                  `json:"init"`
	Labels          map[string]string     `json:"labels"`       // encoding/json sorts map keys
	Networks        []hashNetwork         `json:"networks"`     // sorted by name
	Mounts          []hashMount           `json:"mounts"`       // in file order: later mounts may shadow earlier ones
	VolumesFrom     []string              `json:"volumes_from"` // in file order, like mounts
	Restart         string                `json:"restart"`
	StopSignal      string                `json:"stop_signal"`
	StopGracePeriod *int64                `json:"stop_grace_period_ns"`
	ExtraHosts      []string              `json:"extra_hosts"` // sorted
	Healthcheck     *hashHealthcheck      `json:"healthcheck"`
	Ports           []hashPort            `json:"ports"`  // sorted
	Expose          []string              `json:"expose"` // sorted
	Tty             bool                  `json:"tty"`
	StdinOpen       bool                  `json:"stdin_open"`
	ReadOnly        bool                  `json:"read_only"`
	Privileged      bool                  `json:"privileged"`
	GroupAdd        []string              `json:"group_add"`    // sorted
	CapAdd          []string              `json:"cap_add"`      // normalised, sorted
	CapDrop         []string              `json:"cap_drop"`     // normalised, sorted
	SecurityOpt     []string              `json:"security_opt"` // sorted
	Sysctls         map[string]string     `json:"sysctls"`
	Ulimits         map[string]hashUlimit `json:"ulimits"`
	Devices         []string              `json:"devices"` // sorted
	Tmpfs           []string              `json:"tmpfs"`   // sorted
	ShmSize         int64                 `json:"shm_size"`
	MemLimit        int64                 `json:"mem_limit"`
	MemReservation  int64                 `json:"mem_reservation"`
	MemSwapLimit    int64                 `json:"memswap_limit"`
	CPUs            float64               `json:"cpus"`
	CPUShares       int64                 `json:"cpu_shares"`
	PidsLimit       int64                 `json:"pids_limit"`
	OomScoreAdj     int                   `json:"oom_score_adj"`
	Pid             string                `json:"pid"`
	Ipc             string                `json:"ipc"`
	NetworkMode     string                `json:"network_mode"`
	MacAddress      string                `json:"mac_address"`
	DNS             []string              `json:"dns"`        // in file order: servers are tried in turn
	DNSSearch       []string              `json:"dns_search"` // in file order: domains are tried in turn
	DNSOpt          []string              `json:"dns_opt"`    // in file order, as written to resolv.conf
	Logging         *hashLogging          `json:"logging"`
	Configs         []hashFileRef         `json:"configs"` // sorted by target
	Secrets         []hashFileRef         `json:"secrets"` // sorted by target

	// Fields added after h2 are omitted when unset, so that a service
	// that does not set them keeps its hash (no recreate after an
	// upgrade) while one that does gets a new one.
	CgroupParent   string            `json:"cgroup_parent,omitempty"`
	Cgroup         string            `json:"cgroup,omitempty"`
	Cpuset         string            `json:"cpuset,omitempty"`
	CPUQuota       int64             `json:"cpu_quota,omitempty"`
	CPUPeriod      int64             `json:"cpu_period,omitempty"`
	CPURTRuntime   int64             `json:"cpu_rt_runtime,omitempty"`
	CPURTPeriod    int64             `json:"cpu_rt_period,omitempty"`
	MemSwappiness  int64             `json:"mem_swappiness,omitempty"`
	OomKillDisable bool              `json:"oom_kill_disable,omitempty"`
	Uts            string            `json:"uts,omitempty"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Blkio          *Blkio            `json:"blkio,omitempty"`
	Runtime        string            `json:"runtime,omitempty"`
	ExternalLinks  []string          `json:"external_links,omitempty"`      // sorted
	DeviceCgroup   []string          `json:"device_cgroup_rules,omitempty"` // sorted
	PostStart      []Hook            `json:"post_start,omitempty"`          // in file order: they run in turn
	PreStop        []Hook            `json:"pre_stop,omitempty"`
	Umask          *uint32           `json:"umask,omitempty"`
	PreStart       []string          `json:"pre_start,omitempty"` // each hook's own hash, in file order
}

type hashMount struct {
	Type           string `json:"type"`
	Source         string `json:"source"`
	Target         string `json:"target"`
	ReadOnly       bool   `json:"read_only"`
	NoCopy         bool   `json:"nocopy"`
	Subpath        string `json:"subpath"`
	Propagation    string `json:"propagation"`
	CreateHostPath bool   `json:"create_host_path"`
	TmpfsSize      int64  `json:"tmpfs_size"`
	TmpfsMode      uint32 `json:"tmpfs_mode"`

	Recursive    string            `json:"recursive,omitempty"`
	VolumeLabels map[string]string `json:"volume_labels,omitempty"`
}

type hashNetwork struct {
	Name        string   `json:"name"`
	Aliases     []string `json:"aliases"` // sorted
	IPv4Address string   `json:"ipv4_address"`
	IPv6Address string   `json:"ipv6_address"`
	MacAddress  string   `json:"mac_address"`
	Priority    int      `json:"priority"`
	GwPriority  int      `json:"gw_priority"`

	InterfaceName string            `json:"interface_name,omitempty"`
	LinkLocalIPs  []string          `json:"link_local_ips,omitempty"` // sorted
	DriverOpts    map[string]string `json:"driver_opts,omitempty"`

	NoServiceAlias bool `json:"no_service_alias,omitempty"`
}

type hashHealthcheck struct {
	Test            []string `json:"test"`
	IntervalNs      int64    `json:"interval_ns"`
	TimeoutNs       int64    `json:"timeout_ns"`
	StartPeriodNs   int64    `json:"start_period_ns"`
	StartIntervalNs int64    `json:"start_interval_ns"`
	Retries         int      `json:"retries"`
	Disable         bool     `json:"disable"`
}

type hashPort struct {
	Target    int    `json:"target"`
	Published string `json:"published"`
	HostIP    string `json:"host_ip"`
	Protocol  string `json:"protocol"`
	Mode      string `json:"mode"`
}

type hashUlimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

type hashLogging struct {
	Driver  string            `json:"driver"`
	Options map[string]string `json:"options"`
}

type hashFileRef struct {
	Source string  `json:"source"`
	Target string  `json:"target"`
	UID    string  `json:"uid"`
	GID    string  `json:"gid"`
	Mode   *uint32 `json:"mode"`
	Digest string  `json:"digest,omitempty"` // omitted when unknown, as before digests were hashed
}

// ConfigHash returns the hash of the parts of s whose change requires its
// containers to be recreated, as 64 hexadecimal digits (the form Docker
// Compose puts in its config-hash label). It is deterministic: the order of
// environment variables, labels, networks, aliases, extra hosts, ports,
// capabilities and the other unordered lists does not change it, nor does
// an empty list or map in place of nil. It hashes references to configs and
// secrets, not their content.
func ConfigHash(s Service) string {
	in := hashInput{
		Version:        hashVersion,
		Image:          s.Image,
		ContainerName:  s.ContainerName,
		Entrypoint:     s.Entrypoint,
		Command:        s.Command,
		Env:            sortedEnv(s.Environment),
		WorkingDir:     s.WorkingDir,
		User:           s.User,
		Hostname:       s.Hostname,
		Domainname:     s.Domainname,
		Init:           s.Init,
		Labels:         nonEmpty(s.Labels),
		VolumesFrom:    nonEmptyList(s.VolumesFrom),
		Restart:        s.Restart,
		StopSignal:     s.StopSignal,
		ExtraHosts:     sorted(s.ExtraHosts),
		Networks:       hashNetworks(s.Networks),
		Healthcheck:    hashHealth(s.Healthcheck),
		Ports:          hashPorts(s.Ports),
		Ulimits:        hashUlimits(s.Ulimits),
		Expose:         sorted(s.Expose),
		Tty:            s.Tty,
		StdinOpen:      s.StdinOpen,
		ReadOnly:       s.ReadOnly,
		Privileged:     s.Privileged,
		GroupAdd:       sorted(s.GroupAdd),
		CapAdd:         nonEmptyList(normalizeCaps(s.CapAdd)),
		CapDrop:        nonEmptyList(normalizeCaps(s.CapDrop)),
		SecurityOpt:    sorted(s.SecurityOpt),
		Sysctls:        nonEmpty(s.Sysctls),
		Devices:        sorted(s.Devices),
		Tmpfs:          sorted(s.Tmpfs),
		ShmSize:        s.ShmSize,
		MemLimit:       s.MemLimit,
		MemReservation: s.MemReservation,
		MemSwapLimit:   s.MemSwapLimit,
		CPUs:           s.CPUs,
		CPUShares:      s.CPUShares,
		PidsLimit:      s.PidsLimit,
		OomScoreAdj:    s.OomScoreAdj,
		Pid:            s.Pid,
		Ipc:            s.Ipc,
		NetworkMode:    s.NetworkMode,
		MacAddress:     s.MacAddress,
		DNS:            nonEmptyList(s.DNS),
		DNSSearch:      nonEmptyList(s.DNSSearch),
		DNSOpt:         nonEmptyList(s.DNSOpt),
		Configs:        hashFileRefs(s.Configs),
		Secrets:        hashFileRefs(s.Secrets),

		CgroupParent:   s.CgroupParent,
		Cgroup:         s.Cgroup,
		Cpuset:         s.Cpuset,
		CPUQuota:       s.CPUQuota,
		CPUPeriod:      s.CPUPeriod,
		CPURTRuntime:   s.CPURTRuntime,
		CPURTPeriod:    s.CPURTPeriod,
		MemSwappiness:  s.MemSwappiness,
		OomKillDisable: s.OomKillDisable,
		Uts:            s.Uts,
		Annotations:    nonEmpty(s.Annotations),
		Blkio:          s.Blkio,
		Runtime:        s.Runtime,
		Umask:          s.Umask,
		ExternalLinks:  sorted(s.ExternalLinks),
		DeviceCgroup:   sorted(s.DeviceCgroupRules),
		PostStart:      s.PostStart,
		PreStop:        s.PreStop,
	}
	for _, h := range s.PreStart {
		in.PreStart = append(in.PreStart, ConfigHash(h))
	}
	if s.Logging != nil && (s.Logging.Driver != "" || len(s.Logging.Options) > 0) {
		in.Logging = &hashLogging{Driver: s.Logging.Driver, Options: nonEmpty(s.Logging.Options)}
	}
	if s.StopGracePeriod != nil {
		ns := s.StopGracePeriod.Nanoseconds()
		in.StopGracePeriod = &ns
	}
	for _, m := range s.Mounts {
		in.Mounts = append(in.Mounts, hashMount(m))
	}
	b, _ := json.Marshal(in) // cannot fail: plain data
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hashNetworks projects the networks of a service, sorted by name.
func hashNetworks(nets []ServiceNetwork) []hashNetwork {
	var out []hashNetwork
	for _, n := range nets {
		out = append(out, hashNetwork{
			Name:        n.Name,
			Aliases:     sorted(n.Aliases),
			IPv4Address: n.IPv4Address,
			IPv6Address: n.IPv6Address,
			MacAddress:  n.MacAddress,
			Priority:    n.Priority,
			GwPriority:  n.GwPriority,

			InterfaceName: n.InterfaceName,
			LinkLocalIPs:  sorted(n.LinkLocalIPs),
			DriverOpts:    nonEmpty(n.DriverOpts),

			NoServiceAlias: n.NoServiceAlias,
		})
	}
	slices.SortFunc(out, func(a, b hashNetwork) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// hashPorts projects published ports, sorted: their order in the file
// does not matter. Each is hashed as Compose writes it (published
// "8000-8010", host_ip "127.0.0.1"), so that the hash does not depend on
// how berth models a port.
func hashPorts(ports []Port) []hashPort {
	var out []hashPort
	for _, p := range ports {
		hp := hashPort{
			Target:    int(p.ContainerPort),
			Published: p.HostPorts(),
			Protocol:  string(p.Protocol),
			Mode:      p.Mode,
		}
		if p.HostIP.IsValid() {
			hp.HostIP = p.HostIP.String()
		}
		out = append(out, hp)
	}
	slices.SortFunc(out, func(a, b hashPort) int {
		return cmp.Or(cmp.Compare(a.Target, b.Target), strings.Compare(a.Protocol, b.Protocol),
			strings.Compare(a.HostIP, b.HostIP), strings.Compare(a.Published, b.Published), strings.Compare(a.Mode, b.Mode))
	})
	return out
}

func hashUlimits(in map[string]Ulimit) map[string]hashUlimit {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]hashUlimit, len(in))
	for name, u := range in {
		out[name] = hashUlimit(u)
	}
	return out
}

// hashHealth projects a healthcheck; one that sets nothing hashes as none.
func hashHealth(h *Healthcheck) *hashHealthcheck {
	if h == nil || h.isZero() {
		return nil
	}
	return &hashHealthcheck{
		Test:            h.Test,
		IntervalNs:      h.Interval.Nanoseconds(),
		TimeoutNs:       h.Timeout.Nanoseconds(),
		StartPeriodNs:   h.StartPeriod.Nanoseconds(),
		StartIntervalNs: h.StartInterval.Nanoseconds(),
		Retries:         h.Retries,
		Disable:         h.Disable,
	}
}

// hashFileRefs projects config or secret references, sorted by target:
// each is a separate file in the container.
func hashFileRefs(refs []FileRef) []hashFileRef {
	var out []hashFileRef
	for _, r := range refs {
		out = append(out, hashFileRef(r))
	}
	slices.SortFunc(out, func(a, b hashFileRef) int {
		return cmp.Or(strings.Compare(a.Target, b.Target), strings.Compare(a.Source, b.Source))
	})
	return out
}

// nonEmptyList makes an empty slice nil, so that both hash the same; the
// order is kept.
func nonEmptyList(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// nonEmpty makes an empty map nil, so that both hash the same.
func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// sorted returns a sorted copy of s; nil when s is empty.
func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(slices.Values(s))
}

// sortedEnv sorts KEY=VALUE entries by key; for a key given twice the last
// entry wins, as in a container's environment.
func sortedEnv(env []string) []string {
	if len(env) == 0 {
		return nil
	}
	byKey := map[string]string{}
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		byKey[k] = e
	}
	out := make([]string, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out
}
