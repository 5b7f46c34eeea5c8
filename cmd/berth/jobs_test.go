package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/spec"
)

func loadJobsFile(t *testing.T, yaml string) *spec.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(t.Context(), spec.LoadOptions{WorkingDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpAndJobs: up says which jobs wait for run, and refuses a scheduled
// job, as docker compose up does.
func TestUpAndJobs(t *testing.T) {
	for _, tc := range []struct {
		name, jobs, warn, err string
	}{
		{name: "no jobs"},
		{name: "manual jobs wait for run",
			jobs: "jobs:\n  b:\n    image: busybox\n    triggers: {manual: true}\n  a:\n    image: busybox\n    triggers: {manual: true}\n",
			warn: "WARN jobs are not started by up; run them with `berth run JOB`: a, b\n"},
		{name: "a scheduled job is refused",
			jobs: "jobs:\n  backup:\n    image: busybox\n    triggers:\n      schedule: [\"0 3 * * *\"]\n",
			err:  "compose.yaml: jobs.backup.triggers.schedule: scheduled jobs are not supported: berth has no daemon to fire them (run the job by hand with `berth run backup`)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadJobsFile(t, "services:\n  web:\n    image: busybox\n"+tc.jobs)
			var errb bytes.Buffer
			err := checkJobs(&globalOptions{stderr: &errb}, p)
			if got := errb.String(); got != tc.warn {
				t.Errorf("stderr %q, want %q", got, tc.warn)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("checkJobs = %v", err)
			case tc.err != "" && (err == nil || err.Error() != tc.err || !errdefs.IsNotImplemented(err)):
				t.Errorf("checkJobs = %v, want %s", err, tc.err)
			}
		})
	}
}

// TestOneOffConfigOfJob: run makes a job's container as a service's
// one-off: named after the job, labelled with it, never restarted.
func TestOneOffConfigOfJob(t *testing.T) {
	p := loadJobsFile(t, "name: p\njobs:\n  migrate:\n    image: busybox\n    environment: {A: b}\n    triggers: {manual: true}\n")
	rp, err := p.WithJob("migrate")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := rp.Service("migrate")
	cfg, err := oneOffConfig(rp, &s, runOptions{env: []string{"C=d"}}, []string{"echo", "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Labels[spec.LabelService] != "migrate" || cfg.Labels[spec.LabelOneOff] != spec.LabelTrue {
		t.Errorf("labels %v", cfg.Labels)
	}
	if want := "p-migrate-run-"; len(cfg.Name) != len(want)+12 || cfg.Name[:len(want)] != want {
		t.Errorf("name %q, want %s<12 hex digits>", cfg.Name, want)
	}
	if got := cfg.Env; len(got) < 2 || got[len(got)-1] != "C=d" {
		t.Errorf("env %v", got)
	}
	if cfg.Restart.Name != "" {
		t.Errorf("restart %+v, want none", cfg.Restart)
	}
}
