//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestJobsRunToCompletion: up does not start a job; run JOB runs it to
// completion as a one-off, with its environment, volume, network and
// dependency, and returns its exit code; down leaves nothing.
func TestJobsRunToCompletion(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })

	r := h.berth("-f", file, "up", "-d")
	if r.code != 0 {
		t.Fatalf("up -d: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "jobs are not started by up; run them with `berth run JOB`: locked, migrate") {
		t.Errorf("up does not say the jobs wait for run:\n%s", r.stderr)
	}
	rows := h.ps(file, "-a")
	if len(rows) != 1 || rows[0].Service != "db" || rows[0].State != "running" {
		t.Fatalf("after up: %+v, want db running alone", rows)
	}

	out := h.mustBerth("-f", file, "run", "-T", "migrate")
	if !strings.Contains(out, "hello db-ok") {
		t.Errorf("run migrate printed %q, want its environment and what it fetched from db", out)
	}
	var job psEntry
	for _, e := range h.ps(file, "-a") {
		if e.Service == "migrate" {
			job = e
		}
	}
	if job.State != "exited" || job.ExitCode != 0 || !strings.Contains(job.Name, "-migrate-run-") {
		t.Errorf("the job's container %+v: want a one-off that exited with 0", job)
	}

	// What the job wrote is in its volume; a command line replaces its
	// command, and its exit code is run's.
	if out := h.mustBerth("-f", file, "run", "--rm", "-T", "migrate", "cat", "/data/db.txt"); strings.TrimSpace(out) != "db-ok" {
		t.Errorf("the job's volume holds %q, want db-ok", out)
	}
	if r := h.berth("-f", file, "run", "--rm", "-T", "migrate", "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("run of a job exiting with 3: exit %d\n%s", r.code, r.stderr)
	}
	if r := h.berth("-f", file, "run", "--rm", "-T", "locked"); r.code == 0 || !strings.Contains(r.stderr, "jobs.locked.triggers.manual: is false: the job cannot be run by hand") {
		t.Errorf("run of a job with manual: false: exit %d\n%s", r.code, r.stderr)
	}

	// A second up leaves the job's container alone: not an orphan.
	r = h.berth("-f", file, "up", "-d")
	if r.code != 0 || strings.Contains(r.stderr, "orphan") {
		t.Errorf("second up: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(h.ps(file, "-a")); n != 2 {
		t.Errorf("after a second up: %d containers, want db and the job's", n)
	}

	h.mustBerth("-f", file, "down", "-v")
	if rows := h.ps(file, "-a"); len(rows) != 0 {
		t.Errorf("down left containers: %+v", rows)
	}
	if out := strings.TrimSpace(h.mustBerth("volume", "ls", "-q")); out != "" {
		t.Errorf("down -v left volumes: %s", out)
	}
}

// TestJobsScheduleRefusedByUp: up refuses a project with a scheduled job,
// naming the file and the job, and makes nothing; run runs the job by
// hand.
func TestJobsScheduleRefusedByUp(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })

	r := h.berth("-f", file, "up", "-d")
	want := "compose.yaml: jobs.backup.triggers.schedule: scheduled jobs are not supported: berth has no daemon to fire them (run the job by hand with `berth run backup`)"
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("up -d: exit %d, want a refusal %q\n%s", r.code, want, r.stderr)
	}
	if rows := h.ps(file, "-a"); len(rows) != 0 {
		t.Errorf("the refused up made containers: %+v", rows)
	}
	if out := h.mustBerth("network", "ls"); strings.Contains(out, h.project) {
		t.Errorf("the refused up made a network:\n%s", out)
	}

	if out := h.mustBerth("-f", file, "run", "--rm", "-T", "backup"); !strings.Contains(out, "backed up") {
		t.Errorf("run backup printed %q", out)
	}
	h.mustBerth("-f", file, "down", "-v")
}
