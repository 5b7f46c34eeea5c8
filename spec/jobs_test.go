package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// TestJobSupportFollowsServices: every container attribute of a job has
// the status and note of the same attribute of a service, and the
// attributes only a service has are not derived.
func TestJobSupportFollowsServices(t *testing.T) {
	rows, err := SupportTable()
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]Support{}
	for _, r := range rows {
		byPath[r.Path] = r
	}
	jobs := 0
	for _, r := range rows {
		rest, ok := strings.CutPrefix(r.Path, "jobs.*.")
		if !ok || strings.HasPrefix(rest, "triggers.") {
			continue
		}
		jobs++
		s, ok := byPath["services.*."+rest]
		if !ok {
			t.Errorf("%s: no services.*.%s in the schema", r.Path, rest)
			continue
		}
		if r.Status != s.Status || r.Note != s.Note {
			t.Errorf("%s is %s (%s), services.*.%s is %s (%s)", r.Path, r.Status, r.Note, rest, s.Status, s.Note)
		}
	}
	if jobs < 100 {
		t.Errorf("only %d job attributes in the table", jobs)
	}
	for _, tc := range []struct {
		path, status string
	}{
		{"jobs.*.triggers.manual", StatusRuns},
		{"jobs.*.triggers.schedule[]", StatusRefused},
		{"jobs.*.image", StatusRuns},
		{"jobs.*.storage_opt", StatusRefused},
		{"jobs.*.volumes[].consistency", StatusIgnored},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := byPath[tc.path].Status; got != tc.status {
				t.Errorf("%s is %q, want %q", tc.path, got, tc.status)
			}
		})
	}
	for _, key := range []string{"services.*.restart", "services.*.deploy.replicas", "services.*.scale", "services.*.container_name", "services.*.develop.watch[].path", "services.*.post_start[]"} {
		if jk, ok := jobKey(key); ok {
			t.Errorf("jobKey(%s) = %s: a service-only attribute", key, jk)
		}
	}
}

const jobsCompose = `name: jobsdemo
services:
  db:
    image: busybox
  web:
    image: busybox
jobs:
  migrate:
    image: busybox
    command: ["sh", "-c", "echo $$GREETING"]
    env_file: migrate.env
    environment:
      LEVEL: high
    networks: [back]
    volumes: ["data:/data"]
    depends_on: [db, prepare]
    triggers:
      manual: true
  prepare:
    image: busybox
    depends_on: [web]
    triggers:
      manual: true
  backup:
    image: busybox
    triggers:
      schedule:
        - "0 3 * * *"
        - cron: "*/5 * * * *"
          timezone: Europe/Paris
  locked:
    image: busybox
    triggers:
      manual: false
  debug:
    image: busybox
    profiles: [debug]
    triggers:
      manual: true
networks:
  back: {}
volumes:
  data: {}
`

func loadJobs(t *testing.T, services ...string) *Project {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", jobsCompose)
	writeFile(t, dir+"/migrate.env", "GREETING=hello\n")
	return mustLoad(t, LoadOptions{WorkingDir: dir, Services: services})
}

func names(ss []Service) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func TestLoadJobs(t *testing.T) {
	p := loadJobs(t)
	t.Run("jobs are not services", func(t *testing.T) {
		if got, want := names(p.Services), []string{"db", "web"}; !slices.Equal(got, want) {
			t.Errorf("Services = %v, want %v", got, want)
		}
		if got, want := names(p.Jobs), []string{"backup", "locked", "migrate", "prepare"}; !slices.Equal(got, want) {
			t.Errorf("Jobs = %v, want %v (debug's profile is off)", got, want)
		}
		if slices.Contains(p.DisabledServices, "debug") {
			t.Errorf("DisabledServices = %v: a job is not a service", p.DisabledServices)
		}
	})
	t.Run("a job converts as a service does", func(t *testing.T) {
		j, ok := p.Job("migrate")
		if !ok {
			t.Fatal("no job migrate")
		}
		if want := []string{"GREETING=hello", "LEVEL=high"}; !slices.Equal(j.Environment, want) {
			t.Errorf("Environment = %v, want %v (env_file resolved)", j.Environment, want)
		}
		if len(j.Networks) != 1 || j.Networks[0].Name != "back" {
			t.Errorf("Networks = %+v, want back", j.Networks)
		}
		if len(j.Mounts) != 1 || j.Mounts[0].Source != "data" {
			t.Errorf("Mounts = %+v, want data", j.Mounts)
		}
		if j.Scale != 1 || j.Restart != "" {
			t.Errorf("Scale, Restart = %d, %q, want 1, none", j.Scale, j.Restart)
		}
	})
	t.Run("the resources only jobs use are kept", func(t *testing.T) {
		if !slices.ContainsFunc(p.Networks, func(n Network) bool { return n.Key == "back" }) {
			t.Errorf("Networks = %+v, want back", p.Networks)
		}
		if !slices.ContainsFunc(p.Volumes, func(v Volume) bool { return v.Key == "data" }) {
			t.Errorf("Volumes = %+v, want data", p.Volumes)
		}
	})
	for _, tc := range []struct {
		job  string
		want Job
	}{
		{"migrate", Job{Manual: true}},
		{"locked", Job{Manual: false}},
		{"backup", Job{Manual: true, Schedule: []Schedule{{Cron: "0 3 * * *"}, {Cron: "*/5 * * * *", Timezone: "Europe/Paris"}}}},
	} {
		t.Run("triggers of "+tc.job, func(t *testing.T) {
			j, _ := p.Job(tc.job)
			if j.Job == nil || j.Job.Manual != tc.want.Manual || !slices.Equal(j.Job.Schedule, tc.want.Schedule) {
				t.Errorf("Job = %+v, want %+v", j.Job, tc.want)
			}
		})
	}
	t.Run("jobs are supported, schedules refused by up only", func(t *testing.T) {
		if err := p.CheckSupported(); err != nil {
			t.Errorf("CheckSupported = %v", err)
		}
		err := p.CheckSchedules()
		want := "compose.yaml: jobs.backup.triggers.schedule: scheduled jobs are not supported: berth has no daemon to fire them (run the job by hand with `berth run backup`)"
		if !errdefs.IsNotImplemented(err) || err.Error() != want {
			t.Errorf("CheckSchedules = %v, want %s", err, want)
		}
	})
	t.Run("config renders the jobs as a valid file", func(t *testing.T) {
		out, err := p.Render("yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"jobs:", "  migrate:", "manual: true", "cron: 0 3 * * *", "GREETING: hello", "  back:"} {
			if !strings.Contains(string(out), s) {
				t.Errorf("Render lacks %q:\n%s", s, out)
			}
		}
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", string(out))
		again := mustLoad(t, LoadOptions{WorkingDir: dir})
		if got := names(again.Jobs); !slices.Equal(got, names(p.Jobs)) {
			t.Errorf("rendered file's jobs = %v, want %v", got, names(p.Jobs))
		}
	})
	t.Run("a job named by the command is enabled with its profile", func(t *testing.T) {
		p := loadJobs(t, "debug")
		if _, ok := p.Job("debug"); !ok {
			t.Errorf("Jobs = %v, want debug", names(p.Jobs))
		}
	})
}

