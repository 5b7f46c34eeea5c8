package spec

import (
	"strings"
	"testing"
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
