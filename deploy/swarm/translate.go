package swarm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/berth-dev/berth/deploy"
	"github.com/berth-dev/berth/spec"
)

// LabelNamespace is the label `docker stack` puts on every object of a
// stack; berth's deploys carry it too, so that both tools see one stack.
const LabelNamespace = "com.docker.stack.namespace"

// Options steer the translation.
type Options struct {
	// VIP uses Swarm's virtual IPs and ingress routing mesh where the file
	// does not choose. False, for clusters without IPVS, gives services
	// endpoint_mode dnsrr and publishes every port in host mode.
	VIP bool
	// APIVersion is the daemon's Engine API version ("1.41"): fields it
	// does not know are refused rather than silently dropped. Empty: the
	// newest.
	APIVersion string
}

// Translation is a project in Swarm's terms.
type Translation struct {
	Objects []deploy.Object
	// Notes are one-line remarks for the user: what was adapted or left
	// out, and why.
	Notes []string
}

// Contents reads the content of the project's configs and secrets, by
// kind ("config", "secret") and key: a file's bytes, else the inline or
// environment content. External objects have none.
func Contents(p *spec.Project) (map[string][]byte, error) {
	out := map[string][]byte{}
	read := func(kind string, objs []spec.FileObject) error {
		for _, o := range objs {
			if o.External {
				continue
			}
			data := []byte(o.Content)
			if o.File != "" {
				b, err := os.ReadFile(o.File)
				if err != nil {
					return fmt.Errorf("%s %q: %w", kind, o.Key, err)
				}
				data = b
			}
			out[kind+"/"+o.Key] = data
		}
		return nil
	}
	if err := read("config", p.Configs); err != nil {
		return nil, err
	}
	if err := read("secret", p.Secrets); err != nil {
		return nil, err
	}
	return out, nil
}

// Translate turns the project into Swarm objects: a service per Compose
// service named <project>_<service>, an attachable overlay network per
// network, a config or secret per version of each one's content (Swarm's
// are immutable: the name ends in a digest of the content). contents is
// what Contents returned. It does no I/O.
//
// What Swarm cannot run is refused: every problem is a spec.FieldError
// (errdefs.ErrNotImplemented) naming the file, service and field, joined.
func Translate(p *spec.Project, contents map[string][]byte, opt Options) (Translation, error) {
	extra, err := readSwarmFields(p)
	if err != nil {
		return Translation{}, err
	}
	t := translator{p: p, contents: contents, opt: opt, file: "compose.yaml"}
	if len(p.ComposeFiles) > 0 {
		t.file = relFile(p.WorkingDir, p.ComposeFiles[0])
	}
	if !opt.VIP {
		t.note("services use endpoint_mode dnsrr and host-mode ports where the file does not choose: the cluster has no VIP load-balancing (IPVS) here; --endpoint-mode vip to change")
	}
	for _, n := range p.Networks {
		t.network(n)
	}
	t.fileObjects(deploy.KindConfig, p.Configs)
	t.fileObjects(deploy.KindSecret, p.Secrets)
	for _, s := range p.Services {
		t.service(s, extra[s.Name])
	}
	if len(t.errs) > 0 {
		return Translation{}, joinErrs(t.errs)
	}
	return Translation{Objects: t.objs, Notes: t.notes}, nil
}

func relFile(dir, f string) string {
	if r, ok := strings.CutPrefix(f, dir+"/"); ok {
		return r
	}
	return f
}

type translator struct {
	p        *spec.Project
	contents map[string][]byte
	opt      Options
	file     string

	objs  []deploy.Object
	notes []string
	errs  []error
	// names of the configs and secrets by key, with their digest suffix.
	configNames, secretNames map[string]string
}

func (t *translator) note(format string, a ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, a...))
}

func (t *translator) refuse(service, field, issue string) {
	path := "services." + service + "." + field
	if service == "" {
		path = field
	}
	t.errs = append(t.errs, spec.FieldError{File: t.file, Path: path, Issue: issue, Err: errdefs.ErrNotImplemented})
}

