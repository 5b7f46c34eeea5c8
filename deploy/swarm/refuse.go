package swarm

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/spec"
)

// refusals records what of s Swarm cannot run, one FieldError each:
// a quietly dropped field would make the running tasks differ from the file.
func (t *translator) refusals(s spec.Service, x swarmFields) {
	r := func(field, issue string) { t.refuse(s.Name, field, issue) }
	if s.Build != nil && s.Image == spec.ImageOrDefault("", t.p.Name, s.Name) {
		r("build", "berth deploy does not build images: set image: to one the nodes can pull")
	}
	if s.Privileged {
		r("privileged", "Swarm services cannot run privileged")
	}
	if len(s.Devices) > 0 {
		r("devices", "Swarm services cannot map host devices")
	}
	if s.NetworkMode != "" {
		r("network_mode", fmt.Sprintf("%q: Swarm services attach to the project's overlay networks only", s.NetworkMode))
	}
	notOnSwarm := []struct {
		field string
		set   bool
	}{
		{"pid", s.Pid != ""}, {"ipc", s.Ipc != ""}, {"uts", s.Uts != ""}, {"userns_mode", s.UsernsMode != ""},
		{"cgroup", s.Cgroup != ""}, {"cgroup_parent", s.CgroupParent != ""}, {"volumes_from", len(s.VolumesFrom) > 0},
		{"domainname", s.Domainname != ""}, {"mac_address", s.MacAddress != ""}, {"security_opt", len(s.SecurityOpt) > 0},
		{"shm_size", s.ShmSize != 0}, {"memswap_limit", s.MemSwapLimit != 0}, {"mem_swappiness", s.MemSwappiness != 0},
		{"cpu_shares", s.CPUShares != 0}, {"cpuset", s.Cpuset != ""}, {"cpu_quota", s.CPUQuota != 0},
		{"cpu_period", s.CPUPeriod != 0}, {"cpu_rt_runtime", s.CPURTRuntime != 0}, {"cpu_rt_period", s.CPURTPeriod != 0},
		{"oom_kill_disable", s.OomKillDisable}, {"annotations", len(s.Annotations) > 0},
		{"umask", s.Umask != nil}, {"pre_start", len(s.PreStart) > 0},
	}
	for _, f := range notOnSwarm {
		if f.set {
			r(f.field, "Swarm services have no such setting")
		}
	}
	// Lifecycle hooks are Compose's own (it execs them in the container);
	// a Swarm task has no one to run them.
	if len(s.PostStart) > 0 {
		r("post_start", "Swarm runs no lifecycle hooks: nothing would run it after a task starts")
	}
	if len(s.PreStop) > 0 {
		r("pre_stop", "Swarm runs no lifecycle hooks: nothing would run it before a task stops")
	}
	for _, n := range s.Networks {
		if n.IPv4Address != "" || n.IPv6Address != "" || n.MacAddress != "" {
			r("networks."+n.Name, "static addresses: Swarm assigns task addresses")
		}
		if n.NoServiceAlias {
			r("networks."+n.Name+".use_service_name_alias", "a Swarm service always answers to its name")
		}
	}
	for i, m := range s.Mounts {
		if m.Recursive != "" && m.Recursive != "enabled" {
			r(fmt.Sprintf("volumes[%d].bind.recursive", i), "not deployed by berth")
		}
		if len(m.VolumeLabels) > 0 {
			r(fmt.Sprintf("volumes[%d].volume.labels", i), "not deployed by berth")
		}
	}
	switch x.Mode {
	case "", "replicated", "global":
	default:
		r("deploy.mode", fmt.Sprintf("%q: berth deploys replicated and global services", x.Mode))
	}
	switch x.EndpointMode {
	case "", "vip", "dnsrr":
	default:
		r("deploy.endpoint_mode", fmt.Sprintf("%q: want vip or dnsrr", x.EndpointMode))
	}
	if rs := x.Resources.Reservations; rs != nil && len(rs.Devices)+len(rs.Generic) > 0 {
		r("deploy.resources.reservations", "devices and generic_resources are not deployed by berth")
	}
	// Fields newer than the daemon's API: it would drop them silently.
	newer := []struct {
		field, version string
		set            bool
	}{
		{"healthcheck.start_interval", "1.44", s.Healthcheck != nil && s.Healthcheck.StartInterval != 0},
		{"oom_score_adj", "1.46", s.OomScoreAdj != 0},
		{"volumes", "1.45", hasSubpath(s)},
	}
	for _, f := range newer {
		if f.set && t.opt.APIVersion != "" && versionLess(t.opt.APIVersion, f.version) {
			r(f.field, fmt.Sprintf("needs Engine API %s; the cluster speaks %s", f.version, t.opt.APIVersion))
		}
	}
}

func hasSubpath(s spec.Service) bool {
	for _, m := range s.Mounts {
		if m.Subpath != "" {
			return true
		}
	}
	return false
}

func parseIPAM(c *network.IPAMConfig, s spec.IPAMConfig) error {
	var err error
	if c.Subnet, err = netip.ParsePrefix(s.Subnet); err != nil {
		return fmt.Errorf("subnet %q: %w", s.Subnet, err)
	}
	if s.Gateway != "" {
		if c.Gateway, err = netip.ParseAddr(s.Gateway); err != nil {
			return fmt.Errorf("gateway %q: %w", s.Gateway, err)
		}
	}
	if s.IPRange != "" {
		if c.IPRange, err = netip.ParsePrefix(s.IPRange); err != nil {
			return fmt.Errorf("ip_range %q: %w", s.IPRange, err)
		}
	}
	return nil
}

// joinErrs joins the refusals; the CLI prints one line each.
func joinErrs(errs []error) error { return errors.Join(errs...) }
