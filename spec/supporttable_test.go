package spec

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

const supportDoc = "../docs/compose-support.md"

// TestSupportTableDoc keeps docs/compose-support.md what SupportTable
// says (go test ./spec -run SupportTable -update rewrites it).
func TestSupportTableDoc(t *testing.T) {
	rows, err := SupportTable()
	if err != nil {
		t.Fatal(err)
	}
	got := renderSupportDoc(rows)
	if *update {
		if err := os.WriteFile(supportDoc, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(supportDoc)
	if err != nil || string(want) != got {
		t.Errorf("%s is out of date (go test ./spec -run SupportTable -update): %v", supportDoc, err)
	}
}

// TestSupportTablesNameRealAttributes: every path the allowlist, the
// ignored and the refused tables name is an attribute of the
// specification, so a typo cannot hide a field.
func TestSupportTablesNameRealAttributes(t *testing.T) {
	paths, err := schemaPaths()
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 300 {
		t.Fatalf("only %d attributes in the schema: the walk is broken", len(paths))
	}
	for key := range allFields() {
		if !slices.ContainsFunc(paths, func(p string) bool { return matchesPattern(p, key) }) {
			t.Errorf("%s: no such attribute in the Compose Specification", key)
		}
	}
}

// matchesPattern reports whether the schema path p is pattern or lies
// below it ("*" in pattern matches any key).
func matchesPattern(p, pattern string) bool {
	ps, qs := splitPath(p), splitPath(pattern)
	if len(qs) == len(ps)+1 && qs[len(qs)-1] == "[]" {
		qs = qs[:len(ps)] // the entries of a list of values
	}
	if len(ps) < len(qs) {
		return false
	}
	for i, q := range qs {
		same := q == ps[i] || q == "*" && ps[i] != "[]" || ps[i] == "*" && q != "[]"
		if !same {
			return false
		}
	}
	return true
}

func TestSupportOf(t *testing.T) {
	for path, want := range map[string]string{
		"services.*.image":                StatusRuns,
		"services.*.deploy.placement":     StatusIgnored,
		"services.*.storage_opt":          StatusRefused,
		"services.*.volumes[].type":       StatusRuns,
		"services.*.deploy.labels":        StatusIgnored,
		"services.*.develop.watch[].path": StatusRuns,
	} {
		if got := supportOf(path); got.Status != want {
			t.Errorf("supportOf(%s) = %+v, want %s", path, got, want)
		}
	}
	if n := supportOf("services.*.volumes[].type").Note; !strings.Contains(n, `"bind"`) {
		t.Errorf("volumes type note %q", n)
	}
}

func renderSupportDoc(rows []Support) string {
	count := map[string]int{}
	for _, r := range rows {
		count[r.Status]++
	}
	var b strings.Builder
	b.WriteString("# Compose Specification support\n\n")
	b.WriteString("Every attribute of the Compose Specification (the schema compose-go validates with) and what berth does with it:\n")
	b.WriteString("*runs* with Docker Compose's meaning; *ignored* where Docker Compose ignores it outside Swarm; *refused* where it cannot\n")
	b.WriteString("apply on one Linux host; *not yet* where berth refuses it for now, by path (`berth config` still prints it).\n")
	b.WriteString("Generated from the tables `berth up` checks files against (`go test ./spec -run SupportTable -update`).\n\n")
	fmt.Fprintf(&b, "%d attributes: %d run, %d ignored, %d refused, %d not yet.\n\n",
		len(rows), count[StatusRuns], count[StatusIgnored], count[StatusRefused], count[StatusNotYet])
	b.WriteString("| attribute | status | note |\n| --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.Path, r.Status, strings.ReplaceAll(r.Note, "|", "\\|"))
	}
	return b.String()
}
