package spec

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
)

// A job (the top-level jobs element) is a container that runs to
// completion when triggered. Its attributes are those of a service's
// container (compose-go's ContainerSpec and WorkloadSpec), so berth loads
// it through the same conversion as a service, into a Service whose Job is
// set, and runs it the way `run` runs a service. As Docker Compose does
// (docker/compose#14093): up does not start jobs, `run JOB` runs one, and
// up refuses a project with an active scheduled job, since no daemon is
// there to fire it.

// Job is what makes a Service a job: its triggers.
type Job struct {
	// Manual is whether `run` may start the job: true unless the file
	// sets triggers.manual to false.
	Manual bool
	// Schedule lists the crontab schedules the file declares, in file
	// order. berth fires none; see Project.CheckSchedules.
	Schedule []Schedule
}

// Schedule is one entry of a job's triggers.schedule.
type Schedule struct {
	Cron        string
	Timezone    string
	Concurrency string
	MissedFires string
}

// jobTriggerFields are the attributes of a job that are not a container's.
var jobTriggerFields = map[string]valueCheck{
	"jobs.*.triggers.manual":   nil,
	"jobs.*.triggers.schedule": nil, // refused by up: see refusedByUp
}

// refusedByUp are attributes berth accepts but `berth up` refuses, with
// the reason, as Docker Compose's up does.
var refusedByUp = map[string]string{
	"jobs.*.triggers.schedule": "a schedule needs a daemon to fire it and berth has none; `berth up` refuses an active scheduled job as Docker Compose does (`berth run JOB` runs it by hand)",
}

// jobAttributes are the keys of a job that are a container's attributes,
// from compose-go's JobConfig: what a job shares with a service. Made on
// first use (the support table's), not by every process at start.
var jobAttributes = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case f.Anonymous && tag == "":
				walk(f.Type)
			case tag != "" && tag != "-" && tag != "triggers":
				out[tag] = true
			}
		}
	}
	walk(reflect.TypeFor[types.JobConfig]())
	return out
})

// jobFields derives the job attributes' entries from the services' of
// table: a job's container attribute has the status and the check of the
// same service attribute, so the two cannot drift.
func jobFields(table map[string]valueCheck) map[string]valueCheck {
	out := maps.Clone(jobTriggerFields)
	for key, check := range table {
		if jk, ok := jobKey(key); ok {
			out[jk] = check
		}
	}
	return out
}

// jobKey is the job attribute matching a service attribute pattern
// ("services.*.cap_add" gives "jobs.*.cap_add"); false when the attribute
// is a service's only (restart, deploy…).
func jobKey(serviceKey string) (string, bool) {
	rest, ok := strings.CutPrefix(serviceKey, "services.*.")
	if !ok {
		return "", false
	}
	if !jobAttributes()[splitPath(rest)[0]] {
		return "", false
	}
	return "jobs.*." + rest, true
}

// serviceKey is the service attribute a job attribute pattern was derived
// from, or key itself.
func serviceKey(key string) string {
	if _, trigger := jobTriggerFields[key]; trigger {
		return key
	}
	if rest, ok := strings.CutPrefix(key, "jobs.*."); ok {
		return "services.*." + rest
	}
	return key
}

// jobsAsServices returns cp with every job, enabled or not, among its
// services (enabled or disabled by profile as the job is), and the jobs as
// declared, by name. A job is a service's container without the
// service-only attributes, so everything Load does to services (profiles,
// env_file, the resources they use, the conversion) applies to it as is.
func jobsAsServices(cp *types.Project) (*types.Project, types.Jobs) {
	jobs := cp.AllJobs()
	if len(jobs) == 0 {
		return cp, nil
	}
	out := *cp
	out.Services = maps.Clone(cp.Services)
	out.DisabledServices = maps.Clone(cp.DisabledServices)
	if out.Services == nil {
		out.Services = types.Services{}
	}
	if out.DisabledServices == nil {
		out.DisabledServices = types.Services{}
	}
	for name, j := range cp.Jobs {
		out.Services[name] = jobService(j)
	}
	for name, j := range cp.DisabledJobs {
		out.DisabledServices[name] = jobService(j)
	}
	out.Jobs, out.DisabledJobs = nil, nil
	return &out, jobs
}

func jobService(j types.JobConfig) types.ServiceConfig {
	return types.ServiceConfig{
		Name:          j.Name,
		Profiles:      j.Profiles,
		ContainerSpec: j.ContainerSpec,
		WorkloadSpec:  j.WorkloadSpec,
		Extensions:    j.Extensions,
	}
}