func TestWithJob(t *testing.T) {
	p := loadJobs(t, "migrate")
	for _, tc := range []struct {
		name, job string
		deps      []string // of the job as a service
		err       string
		class     func(error) bool
	}{
		{name: "a job's dependency on a job is that job's on services", job: "migrate", deps: []string{"db", "web"}},
		{name: "manual false cannot run", job: "locked", err: "compose.yaml: jobs.locked.triggers.manual: is false: the job cannot be run by hand", class: errdefs.IsFailedPrecondition},
		{name: "a scheduled job runs by hand", job: "backup"},
		{name: "no such job", job: "web", err: "no such service or job: web: not found", class: errdefs.IsNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp, err := p.WithJob(tc.job)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || !tc.class(err) {
					t.Fatalf("WithJob = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, ok := rp.Service(tc.job)
			if !ok || s.Job == nil {
				t.Fatalf("Services = %v, want the job %s among them", names(rp.Services), tc.job)
			}
			var deps []string
			for _, d := range s.DependsOn {
				deps = append(deps, d.Service)
			}
			if !slices.Equal(deps, tc.deps) {
				t.Errorf("DependsOn = %v, want %v", deps, tc.deps)
			}
			if len(p.Services) != 2 {
				t.Errorf("WithJob changed p: Services = %v", names(p.Services))
			}
		})
	}
}

func TestJobFieldErrors(t *testing.T) {
	for _, tc := range []struct {
		name, job, want string
		check           func(*Project) error
	}{
		{
			name:  "an attribute refused by value",
			job:   "    gpus: all\n",
			want:  "compose.yaml: jobs.j.gpus: not supported: GPU requests need the NVIDIA container toolkit's runtime hook; berth makes no device requests (use devices: for a device node)",
			check: func(p *Project) error { return p.CheckSupported() },
		},
		{
			name:  "a refused attribute",
			job:   "    isolation: hyperv\n",
			want:  "compose.yaml: jobs.j.isolation: not supported: isolation is a Windows container setting",
			check: func(p *Project) error { return p.CheckSupported() },
		},
		{
			name:  "a value berth does not run",
			job:   "    logging: {driver: syslog}\n",
			want:  `compose.yaml: jobs.j.logging.driver: "syslog" is not supported by berth yet (supported: "json-file", "local", "none")`,
			check: func(p *Project) error { return p.CheckSupported() },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/compose.yaml", "services:\n  s:\n    image: busybox\njobs:\n  j:\n    image: busybox\n    triggers: {manual: true}\n"+tc.job)
			err := tc.check(mustLoad(t, LoadOptions{WorkingDir: dir}))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
	t.Run("a conversion error names the job", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", "jobs:\n  j:\n    image: busybox\n    pull_policy: every_never\n    triggers: {manual: true}\n")
		_, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
		if err == nil || !strings.HasPrefix(err.Error(), "compose.yaml: jobs.j.pull_policy: ") {
			t.Errorf("Load = %v, want an error at jobs.j.pull_policy", err)
		}
	})
	t.Run("a missing env_file names the job", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", "jobs:\n  j:\n    image: busybox\n    env_file: nope.env\n    triggers: {manual: true}\n")
		_, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
		if err == nil || !strings.HasPrefix(err.Error(), "compose.yaml: jobs.j.env_file: ") {
			t.Errorf("Load = %v, want an error at jobs.j.env_file", err)
		}
	})
}
