package build

import (
	"strings"
	"testing"
)

// TestParseNamedContexts: a directory context is no image to plan; an
// image context is planned under its name; FROM a directory is an error
// naming the line.
func TestParseNamedContexts(t *testing.T) {
	df := "FROM busybox\nCOPY --from=shared a /a\nCOPY --from=tools /bin/x /x\n"
	p, err := Parse([]byte(df), PlanOptions{Contexts: map[string]string{"shared": "/src/shared", "tools": "docker-image://example/tools:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.images["shared"] != nil || p.images["tools"] == nil {
		t.Errorf("images planned: %v, want tools only", p.images)
	}
	_, err = Parse([]byte("FROM shared\n"), PlanOptions{Contexts: map[string]string{"shared": "/src/shared"}})
	if err == nil || !strings.Contains(err.Error(), `Dockerfile:1: FROM shared: the build context "shared" is a directory, not an image`) {
		t.Errorf("FROM a directory: %v", err)
	}
}
