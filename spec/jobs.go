package spec

import (
	"maps"
	"reflect"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
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
// from compose-go's JobConfig: what a job shares with a service.
var jobAttributes = func() map[string]bool {
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
}()

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
	if !jobAttributes[splitPath(rest)[0]] {
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