func (t *translator) labels(extra map[string]string) map[string]string {
	l := map[string]string{LabelNamespace: t.p.Name, spec.LabelProject: t.p.Name}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

func (t *translator) network(n spec.Network) {
	if n.External {
		return
	}
	switch n.Driver {
	case "", "overlay":
	default:
		t.refuse("", "networks."+n.Key+".driver", fmt.Sprintf("%q: Swarm services attach to overlay networks", n.Driver))
		return
	}
	req := network.CreateRequest{
		Name: n.Name, Driver: "overlay", Scope: "swarm", Attachable: true, Internal: n.Internal,
		Options: n.DriverOpts,
		Labels:  t.labels(mergeLabels(n.Labels, map[string]string{spec.LabelNetwork: n.Key})),
	}
	if n.EnableIPv6 {
		v := true
		req.EnableIPv6 = &v
	}
	if len(n.Subnets) > 0 {
		req.IPAM = &network.IPAM{Driver: "default"}
		for _, s := range n.Subnets {
			c := network.IPAMConfig{}
			if err := parseIPAM(&c, s); err != nil {
				t.refuse("", "networks."+n.Key+".ipam.config", err.Error())
				return
			}
			req.IPAM.Config = append(req.IPAM.Config, c)
		}
	}
	t.objs = append(t.objs, deploy.Object{Kind: deploy.KindNetwork, Name: n.Name, Spec: req, Immutable: true})
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (t *translator) fileObjects(kind deploy.Kind, objs []spec.FileObject) {
	names := map[string]string{}
	for _, o := range objs {
		if o.External {
			names[o.Key] = o.Name
			continue
		}
		data := t.contents[string(kind)+"/"+o.Key]
		sum := sha256.Sum256(data)
		name := o.Name + "-" + hex.EncodeToString(sum[:])[:10]
		names[o.Key] = name
		ann := swarm.Annotations{Name: name, Labels: t.labels(map[string]string{labelKey(kind): o.Key})}
		var specv any
		if kind == deploy.KindConfig {
			specv = swarm.ConfigSpec{Annotations: ann, Data: data}
		} else {
			specv = swarm.SecretSpec{Annotations: ann, Data: data}
		}
		t.objs = append(t.objs, deploy.Object{Kind: kind, Name: name, Spec: specv, Immutable: true, Lineage: o.Key})
	}
	if kind == deploy.KindConfig {
		t.configNames = names
	} else {
		t.secretNames = names
	}
}

// labelKey is the label naming the Compose key of a config or secret.
func labelKey(kind deploy.Kind) string { return "io.berth.deploy." + string(kind) }

func (t *translator) service(s spec.Service, x swarmFields) {
	nerr := len(t.errs)
	t.refusals(s, x)
	name := t.p.Name + "_" + s.Name
	cs := &swarm.ContainerSpec{
		Image:           s.Image,
		Labels:          t.labels(mergeLabels(s.Labels, map[string]string{spec.LabelService: s.Name})),
		Command:         s.Entrypoint,
		Args:            s.Command,
		Hostname:        s.Hostname,
		Env:             s.Environment,
		Dir:             s.WorkingDir,
		User:            s.User,
		Groups:          s.GroupAdd,
		StopSignal:      s.StopSignal,
		StopGracePeriod: s.StopGracePeriod,
		TTY:             s.Tty,
		OpenStdin:       s.StdinOpen,
		ReadOnly:        s.ReadOnly,
		Sysctls:         s.Sysctls,
		CapabilityAdd:   s.CapAdd,
		CapabilityDrop:  s.CapDrop,
		OomScoreAdj:     int64(s.OomScoreAdj),
		Isolation:       container.IsolationDefault,
		Healthcheck:     healthcheck(s.Healthcheck),
	}
	if s.Init {
		v := true
		cs.Init = &v
	}
	for _, h := range s.ExtraHosts {
		host, ip, _ := strings.Cut(h, "=")
		cs.Hosts = append(cs.Hosts, ip+" "+host)
	}
	if len(s.DNS)+len(s.DNSSearch)+len(s.DNSOpt) > 0 {
		cs.DNSConfig = &swarm.DNSConfig{Search: s.DNSSearch, Options: s.DNSOpt}
		for i, d := range s.DNS {
			a, err := netip.ParseAddr(d)
			if err != nil {
				t.refuse(s.Name, fmt.Sprintf("dns[%d]", i), fmt.Sprintf("%q is not an IP address", d))
				continue
			}
			cs.DNSConfig.Nameservers = append(cs.DNSConfig.Nameservers, a)
		}
	}
	for _, n := range slices.Sorted(mapKeys(s.Ulimits)) {
		u := s.Ulimits[n]
		cs.Ulimits = append(cs.Ulimits, &container.Ulimit{Name: n, Soft: u.Soft, Hard: u.Hard})
	}
	cs.Mounts = t.mounts(s)
	cs.Configs, cs.Secrets = t.fileRefs(s)

	task := swarm.TaskSpec{
		ContainerSpec: cs,
		Resources:     resourceSpec(s, x),
		RestartPolicy: restartSpec(s, x),
		Placement:     placementSpec(x),
		Runtime:       swarm.RuntimeContainer,
	}
	if s.Logging != nil && s.Logging.Driver != "" {
		task.LogDriver = &swarm.Driver{Name: s.Logging.Driver, Options: s.Logging.Options}
	}
	for _, sn := range s.Networks {
		target := sn.Name
		for _, n := range t.p.Networks {
			if n.Key == sn.Name {
				target = n.Name
			}
		}
		task.Networks = append(task.Networks, swarm.NetworkAttachmentConfig{Target: target, Aliases: append([]string{s.Name}, sn.Aliases...)})
	}
	svc := swarm.ServiceSpec{
		Annotations:    swarm.Annotations{Name: name, Labels: t.labels(mergeLabels(x.Labels, map[string]string{spec.LabelService: s.Name}))},
		TaskTemplate:   task,
		UpdateConfig:   updateSpec(x.UpdateConfig),
		RollbackConfig: updateSpec(x.RollbackConfig),
		EndpointSpec:   t.endpoint(s, x),
	}
	if x.Mode == "global" {
		svc.Mode.Global = &swarm.GlobalService{}
	} else {
		n := uint64(max(s.Scale, 0))
		svc.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	}
	if s.ContainerName != "" {
		t.note("service %q: container_name %q is not used: Swarm names each task", s.Name, s.ContainerName)
	}
	if s.Build != nil {
		t.note("service %q: build is not run: the nodes pull image %q", s.Name, s.Image)
	}
	if len(t.errs) > nerr {
		return
	}
	var after []string
	for _, d := range s.DependsOn {
		after = append(after, d.Service)
	}
	t.objs = append(t.objs, deploy.Object{Kind: deploy.KindService, Name: name, Service: s.Name, Spec: svc, After: after})
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func healthcheck(h *spec.Healthcheck) *container.HealthConfig {
	if h == nil {
		return nil
	}
	if h.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	return &container.HealthConfig{
		Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod,
		StartInterval: h.StartInterval, Retries: h.Retries,
	}
}

func (t *translator) mounts(s spec.Service) []mount.Mount {
	var out []mount.Mount
	for _, m := range s.Mounts {
		mt := mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case "volume":
			vo := &mount.VolumeOptions{NoCopy: m.NoCopy, Subpath: m.Subpath}
			for _, v := range t.p.Volumes {
				if v.Key != m.Source {
					continue
				}
				mt.Source = v.Name
				if !v.External {
					vo.Labels = t.labels(mergeLabels(v.Labels, map[string]string{spec.LabelVolume: v.Key}))
					if v.Driver != "" || len(v.DriverOpts) > 0 {
						vo.DriverConfig = &mount.Driver{Name: v.Driver, Options: v.DriverOpts}
					}
				}
			}
			mt.VolumeOptions = vo
		case "bind":
			if m.Propagation != "" {
				mt.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(m.Propagation)}
			}
		case "tmpfs":
			if m.TmpfsSize != 0 || m.TmpfsMode != 0 {
				mt.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.TmpfsSize, Mode: os.FileMode(m.TmpfsMode)}
			}
		}
		out = append(out, mt)
	}
	for i, tm := range s.Tmpfs {
		path, opts, _ := strings.Cut(tm, ":")
		mt := mount.Mount{Type: mount.TypeTmpfs, Target: path}
		for _, o := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "":
			case "size":
				n, err := units.RAMInBytes(v)
				if err != nil {
					t.refuse(s.Name, fmt.Sprintf("tmpfs[%d]", i), fmt.Sprintf("size %q: %v", v, err))
				}
				mt.TmpfsOptions = orTmpfs(mt.TmpfsOptions)
				mt.TmpfsOptions.SizeBytes = n
			case "mode":
				n, err := strconv.ParseUint(v, 8, 32)
				if err != nil {
					t.refuse(s.Name, fmt.Sprintf("tmpfs[%d]", i), fmt.Sprintf("mode %q: not an octal mode", v))
				}
				mt.TmpfsOptions = orTmpfs(mt.TmpfsOptions)
				mt.TmpfsOptions.Mode = os.FileMode(n)
			default:
				t.refuse(s.Name, fmt.Sprintf("tmpfs[%d]", i), fmt.Sprintf("option %q: Swarm takes only size and mode", k))
			}
		}
		out = append(out, mt)
	}
	return out
}

