package reconciler

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/spec"
	"github.com/berth-dev/berth/volmgr"
)

// Mode says what a plan converges to.
type Mode int

// The modes of Compute.
const (
	ModeUp     Mode = iota // the project running as the file says
	ModeDown               // nothing of the project left
	ModeStart              // the project's existing containers running
	ModeStop               // the project's containers stopped, kept
	ModeRemove             // the project's stopped containers removed (running ones too with Force)
	ModeRun                // a one-off container of a service (Options.OneOff) made and started
	ModeBuild              // the services' images built (berth build), nothing else
)

// DefaultStopTimeout is how long a container gets to stop before SIGKILL when
// neither the service nor the command says otherwise.
const DefaultStopTimeout = 10 * time.Second

// Options tune a plan. They carry every decision the user makes up front,
// so Compute never has to ask.
type Options struct {
	Mode          Mode
	Services      []string // only these services (and their dependencies unless NoDeps); empty: all
	NoDeps        bool
	ForceRecreate bool
	NoRecreate    bool
	NoStart       bool
	RemoveOrphans bool
	RemoveVolumes bool // down -v: the project's named volumes too
	Force         bool // ModeRemove: running containers too
	// Containers selects, in ModeStart, ModeStop and ModeRemove, the
	// containers by name instead of by service (run --rm's removal).
	Containers []string
	// RemoveImages is down --rmi: "all" the services' images, "local"
	// those built under the name Compose gives them (no image:); "":
	// none. An image another project's container uses is kept, with a
	// warning.
	RemoveImages string
	// OneOff is ModeRun's container.
	OneOff *OneOff
	// Build says when a service with a build section is built: "" when
	// its image is absent (or its pull_policy is build: always), "always"
	// (up --build), "never" (up --no-build: an absent image is an error).
	Build string
	// BuildArgs and NoCache change every build of the plan (berth build
	// --build-arg, --no-cache).
	BuildArgs map[string]string
	NoCache   bool
	// BuildPull re-pulls every build's FROM images (berth build --pull);
	// BuildSSH adds SSH agents, by id, to every build (berth build --ssh).
	BuildPull bool
	BuildSSH  map[string]string
	// BuildMemory is the memory limit of every build's RUN steps, in
	// bytes (berth build --memory); 0: none.
	BuildMemory int64
	// ImagesOnly plans only the pulls and builds; SkipImages plans all but
	// them. Converge applies the first, then plans the second against
	// the images as they now are, so that a container whose image changed
	// is recreated.
	ImagesOnly bool
	SkipImages bool
	Wait       bool   // up --wait: end with a wait for every service to be ready
	Pull       string // up --pull: always, missing, never; "": each service's pull_policy
	// AlwaysRecreateDeps recreates the dependencies of a service that is
	// recreated, too (up --always-recreate-deps).
	AlwaysRecreateDeps bool
	// RenewAnonVolumes gives recreated containers new anonymous volumes
	// instead of their predecessors' (up -V).
	RenewAnonVolumes bool
	Timeout          *time.Duration // stop timeout overriding the services'
}

// Compute returns the plan that takes the machine from observed to desired.
// It is pure and deterministic: the same inputs give the same plan, byte for
// byte. desired may be nil in ModeDown (project known only by name).
func Compute(desired *spec.Project, observed *State, opt Options) (*Plan, error) {
	b := &builder{desired: desired, observed: observed, opt: opt, byTarget: map[string]int{}}
	var err error
	switch opt.Mode {
	case ModeUp:
		if desired == nil {
			return nil, fmt.Errorf("up needs a project: %w", errdefs.ErrInvalidArgument)
		}
		err = b.up()
	case ModeDown:
		err = b.down()
	case ModeStart, ModeStop, ModeRemove:
		err = b.lifecycle()
	case ModeBuild:
		if desired == nil {
			return nil, fmt.Errorf("build needs a project: %w", errdefs.ErrInvalidArgument)
		}
		err = b.buildOnly()
	case ModeRun:
		if desired == nil || opt.OneOff == nil {
			return nil, fmt.Errorf("run needs a project and a container: %w", errdefs.ErrInvalidArgument)
		}
		err = b.run()
	default:
		err = fmt.Errorf("unknown plan mode %d: %w", opt.Mode, errdefs.ErrInvalidArgument)
	}
	if err != nil {
		return nil, err
	}
	return &b.plan, nil
}

