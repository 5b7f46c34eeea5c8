package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// convertProject turns compose-go's project into berth's model. It reads
// only the enabled services and the networks, volumes, configs and secrets
// left in cp, which by then are those the enabled services use. The
// services named in jobs are jobs (see jobsAsServices): converted the same
// way, they go to Project.Jobs. The FieldErrors, without File, are every
// value berth cannot run.
func convertProject(cp *types.Project, jobs types.Jobs) (*Project, []FieldError) {
	p := &Project{
		Name:       cp.Name,
		WorkingDir: cp.WorkingDir,
		config:     servicesAsJobs(cp, jobs),
	}
	var errs []FieldError
	for _, name := range slices.Sorted(maps.Keys(cp.Services)) {
		s, serr := convertService(cp.Name, name, cp.Services[name])
		j, isJob := jobs[name]
		if !isJob {
			p.Services = append(p.Services, s)
			errs = append(errs, serr...)
			continue
		}
		s.Job = jobOf(j)
		p.Jobs = append(p.Jobs, s)
		for _, fe := range serr {
			fe.Path = "jobs." + strings.TrimPrefix(fe.Path, "services.")
			errs = append(errs, fe)
		}
	}
	foldLinks(p.Services)
	for _, name := range slices.Sorted(maps.Keys(cp.DisabledServices)) {
		if _, isJob := jobs[name]; !isJob {
			p.DisabledServices = append(p.DisabledServices, name)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(cp.Networks)) {
		n := cp.Networks[key]
		nw := Network{
			Key:        key,
			Name:       n.Name,
			External:   bool(n.External),
			Internal:   n.Internal,
			Driver:     n.Driver,
			Labels:     cloneLabels(n.Labels),
			DriverOpts: cloneMap(n.DriverOpts),
			EnableIPv6: n.EnableIPv6 != nil && *n.EnableIPv6,
			Attachable: n.Attachable,
		}
		for _, pool := range n.Ipam.Config {
			if pool != nil {
				nw.Subnets = append(nw.Subnets, IPAMConfig{Subnet: pool.Subnet, Gateway: pool.Gateway, IPRange: pool.IPRange, AuxAddresses: cloneMap(pool.AuxiliaryAddresses)})
			}
		}
		p.Networks = append(p.Networks, nw)
	}
	for _, key := range slices.Sorted(maps.Keys(cp.Volumes)) {
		v := cp.Volumes[key]
		p.Volumes = append(p.Volumes, Volume{
			Key:        key,
			Name:       v.Name,
			External:   bool(v.External),
			Driver:     v.Driver,
			Labels:     cloneLabels(v.Labels),
			DriverOpts: cloneMap(v.DriverOpts),
		})
	}
	for _, key := range slices.Sorted(maps.Keys(cp.Configs)) {
		p.Configs = append(p.Configs, fileObject(key, types.FileObjectConfig(cp.Configs[key])))
	}
	for _, key := range slices.Sorted(maps.Keys(cp.Secrets)) {
		p.Secrets = append(p.Secrets, fileObject(key, types.FileObjectConfig(cp.Secrets[key])))
	}
	for _, ss := range [][]Service{p.Services, p.Jobs} {
		for i := range ss {
			digestFileRefs(ss[i].Configs, p.Configs)
			digestFileRefs(ss[i].Secrets, p.Secrets)
			defaultSSH(ss[i].Build, cp.Environment)
		}
	}
	return p, errs
}

// digestFileRefs sets each reference's Digest from the object it names:
// the hash of its inline or environment content, or of its file's bytes
// now. berth copies a config or secret into the container when it starts,
// so a change of content must change the service's hash (and recreate its
// containers) for the container to see it. An external object, or a file
// that cannot be read (reported when the container starts), has none.
func digestFileRefs(refs []FileRef, objs []FileObject) {
	for i := range refs {
		j := slices.IndexFunc(objs, func(o FileObject) bool { return o.Key == refs[i].Source })
		if j < 0 || objs[j].External {
			continue
		}
		content := []byte(objs[j].Content)
		if objs[j].File != "" {
			b, err := os.ReadFile(objs[j].File)
			if err != nil {
				continue
			}
			content = b
		}
		sum := sha256.Sum256(content)
		refs[i].Digest = hex.EncodeToString(sum[:])
	}
}

// fileObject converts a project config or secret. compose-go has already
// read a set environment variable into Content, for secrets and configs
// alike.
func fileObject(key string, o types.FileObjectConfig) FileObject {
	return FileObject{
		Key:         key,
		Name:        o.Name,
		File:        o.File,
		Environment: o.Environment,
		Content:     o.Content,
		External:    bool(o.External),
	}
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
	return cloneMap(l)
}

// cloneMap copies m; nil when m is empty.
func cloneMap[M ~map[string]string](m M) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(map[string]string(m))
}

// cloneList copies l; nil when l is empty.
func cloneList[L ~[]string](l L) []string {
	if len(l) == 0 {
		return nil
	}
	return slices.Clone([]string(l))
}

// foldLinks turns each service's links into what Docker does with them on
// user-defined networks: the linked service answers to the link's alias on
// every network the two share. (compose-go has already made each link a
// dependency.) Aliases stay sorted and without duplicates.
func foldLinks(services []Service) {
	idx := map[string]int{}
	for i, s := range services {
		idx[s.Name] = i
	}
	for _, s := range services {
		for _, l := range s.Links {
			target, alias, ok := strings.Cut(l, ":")
			if !ok {
				alias = target
			}
			ti, found := idx[target]
			if !found || alias == target {
				continue // the service's own name resolves already
			}
			t := &services[ti]
			for i := range t.Networks {
				n := &t.Networks[i]
				if !slices.ContainsFunc(s.Networks, func(sn ServiceNetwork) bool { return sn.Name == n.Name }) {
					continue
				}
				if !slices.Contains(n.Aliases, alias) {
					n.Aliases = append(n.Aliases, alias)
					slices.Sort(n.Aliases)
				}
			}
		}
	}
}

// defaultSSH gives build.ssh ids written without a path the agent of the
// environment, SSH_AUTH_SOCK, as Docker Compose does.
func defaultSSH(b *Build, env types.Mapping) {
	if b == nil {
		return
	}
	for id, p := range b.SSH {
		if p == "" {
			b.SSH[id] = env["SSH_AUTH_SOCK"]
		}
	}
}