func orTmpfs(o *mount.TmpfsOptions) *mount.TmpfsOptions {
	if o == nil {
		return &mount.TmpfsOptions{}
	}
	return o
}

// fileRefs are the service's configs and secrets. Their IDs are left
// empty: the cluster knows them, and Create and Update fill them in.
func (t *translator) fileRefs(s spec.Service) ([]*swarm.ConfigReference, []*swarm.SecretReference) {
	var cfgs []*swarm.ConfigReference
	var secs []*swarm.SecretReference
	own := func(r spec.FileRef) (uid, gid string, mode os.FileMode) {
		uid, gid, mode = cmpOr(r.UID, "0"), cmpOr(r.GID, "0"), 0o444
		if r.Mode != nil {
			mode = os.FileMode(*r.Mode)
		}
		return uid, gid, mode
	}
	for _, r := range s.Configs {
		uid, gid, mode := own(r)
		cfgs = append(cfgs, &swarm.ConfigReference{
			File:       &swarm.ConfigReferenceFileTarget{Name: r.Target, UID: uid, GID: gid, Mode: mode},
			ConfigName: t.configNames[r.Source],
		})
	}
	for _, r := range s.Secrets {
		uid, gid, mode := own(r)
		secs = append(secs, &swarm.SecretReference{
			File:       &swarm.SecretReferenceFileTarget{Name: strings.TrimPrefix(r.Target, "/run/secrets/"), UID: uid, GID: gid, Mode: mode},
			SecretName: t.secretNames[r.Source],
		})
	}
	return cfgs, secs
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func resourceSpec(s spec.Service, x swarmFields) *swarm.ResourceRequirements {
	var r swarm.ResourceRequirements
	if s.CPUs != 0 || s.MemLimit != 0 || s.PidsLimit > 0 {
		r.Limits = &swarm.Limit{NanoCPUs: int64(s.CPUs * 1e9), MemoryBytes: s.MemLimit}
		if s.PidsLimit > 0 {
			r.Limits.Pids = s.PidsLimit
		}
	}
	var cpus float64
	if x.Resources.Reservations != nil {
		cpus = x.Resources.Reservations.CPUs
	}
	if cpus != 0 || s.MemReservation != 0 {
		r.Reservations = &swarm.Resources{NanoCPUs: int64(cpus * 1e9), MemoryBytes: s.MemReservation}
	}
	if r.Limits == nil && r.Reservations == nil {
		return nil
	}
	return &r
}

func restartSpec(s spec.Service, x swarmFields) *swarm.RestartPolicy {
	rp := x.RestartPolicy
	if rp == nil {
		rp = restartFromCompose(s.Restart)
	}
	if rp == nil {
		return nil
	}
	return &swarm.RestartPolicy{
		Condition: swarm.RestartPolicyCondition(rp.Condition), Delay: rp.Delay.ptr(),
		MaxAttempts: rp.MaxAttempts, Window: rp.Window.ptr(),
	}
}

func placementSpec(x swarmFields) *swarm.Placement {
	p := x.Placement
	if len(p.Constraints) == 0 && len(p.Preferences) == 0 && p.MaxReplicas == 0 {
		return nil
	}
	out := &swarm.Placement{Constraints: p.Constraints, MaxReplicas: p.MaxReplicas}
	for _, pref := range p.Preferences {
		out.Preferences = append(out.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: pref.Spread}})
	}
	return out
}