type builder struct {
	desired  *spec.Project
	observed *State
	opt      Options
	plan     Plan
	byTarget map[string]int // target → step ID of its last step
	// started lists, per selected service, the IDs of the steps that bring
	// its containers up; dependents wait for them.
	started map[string][]int
	// awaits holds the AwaitService step per "service/condition".
	awaits map[string]int
	// replaced names the services whose containers this plan recreates.
	replaced map[string]bool
	// depsOfChanged maps, with AlwaysRecreateDeps, each dependency of a
	// service whose configuration changed to that service.
	depsOfChanged map[string]string
}

// markDepsOfChanged fills depsOfChanged: a service with a container whose
// hash differs pulls in all it depends on, transitively.
func (b *builder) markDepsOfChanged(services []*spec.Service) {
	b.depsOfChanged = map[string]string{}
	if !b.opt.AlwaysRecreateDeps {
		return
	}
	byName := map[string]*spec.Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	var mark func(s *spec.Service, by string)
	mark = func(s *spec.Service, by string) {
		for _, d := range s.DependsOn {
			if dep, ok := byName[d.Service]; ok && b.depsOfChanged[d.Service] == "" {
				b.depsOfChanged[d.Service] = by
				mark(dep, by)
			}
		}
	}
	for _, s := range services {
		hash := spec.ConfigHash(*s)
		for _, c := range b.observed.Containers {
			if c.Service == s.Name && !c.OneOff && c.Hash != hash {
				mark(s, s.Name)
				break
			}
		}
	}
}

// await returns the step that waits for service to meet condition, adding
// it after the service's start steps the first time.
func (b *builder) await(service, condition string) int {
	key := service + "/" + condition
	if id, ok := b.awaits[key]; ok {
		return id
	}
	id := b.add(AwaitService{Project: b.desired.Name, Service: service, Condition: condition}, b.started[service]...)
	b.awaits[key] = id
	return id
}

func (b *builder) add(a Action, after ...int) int {
	id := len(b.plan.Steps) + 1
	after = slices.Compact(slices.Sorted(slices.Values(after)))
	b.plan.Steps = append(b.plan.Steps, Step{ID: id, Action: a, After: after})
	b.byTarget[a.Target()] = id
	return id
}

