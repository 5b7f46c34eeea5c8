package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// TestBuildCheck: build --check runs BuildKit's Dockerfile checks on each
// service's Dockerfile (a file or dockerfile_inline), prints them as
// buildx does and fails naming the service with findings; it builds
// nothing.
func TestBuildCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("FROM busybox\nCMD echo hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := "services:\n  app:\n    build: ./app\n  clean:\n    build:\n      context: .\n      dockerfile_inline: |\n        FROM busybox\n        CMD [\"true\"]\n  plain:\n    image: busybox\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(services ...string) (string, error) {
		var out, errb bytes.Buffer
		cmd := newRootCommand(&globalOptions{stdout: &out, stderr: &errb})
		cmd.SetArgs(append([]string{"--root", t.TempDir(), "--project-directory", dir, "build", "--check"}, services...))
		err := cmd.ExecuteContext(t.Context())
		return out.String(), err
	}
	out, err := check()
	for _, want := range []string{"Check complete, 1 warning has been found!\n", "WARNING: JSONArgsRecommended - https://docs.docker.com/go/dockerfile/rule/json-args-recommended/",
		"Dockerfile:2\n", "   2 | >>> CMD echo hi\n", "Check complete, no warnings found.\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err == nil || !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), `service "app": 1 check warnings in Dockerfile`) || strings.Contains(err.Error(), "clean") {
		t.Errorf("err = %v, want one naming app only", err)
	}
	if out, err := check("clean"); err != nil || out != "Check complete, no warnings found.\n" {
		t.Errorf("build --check clean: %q, %v", out, err)
	}
}