func updateSpec(u *updateConfig) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	par := uint64(1)
	if u.Parallelism != nil {
		par = *u.Parallelism
	}
	// Swarm fills in "pause" when none is given; so does the desired spec,
	// or every deploy would see a change.
	fa := swarm.FailureAction(u.FailureAction)
	if fa == "" {
		fa = swarm.UpdateFailureActionPause
	}
	return &swarm.UpdateConfig{
		Parallelism: par, Delay: time.Duration(u.Delay), FailureAction: fa,
		Monitor: time.Duration(u.Monitor), MaxFailureRatio: u.MaxFailureRatio, Order: swarm.UpdateOrder(u.Order),
	}
}

func (t *translator) endpoint(s spec.Service, x swarmFields) *swarm.EndpointSpec {
	mode := swarm.ResolutionMode(x.EndpointMode)
	if mode == "" {
		mode = swarm.ResolutionModeVIP
		if !t.opt.VIP {
			mode = swarm.ResolutionModeDNSRR
		}
	}
	ep := &swarm.EndpointSpec{Mode: mode}
	for i, p := range s.Ports {
		if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
			t.refuse(s.Name, fmt.Sprintf("ports[%d].host_ip", i), fmt.Sprintf("%s: Swarm publishes a port on every address of a node", p.HostIP))
		}
		if p.HostPortEnd != 0 {
			t.refuse(s.Name, fmt.Sprintf("ports[%d].published", i), "a range of host ports: Swarm publishes one port per target")
		}
		pm := swarm.PortConfigPublishModeIngress
		if p.Mode == "host" || mode == swarm.ResolutionModeDNSRR || !t.opt.VIP {
			pm = swarm.PortConfigPublishModeHost
		}
		ep.Ports = append(ep.Ports, swarm.PortConfig{
			Protocol: network.IPProtocol(p.Protocol), TargetPort: uint32(p.ContainerPort),
			PublishedPort: uint32(p.HostPort), PublishMode: pm,
		})
	}
	return ep
}