// selected returns the services the plan works on, in dependency order
// (dependencies first, ties by name).
func (b *builder) selected() ([]*spec.Service, error) {
	byName := map[string]*spec.Service{}
	for i := range b.desired.Services {
		s := &b.desired.Services[i]
		byName[s.Name] = s
	}
	want := map[string]bool{}
	var visit func(name string, from string) error
	visit = func(name, from string) error {
		s, ok := byName[name]
		if !ok {
			if from == "" {
				return fmt.Errorf("no such service: %s: %w", name, errdefs.ErrNotFound)
			}
			return nil // an optional dependency that is not enabled
		}
		if want[name] {
			return nil
		}
		want[name] = true
		if b.opt.NoDeps {
			return nil
		}
		for _, d := range s.DependsOn {
			if err := visit(d.Service, name); err != nil {
				return err
			}
		}
		return nil
	}
	if len(b.opt.Services) == 0 {
		for n := range byName {
			want[n] = true
		}
	}
	for _, n := range b.opt.Services {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	order, err := topoOrder(b.desired.Services)
	if err != nil {
		return nil, err
	}
	var out []*spec.Service
	for _, n := range order {
		if want[n] {
			out = append(out, byName[n])
		}
	}
	return out, nil
}

// topoOrder orders services so that each comes after what it depends on;
// among services free at the same time, by name.
func topoOrder(services []spec.Service) ([]string, error) {
	deps := map[string][]string{}
	for _, s := range services {
		deps[s.Name] = nil
	}
	for _, s := range services {
		for _, d := range s.DependsOn {
			if _, ok := deps[d.Service]; ok {
				deps[s.Name] = append(deps[s.Name], d.Service)
			}
		}
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(deps) {
		var ready []string
		for n, ds := range deps {
			if done[n] {
				continue
			}
			if !slices.ContainsFunc(ds, func(d string) bool { return !done[d] }) {
				ready = append(ready, n)
			}
		}
		if len(ready) == 0 {
			var left []string
			for n := range deps {
				if !done[n] {
					left = append(left, n)
				}
			}
			slices.Sort(left)
			return nil, fmt.Errorf("dependency cycle between services %s: %w", strings.Join(left, ", "), errdefs.ErrInvalidArgument)
		}
		slices.Sort(ready)
		for _, n := range ready {
			done[n] = true
		}
		order = append(order, ready...)
	}
	return order, nil
}

func (b *builder) projectLabels(extra map[string]string) map[string]string {
	l := maps.Clone(extra)
	if l == nil {
		l = map[string]string{}
	}
	l[spec.LabelProject] = b.desired.Name
	return l
}

func (b *builder) up() error {
	services, err := b.selected()
	if err != nil {
		return err
	}
	// Images first: a reference that cannot be pulled leaves nothing made.
	pulled, err := b.images(services)
	if err != nil || b.opt.ImagesOnly {
		return err
	}
	if err := b.resources(services, nil, pulled); err != nil {
		return err
	}
	b.startServices(services)
	for _, s := range services {
		if err := b.upService(s); err != nil {
			return err
		}
	}
	if b.opt.Wait && !b.opt.NoStart {
		for _, s := range services {
			if s.Scale > 0 {
				b.await(s.Name, ConditionReady)
			}
		}
	}
	b.orphans()
	return nil
}

// resources adds the steps that make the networks and named volumes the
// services use (and the volumes named by key in extraVolumes), after the
// pulls.
func (b *builder) resources(services []*spec.Service, extraVolumes []string, pulled []int) error {
	usedNets, usedVols := map[string]bool{}, map[string]bool{}
	for _, k := range extraVolumes {
		usedVols[k] = true
	}
	for _, s := range services {
		for _, n := range s.Networks {
			usedNets[n.Name] = true
		}
		for _, m := range s.Mounts {
			if m.Type == "volume" && m.Source != "" {
				usedVols[m.Source] = true
			}
		}
	}
	for _, n := range b.desired.Networks {
		if !usedNets[n.Key] {
			continue
		}
		if _, ok := b.observed.Networks[n.Name]; ok {
			continue
		}
		if n.External {
			return fmt.Errorf("network %s declared as external, but could not be found: %w", n.Name, errdefs.ErrNotFound)
		}
		labels := b.projectLabels(n.Labels)
		labels[spec.LabelNetwork] = n.Key
		cfg, err := NetworkConfig(n, labels)
		if err != nil {
			return err
		}
		b.add(CreateNetwork{Config: cfg}, pulled...)
	}
	for _, v := range b.desired.Volumes {
		if !usedVols[v.Key] {
			continue
		}
		if err := volmgr.ValidateName(v.Name); err != nil {
			return fmt.Errorf("volumes.%s: %w", v.Key, err)
		}
		if _, ok := b.observed.Volumes[v.Name]; ok {
			continue
		}
		if v.External {
			return fmt.Errorf("external volume %q not found: %w", v.Name, errdefs.ErrNotFound)
		}
		labels := b.projectLabels(v.Labels)
		labels[spec.LabelVolume] = v.Key
		b.add(CreateVolume{Name: v.Name, Labels: labels, Driver: v.Driver, DriverOpts: maps.Clone(v.DriverOpts)}, pulled...)
	}
	return nil
}

// startServices readies the builder to add the steps of services.
func (b *builder) startServices(services []*spec.Service) {
	b.started = map[string][]int{}
	b.awaits = map[string]int{}
	b.replaced = map[string]bool{}
	b.markDepsOfChanged(services)
	for _, s := range services {
		b.started[s.Name] = nil
	}
}

// images adds a PullImage step per image the services need fetched and a
// BuildImage step per image they need built, once per reference: pulled
// always with policy always, when absent with policy missing (the default);
// an absent image with policy never is an error. A service with a build
// section is built instead, as Options.Build and pull_policy build say.
func (b *builder) images(services []*spec.Service) ([]int, error) {
	if b.opt.SkipImages {
		return nil, nil
	}
	users := map[string][]string{}
	builds := map[string]*spec.Service{}
	var refs []string
	for _, s := range services {
		want, err := b.imageStep(s)
		if err != nil {
			return nil, err
		}
		if want == "" {
			continue
		}
		if _, known := users[s.Image]; !known {
			refs = append(refs, s.Image)
		}
		users[s.Image] = append(users[s.Image], s.Name)
		if want == "build" && builds[s.Image] == nil {
			builds[s.Image] = s
		}
	}
	// The images of image mounts are pulled when missing.
	for _, s := range services {
		for _, ref := range imageMountRefs(s) {
			if _, known := users[ref]; !known && !b.observed.Images[ref] {
				refs = append(refs, ref)
			}
			if !b.observed.Images[ref] && !slices.Contains(users[ref], s.Name) {
				users[ref] = append(users[ref], s.Name)
			}
		}
	}
	slices.Sort(refs)
	var ids []int
	built := map[string]int{}
	var addBuild func(ref string, seen []string) (int, error)
	addBuild = func(ref string, seen []string) (int, error) {
		if id, ok := built[ref]; ok {
			return id, nil
		}
		s := builds[ref]
		if slices.Contains(seen, ref) {
			return 0, fmt.Errorf("service %q: build.additional_contexts: the builds name each other: %w", s.Name, errdefs.ErrInvalidArgument)
		}
		// A context "service:NAME" is NAME's image: built first when
		// this plan builds it.
		var after []int
		for _, dep := range contextServices(s.Build) {
			d, ok := b.desired.Service(dep)
			if !ok {
				return 0, fmt.Errorf("service %q: build.additional_contexts: no service %q: %w", s.Name, dep, errdefs.ErrInvalidArgument)
			}
			if builds[d.Image] != nil {
				id, err := addBuild(d.Image, append(seen, ref))
				if err != nil {
					return 0, err
				}
				after = append(after, id)
			}
		}
		id := b.add(b.buildImage(s, users[ref]), after...)
		built[ref] = id
		return id, nil
	}
	for _, ref := range refs {
		if builds[ref] != nil {
			id, err := addBuild(ref, nil)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
			continue
		}
		ids = append(ids, b.add(PullImage{Ref: ref, Services: users[ref]}))
	}
	return slices.Compact(slices.Sorted(slices.Values(ids))), nil
}

// contextServices are the services build.additional_contexts names with
// "service:NAME", sorted.
func contextServices(bs *spec.Build) []string {
	var out []string
	for _, v := range bs.AdditionalContexts {
		if name, ok := strings.CutPrefix(v, spec.ServiceContextPrefix); ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// imageStep says what s's image needs: "pull", "build" or "" (nothing).
func (b *builder) imageStep(s *spec.Service) (string, error) {
	present := b.observed.Images[s.Image]
	if s.Build != nil {
		switch {
		case b.opt.Build == "never":
			if !present {
				return "", fmt.Errorf("service %q: image %q is not present and --no-build was given: %w", s.Name, s.Image, errdefs.ErrNotFound)
			}
			return "", nil
		case b.opt.Build == "always", s.PullPolicy == "build", !present:
			return "build", nil
		}
		return "", nil
	}
	policy := b.opt.Pull
	if policy == "" {
		policy = s.PullPolicy
	}
	switch policy {
	case "", "missing", "if_not_present":
		if present {
			return "", nil
		}
	case "always":
	case "never":
		if !present {
			return "", fmt.Errorf("service %q: image %q is not present and pull_policy is never: %w", s.Name, s.Image, errdefs.ErrNotFound)
		}
		return "", nil
	case "refresh":
		// A flag (--pull) has no interval: refresh is a service's.
		if age, ok := b.observed.PullAge[s.Image]; present && ok && policy == s.PullPolicy && age < s.PullRefresh {
			return "", nil
		}
	case "build":
		return "", fmt.Errorf("service %q: pull_policy build needs a build section: %w", s.Name, errdefs.ErrInvalidArgument)
	default:
		return "", fmt.Errorf("service %q: pull_policy %q is not supported by berth yet: %w", s.Name, policy, errdefs.ErrNotImplemented)
	}
	return "pull", nil
}

// buildImage is the step that builds s's image, named s.Image and the
// build's tags.
func (b *builder) buildImage(s *spec.Service, services []string) BuildImage {
	bs := s.Build
	dockerfile := bs.Dockerfile
	if dockerfile != "" && !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(bs.Context, dockerfile)
	}
	args := maps.Clone(bs.Args)
	if len(b.opt.BuildArgs) > 0 && args == nil {
		args = map[string]string{}
	}
	maps.Copy(args, b.opt.BuildArgs)
	network := bs.Network
	if network == "default" {
		network = ""
	}
	a := BuildImage{Ref: s.Image, Services: services, Options: build.Options{
		ContextDir: bs.Context, Dockerfile: dockerfile, BuildArgs: args, Target: bs.Target,
		Tags: append([]string{s.Image}, bs.Tags...), Labels: maps.Clone(bs.Labels),
		NoCache: bs.NoCache || b.opt.NoCache, Network: network,
		Pull: bs.Pull || b.opt.BuildPull, Secrets: b.buildSecrets(bs.Secrets),
	}}
	if bs.DockerfileInline != "" {
		a.Options.DockerfileContent = []byte(bs.DockerfileInline)
	}
	for name, v := range bs.AdditionalContexts {
		if a.Options.Contexts == nil {
			a.Options.Contexts = map[string]string{}
		}
		if svc, ok := strings.CutPrefix(v, spec.ServiceContextPrefix); ok {
			if d, ok := b.desired.Service(svc); ok {
				v = build.ImageContextPrefix + d.Image
			}
		}
		a.Options.Contexts[name] = v
	}
	a.Options.ShmSize = bs.ShmSize
	a.Options.Resources.MemLimit = b.opt.BuildMemory
	a.Options.NoCacheFilter = slices.Clone(bs.NoCacheFilter)
	for name, u := range bs.Ulimits {
		if a.Options.Ulimits == nil {
			a.Options.Ulimits = map[string]engine.Ulimit{}
		}
		a.Options.Ulimits[name] = engine.Ulimit(u)
	}
	for _, h := range bs.ExtraHosts {
		if e, err := parseExtraHost(h); err == nil { // checked by spec.Load
			a.Options.ExtraHosts = append(a.Options.ExtraHosts, e)
		}
	}
	a.Options.Allow = slices.Clone(bs.Entitlements)
	if bs.Privileged && !slices.Contains(a.Options.Allow, build.AllowSecurityInsecure) {
		a.Options.Allow = append(a.Options.Allow, build.AllowSecurityInsecure)
	}
	for _, m := range []map[string]string{bs.SSH, b.opt.BuildSSH} {
		for id, sock := range m {
			if sock == "" { // build.ssh: [default] without an SSH_AUTH_SOCK
				continue
			}
			if a.Options.SSH == nil {
				a.Options.SSH = map[string]string{}
			}
			a.Options.SSH[id] = sock
		}
	}
	return a
}

// buildSecrets resolves build.secrets against the project's secrets: a
// file's path, or the value compose-go read from the environment or
// found inline.
func (b *builder) buildSecrets(refs []spec.BuildSecret) []build.Secret {
	var out []build.Secret
	for _, r := range refs {
		i := slices.IndexFunc(b.desired.Secrets, func(o spec.FileObject) bool { return o.Key == r.Source })
		if i < 0 {
			continue // compose-go refuses a reference to an undefined secret
		}
		o := b.desired.Secrets[i]
		s := build.Secret{ID: r.ID, File: o.File}
		if o.File == "" {
			s.Value = []byte(o.Content)
		}
		out = append(out, s)
	}
	return out
}

// buildOnly plans `berth build`: the images of the selected services that
// have a build section, built whatever is present.
func (b *builder) buildOnly() error {
	services, err := b.selected()
	if err != nil {
		return err
	}
	b.opt.Build = "always"
	var withBuild []*spec.Service
	for _, s := range services {
		if s.Build != nil {
			withBuild = append(withBuild, s)
		}
	}
	_, err = b.images(withBuild)
	return err
}

// serviceAfter lists the steps a container of s waits for: its image's
// pull, its networks and volumes, and its dependencies as their conditions
// say.
func (b *builder) serviceAfter(s *spec.Service) []int {
	var after []int
	if id, ok := b.byTarget["image/"+s.Image]; ok {
		after = append(after, id)
	}
	for _, n := range s.Networks {
		if nw, ok := projectNetwork(b.desired, n.Name); ok {
			if id, ok := b.byTarget["network/"+nw.Name]; ok {
				after = append(after, id)
			}
		}
	}
	for _, m := range s.Mounts {
		if v, ok := projectVolume(b.desired, m.Source); ok && m.Type == "volume" {
			if id, ok := b.byTarget["volume/"+v.Name]; ok {
				after = append(after, id)
			}
		}
	}
	for _, d := range s.DependsOn {
		switch d.Condition {
		case ConditionHealthy, ConditionCompleted:
			if _, selected := b.started[d.Service]; selected {
				after = append(after, b.await(d.Service, d.Condition))
			}
		default:
			after = append(after, b.started[d.Service]...)
		}
	}
	return after
}

func (b *builder) upService(s *spec.Service) error {
	after := b.serviceAfter(s)
	hash := spec.ConfigHash(*s)
	existing := map[int]ObservedContainer{}
	for _, c := range b.observed.Containers {
		if c.Service == s.Name && !c.OneOff {
			if _, dup := existing[c.Number]; !dup {
				existing[c.Number] = c
			}
		}
	}
	scale := max(s.Scale, 0)
	// pre_start runs once before the service's containers start, when
	// none of them runs on (Docker Compose's rule).
	if len(s.PreStart) > 0 && !b.opt.NoStart && scale > 0 {
		runsOn := false
		for n := 1; n <= scale; n++ {
			old, ok := existing[n]
			imageChanged := ok && old.ImageID != "" && b.observed.ImageIDs[s.Image] != "" && old.ImageID != b.observed.ImageIDs[s.Image]
			recreate := ok && !b.opt.NoRecreate && (b.opt.ForceRecreate || old.Hash != hash || imageChanged || b.depsOfChanged[s.Name] != "")
			runsOn = runsOn || (ok && !recreate && old.Status == engine.StatusRunning)
		}
		if !runsOn {
			rp, err := preStartConfigs(b.desired, s)
			if err != nil {
				return err
			}
			after = append(slices.Clone(after), b.add(rp, after...))
		}
	}
	for n := 1; n <= scale; n++ {
		cfg, err := containerConfig(b.desired, s, n, hash)
		if err != nil {
			return err
		}
		old, ok := existing[n]
		imageChanged := ok && old.ImageID != "" && b.observed.ImageIDs[s.Image] != "" && old.ImageID != b.observed.ImageIDs[s.Image]
		recreate := ok && !b.opt.NoRecreate && (b.opt.ForceRecreate || old.Hash != hash || imageChanged || b.depsOfChanged[s.Name] != "")
		cafter := after
		if !ok || recreate {
			// A replacement keeps the old container's anonymous volumes
			// unless -V asks for new ones.
			reuse := ok && !b.opt.RenewAnonVolumes
			for _, cv := range anonymousVolumes(b.desired.Name, s, n, &cfg, b.observed.Volumes, reuse) {
				cafter = append(cafter, b.add(cv, after...))
			}
		}
		var id int
		switch {
		case !ok:
			id = b.add(CreateContainer{Service: s.Name, Number: n, Config: cfg, Start: !b.opt.NoStart, Hooks: hooksOf(s)}, cafter...)
		case recreate:
			reason := "configuration changed"
			switch {
			case b.opt.ForceRecreate:
				reason = "forced"
			case old.Hash == hash && imageChanged:
				reason = "image changed"
			case old.Hash == hash:
				reason = "dependent " + b.depsOfChanged[s.Name] + " is recreated"
			}
			b.replaced[s.Name] = true
			id = b.add(RecreateContainer{Service: s.Name, Number: n, OldID: old.ID, Reason: reason,
				Timeout: b.stopTimeout(s), Config: cfg, Start: !b.opt.NoStart, Hooks: hooksOf(s)}, cafter...)
		case old.Status != engine.StatusRunning && !b.opt.NoStart:
			id = b.add(StartContainer{Name: old.Name, ID: old.ID, Hooks: hooksOf(s)}, after...)
		case b.restartsWith(s) != "" && !b.opt.NoStart:
			id = b.add(RestartContainer{Name: old.Name, ID: old.ID, Timeout: b.stopTimeout(s), Hooks: hooksOf(s),
				Reason: "dependency " + b.restartsWith(s) + " was recreated"}, after...)
		default:
			b.plan.Unchanged = append(b.plan.Unchanged, "container/"+old.Name)
			continue
		}
		b.started[s.Name] = append(b.started[s.Name], id)
	}
	// Scale down: the highest numbers go first.
	for _, c := range b.observed.Containers {
		if c.Service == s.Name && !c.OneOff && c.Number > scale {
			b.add(RemoveContainer{Name: c.Name, ID: c.ID, Reason: "scaled down", Timeout: b.stopTimeout(s), Hooks: hooksOf(s)})
		}
	}
	return nil
}

// restartsWith names a dependency of s declared with restart: true that this
// plan recreates, or returns "".
func (b *builder) restartsWith(s *spec.Service) string {
	for _, d := range s.DependsOn {
		if d.Restart && b.replaced[d.Service] {
			return d.Service
		}
	}
	return ""
}

// orphans handles containers of services the project no longer has.
func (b *builder) orphans() {
	known := map[string]bool{}
	for _, s := range b.desired.Services {
		known[s.Name] = true
	}
	for _, n := range b.desired.DisabledServices {
		known[n] = true
	}
	for _, c := range b.observed.Containers {
		if known[c.Service] || c.OneOff {
			continue
		}
		if b.opt.RemoveOrphans {
			b.add(RemoveContainer{Name: c.Name, ID: c.ID, Reason: "orphan", Timeout: b.timeout(DefaultStopTimeout)})
			continue
		}
		b.plan.Warnings = append(b.plan.Warnings, fmt.Sprintf(
			"found orphan container %s for service %q; remove it with --remove-orphans", c.Name, c.Service))
	}
}

func (b *builder) stopTimeout(s *spec.Service) time.Duration {
	if s.StopGracePeriod != nil {
		return b.timeout(*s.StopGracePeriod)
	}
	return b.timeout(DefaultStopTimeout)
}

func (b *builder) timeout(d time.Duration) time.Duration {
	if b.opt.Timeout != nil {
		return *b.opt.Timeout
	}
	return d
}

func (b *builder) down() error {
	// Containers: dependents before what they depend on.
	services := map[string]*spec.Service{}
	rank := map[string]int{}
	if b.desired != nil {
		order, err := topoOrder(b.desired.Services)
		if err != nil {
			return err
		}
		for i, n := range order {
			rank[n] = len(order) - i
		}
		for i := range b.desired.Services {
			services[b.desired.Services[i].Name] = &b.desired.Services[i]
		}
		// A job's containers (run's) go before what the job depends on,
		// with the job's stop_grace_period.
		for i := range b.desired.Jobs {
			services[b.desired.Jobs[i].Name] = &b.desired.Jobs[i]
		}
		for _, n := range b.desired.DisabledServices {
			services[n] = nil
		}
	}
	ctrs := slices.Clone(b.observed.Containers)
	slices.SortStableFunc(ctrs, func(x, y ObservedContainer) int { return rank[x.Service] - rank[y.Service] })
	removedBy := map[string][]int{} // service → its removal steps
	var all []int
	for _, c := range ctrs {
		s, known := services[c.Service]
		orphan := b.desired != nil && !known && !c.OneOff
		if orphan && !b.opt.RemoveOrphans {
			b.plan.Warnings = append(b.plan.Warnings, fmt.Sprintf(
				"found orphan container %s for service %q; remove it with --remove-orphans", c.Name, c.Service))
			continue
		}
		timeout := b.timeout(DefaultStopTimeout)
		if s != nil {
			timeout = b.stopTimeout(s)
		}
		var after []int
		for name, dep := range services {
			if dep == nil {
				continue
			}
			for _, d := range dep.DependsOn {
				if d.Service == c.Service {
					after = append(after, removedBy[name]...)
				}
			}
		}
		reason := "down"
		if orphan {
			reason = "orphan"
		}
		id := b.add(RemoveContainer{Name: c.Name, ID: c.ID, Reason: reason, Timeout: timeout, Hooks: b.hooksOfName(c.Service)}, after...)
		removedBy[c.Service] = append(removedBy[c.Service], id)
		all = append(all, id)
	}
	external := map[string]bool{}
	if b.desired != nil {
		for _, n := range b.desired.Networks {
			if n.External {
				external["network/"+n.Name] = true
			}
		}
		for _, v := range b.desired.Volumes {
			if v.External {
				external["volume/"+v.Name] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.observed.Networks)) {
		n := b.observed.Networks[name]
		if external["network/"+name] || n.Labels[spec.LabelProject] != b.observed.Project {
			continue
		}
		b.add(RemoveNetwork{Name: name}, all...)
	}
	if b.opt.RemoveVolumes {
		for _, name := range slices.Sorted(maps.Keys(b.observed.Volumes)) {
			v := b.observed.Volumes[name]
			if external["volume/"+name] || v.Labels[spec.LabelProject] != b.observed.Project {
				continue
			}
			b.add(RemoveVolume{Name: name}, all...)
		}
	}
	return b.removeImages(all)
}

// removeImages adds, for down --rmi, a RemoveImage step per image of the
// project's services that is present and that no other project's
// container uses, after the containers' removal (all).
func (b *builder) removeImages(all []int) error {
	switch b.opt.RemoveImages {
	case "":
		return nil
	case "all", "local":
	default:
		return fmt.Errorf(`--rmi %q: must be "local" or "all": %w`, b.opt.RemoveImages, errdefs.ErrInvalidArgument)
	}
	if b.desired == nil {
		return nil
	}
	var refs []string
	for _, s := range b.desired.Services {
		local := s.Build != nil && s.Image == spec.ImageOrDefault("", b.desired.Name, s.Name)
		if b.opt.RemoveImages == "local" && !local {
			continue // an image named in the file: not this project's to remove
		}
		refs = append(refs, s.Image)
	}
	slices.Sort(refs)
	for _, ref := range slices.Compact(refs) {
		id, ok := b.observed.ImageIDs[ref]
		if !ok {
			continue
		}
		if users := b.observed.ImageUsers[id]; len(users) > 0 {
			b.plan.Warnings = append(b.plan.Warnings, fmt.Sprintf(
				"image %s is still used by container %s; kept", ref, strings.Join(users, ", ")))
			continue
		}
		b.add(RemoveImage{Ref: ref}, all...)
	}
	return nil
}
