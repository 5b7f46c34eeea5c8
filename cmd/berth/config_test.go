package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigOutputModes: config --networks, --environment, --variables and -o.
func TestConfigOutputModes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	compose := "services:\n  web:\n    image: busybox:${TAG}\n    environment:\n      - P=${PORT:-8080}\n      - M=${MODE:+on}\n    networks: [front, back]\nnetworks:\n  front: {}\n  back: {}\n"
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("TAG=1.36\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(args ...string) (string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := newRootCommand(&globalOptions{stdout: &out, stderr: &errb})
		cmd.SetArgs(append([]string{"--project-directory", dir, "-f", file, "config"}, args...))
		err := cmd.ExecuteContext(t.Context())
		return out.String(), err
	}
	if out, err := config("--networks"); err != nil || out != "back\nfront\n" {
		t.Errorf("--networks: %q, %v; want back and front", out, err)
	}
	out, err := config("--environment")
	if err != nil || !strings.Contains("\n"+out, "\nTAG=1.36\n") {
		t.Errorf("--environment: %v, no TAG=1.36 line in\n%s", err, out)
	}
	if _, err := config("--environment", "--no-interpolate"); err == nil || !strings.Contains(oneLine(err), "without interpolation") {
		t.Errorf("--environment --no-interpolate: %v, want an error", err)
	}
	vars, err := config("--variables")
	want := "NAME   REQUIRED   DEFAULT VALUE   ALTERNATE VALUE\n" +
		"MODE   false                      on\n" +
		"PORT   false      8080            \n" +
		"TAG    false                      \n"
	if err != nil || vars != want {
		t.Errorf("--variables: %v\n%q\nwant\n%q", err, vars, want)
	}
	if vars, err := config("--variables", "--format", "json"); err != nil || !strings.Contains(vars, `"TAG": {`) || !strings.Contains(vars, `"Required": false`) {
		t.Errorf("--variables --format json: %v\n%s", err, vars)
	}
	dst := filepath.Join(dir, "out.yaml")
	if out, err := config("-o", dst); err != nil || out != "" {
		t.Fatalf("-o: %q, %v", out, err)
	}
	if b, err := os.ReadFile(dst); err != nil || !strings.Contains(string(b), "image: busybox:1.36") {
		t.Errorf("-o wrote %q, %v; want the rendered file", b, err)
	}
	if _, err := config("-o", filepath.Join(dir, "no", "such", "dir", "x.yaml")); err == nil || !strings.Contains(oneLine(err), "--output") {
		t.Errorf("-o into a missing directory: %v, want an --output error", err)
	}
}