// servicesAsJobs undoes jobsAsServices: cp with the services that are jobs
// back among its jobs, with their triggers, as `berth config` renders them.
// What Load did to them since (the environment resolved) stays.
func servicesAsJobs(cp *types.Project, jobs types.Jobs) *types.Project {
	if len(jobs) == 0 {
		return cp
	}
	out := *cp
	out.Services, out.DisabledServices = types.Services{}, types.Services{}
	out.Jobs, out.DisabledJobs = types.Jobs{}, types.Jobs{}
	move := func(from types.Services, services types.Services, js types.Jobs) {
		for name, s := range from {
			j, ok := jobs[name]
			if !ok {
				services[name] = s
				continue
			}
			j.Profiles, j.ContainerSpec, j.WorkloadSpec = s.Profiles, s.ContainerSpec, s.WorkloadSpec
			// The key names it: compose-go would render a name attribute,
			// which the schema refuses on the way back in.
			j.Name = ""
			js[name] = j
		}
	}
	move(cp.Services, out.Services, out.Jobs)
	move(cp.DisabledServices, out.DisabledServices, out.DisabledJobs)
	return &out
}

// elementPath is the path of the service or job called name.
func elementPath(jobs types.Jobs, name string) string {
	if _, ok := jobs[name]; ok {
		return "jobs." + name
	}
	return "services." + name
}

// jobOf converts a job's triggers. Manual execution is allowed unless the
// file forbids it (triggers.manual: false).
func jobOf(j types.JobConfig) *Job {
	out := &Job{Manual: true}
	t := j.Triggers
	if t == nil {
		return out
	}
	if t.Manual != nil {
		out.Manual = *t.Manual
	}
	for _, s := range t.Schedule {
		out.Schedule = append(out.Schedule, Schedule{Cron: s.Cron, Timezone: s.Timezone, Concurrency: s.Concurrency, MissedFires: s.MissedFires})
	}
	return out
}

// refusedByUp lists what keeps `berth up` from running the project's
// enabled jobs as the file means them: a schedule, which no daemon is
// there to fire. Docker Compose's up refuses these too.
func (l *loader) refusedByUp(jobs []Service) []FieldError {
	var out []FieldError
	for _, j := range jobs {
		if len(j.Job.Schedule) == 0 {
			continue
		}
		path := "jobs." + j.Name + ".triggers.schedule"
		out = append(out, FieldError{
			File:  l.fileSetting(path),
			Path:  path,
			Issue: fmt.Sprintf("scheduled jobs are not supported: berth has no daemon to fire them (run the job by hand with `berth run %s`)", j.Name),
			Err:   errdefs.ErrNotImplemented,
		})
	}
	return out
}

// CheckSchedules returns, for `berth up`, the enabled jobs the file
// schedules (triggers.schedule), which berth cannot fire: FieldErrors
// naming the file and the job, joined with errors.Join, of class
// errdefs.ErrNotImplemented. Docker Compose's up refuses them likewise;
// `run` runs such a job by hand.
func (p *Project) CheckSchedules() error {
	errs := make([]error, 0, len(p.refusedByUp))
	for _, fe := range p.refusedByUp {
		errs = append(errs, fe)
	}
	return errors.Join(errs...)
}

// Job returns the enabled job called name.
func (p *Project) Job(name string) (Service, bool) {
	for _, j := range p.Jobs {
		if j.Name == name {
			return j, true
		}
	}
	return Service{}, false
}

// WithJob returns a copy of p with the job called name among its
// services, for `run`, which runs a job the way it runs a service (as
// Docker Compose's run does). The job's dependencies on other jobs are
// replaced by those jobs' own service dependencies, followed through
// jobs, as Docker Compose does: a job does not run another. It fails with
// errdefs.ErrNotFound when there is no such enabled job and with
// errdefs.ErrFailedPrecondition when the file forbids running it by hand
// (triggers.manual: false).
func (p *Project) WithJob(name string) (*Project, error) {
	j, ok := p.Job(name)
	if !ok {
		return nil, fmt.Errorf("no such service or job: %s: %w", name, errdefs.ErrNotFound)
	}
	if !j.Job.Manual {
		return nil, FieldError{
			File:  p.mainFile,
			Path:  "jobs." + name + ".triggers.manual",
			Issue: "is false: the job cannot be run by hand",
			Err:   errdefs.ErrFailedPrecondition,
		}
	}
	j.DependsOn = p.jobServiceDeps(j, map[string]bool{name: true})
	out := *p
	out.Services = append(slices.Clone(p.Services), j)
	slices.SortFunc(out.Services, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	return &out, nil
}

// jobServiceDeps is j's dependencies with those on jobs replaced by
// theirs, recursively; seen guards against cycles.
func (p *Project) jobServiceDeps(j Service, seen map[string]bool) []Dependency {
	var out []Dependency
	for _, d := range j.DependsOn {
		dj, isJob := p.Job(d.Service)
		switch {
		case !isJob:
			out = append(out, d)
		case !seen[d.Service]:
			seen[d.Service] = true
			out = append(out, p.jobServiceDeps(dj, seen)...)
		}
	}
	slices.SortFunc(out, func(a, b Dependency) int { return cmp.Compare(a.Service, b.Service) })
	return slices.CompactFunc(out, func(a, b Dependency) bool { return a.Service == b.Service })
}
