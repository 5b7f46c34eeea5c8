package spec

import (
	"maps"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// convertProject turns compose-go's project into berth's model. It reads
// only the enabled services and the networks and volumes left in cp.
func convertProject(cp *types.Project) *Project {
	p := &Project{
		Name:       cp.Name,
		WorkingDir: cp.WorkingDir,
		config:     cp,
	}
	for _, name := range slices.Sorted(maps.Keys(cp.Services)) {
		p.Services = append(p.Services, convertService(name, cp.Services[name]))
	}
	p.DisabledServices = slices.Sorted(maps.Keys(cp.DisabledServices))
	for _, key := range slices.Sorted(maps.Keys(cp.Networks)) {
		n := cp.Networks[key]
		p.Networks = append(p.Networks, Network{
			Key:      key,
			Name:     n.Name,
			External: bool(n.External),
			Internal: n.Internal,
			Driver:   n.Driver,
			Labels:   cloneLabels(n.Labels),
		})
	}
	for _, key := range slices.Sorted(maps.Keys(cp.Volumes)) {
		v := cp.Volumes[key]
		p.Volumes = append(p.Volumes, Volume{
			Key:      key,
			Name:     v.Name,
			External: bool(v.External),
			Driver:   v.Driver,
			Labels:   cloneLabels(v.Labels),
		})
	}
	return p
}

func convertService(name string, s types.ServiceConfig) Service {
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
		Init:          s.Init != nil && *s.Init,
		Labels:        cloneLabels(s.Labels),
		Scale:         s.GetScale(),
		Restart:       s.Restart,
		StopSignal:    s.StopSignal,
		Profiles:      slices.Clone(s.Profiles),
		PullPolicy:    s.PullPolicy,
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		out.StopGracePeriod = &d
	}
	if len(s.ExtraHosts) > 0 {
		out.ExtraHosts = s.ExtraHosts.AsList("=")
		slices.Sort(out.ExtraHosts)
	}
	for _, key := range slices.Sorted(maps.Keys(s.Networks)) {
		sn := ServiceNetwork{Name: key}
		if c := s.Networks[key]; c != nil {
			sn.Aliases = slices.Clone(c.Aliases)
			sn.IPv4Address = c.Ipv4Address
		}
		out.Networks = append(out.Networks, sn)
	}
	for _, v := range s.Volumes {
		out.Mounts = append(out.Mounts, Mount{
			Type:     v.Type,
			Source:   v.Source,
			Target:   v.Target,
			ReadOnly: v.ReadOnly,
			NoCopy:   v.Volume != nil && v.Volume.NoCopy,
		})
	}
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		d := s.DependsOn[dep]
		out.DependsOn = append(out.DependsOn, Dependency{
			Service:   dep,
			Condition: d.Condition,
			Required:  d.Required,
			Restart:   d.Restart,
		})
	}
	return out
}

// environment returns KEY=VALUE entries sorted by key, leaving out the
// variables that have no value.
func environment(m types.MappingWithEquals) []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if v := m[k]; v != nil {
			env = append(env, k+"="+*v)
		}
	}
	return env
}

// cloneCommand keeps the difference between nil (the image's) and empty
// (cleared).
func cloneCommand(c types.ShellCommand) []string {
	if c == nil {
		return nil
	}
	return append([]string{}, c...)
}

func cloneLabels(l types.Labels) map[string]string {
	if len(l) == 0 {
		return nil
	}
	return maps.Clone(map[string]string(l))
}
