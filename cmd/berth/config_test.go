package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestConfigOutputModes: config --networks, --environment, --variables and -o.
func TestConfigOutputModes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	compose := "services:\n  web:\n    image: busybox:${TAG}\n    environment:\n      - P=${PORT:-8080}\n      - M=${MODE:+on}\n    networks: [front, back]\n    models: [llm]\nnetworks:\n  front: {}\n  back: {}\nmodels:\n  llm:\n    model: ai/smollm2\n"
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
	if out, err := config("--models"); err != nil || out != "llm\n" {
		t.Errorf("--models: %q, %v; want llm", out, err)
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

// TestConfigRenderSteps: config --no-path-resolution, --no-env-resolution,
// --no-normalize and --no-consistency leave their step out of the
// document.
func TestConfigRenderSteps(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	compose := "services:\n  web:\n    build: ./app\n    env_file: web.env\n"
	for name, content := range map[string]string{"compose.yaml": compose, "web.env": "FROM_FILE=1\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	config := func(f string, args ...string) (string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := newRootCommand(&globalOptions{stdout: &out, stderr: &errb})
		cmd.SetArgs(append([]string{"--project-directory", dir, "-f", f, "config"}, args...))
		err := cmd.ExecuteContext(t.Context())
		return out.String(), err
	}
	full, err := config(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"context: " + filepath.Join(dir, "app"), "FROM_FILE: \"1\"", "networks:\n      default: null"} {
		if !strings.Contains(full, want) {
			t.Errorf("config lacks %q:\n%s", want, full)
		}
	}
	for _, tc := range []struct{ flag, gone, kept string }{
		{"--no-path-resolution", "context: " + filepath.Join(dir, "app"), "context: ./app"},
		{"--no-env-resolution", "FROM_FILE", "web.env"},
		{"--no-normalize", "default: null", "web"},
	} {
		out, err := config(file, tc.flag)
		if err != nil || strings.Contains(out, tc.gone) || !strings.Contains(out, tc.kept) {
			t.Errorf("config %s: %v; want %q gone and %q kept:\n%s", tc.flag, err, tc.gone, tc.kept, out)
		}
	}

	if out, _ := config(file, "--no-path-resolution"); !strings.Contains(out, "FROM_FILE") || strings.Contains(out, "env_file") {
		t.Errorf("config --no-path-resolution: the env file is not merged into the environment:\n%s", out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("services:\n  web:\n    image: busybox\n    networks: [nowhere]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config(bad); err == nil || !strings.Contains(oneLine(err), "nowhere") {
		t.Errorf("config of a service on an undefined network: %v, want an error naming it", err)
	}
	if out, err := config(bad, "--no-consistency"); err != nil || !strings.Contains(out, "nowhere") {
		t.Errorf("config --no-consistency: %v\n%s", err, out)
	}
}

// TestConfigServices: config SERVICE… renders those services and the ones
// they depend on, and nothing else.
func TestConfigServices(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	compose := "services:\n  web:\n    image: busybox\n    depends_on: [db]\n  db:\n    image: busybox\n  other:\n    image: busybox\n"
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
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
	out, err := config("web")
	if err != nil || !strings.Contains(out, "\n  web:\n") || !strings.Contains(out, "\n  db:\n") || strings.Contains(out, "other") {
		t.Errorf("config web: %v; want web and db, not other:\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, "nosuch"},
		{[]string{"--services", "web"}, "do not apply to a list"},
		{[]string{"--no-interpolate", "web"}, "not interpolated"},
	} {
		if _, err := config(tc.args...); err == nil || !strings.Contains(oneLine(err), tc.want) {
			t.Errorf("config %v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// TestConfigImageDigests: config --resolve-image-digests pins an image the
// store has to its copy's digest and one it lacks to the registry's;
// --lock-image-digests prints only the references; a reference neither
// knows fails naming it.
func TestConfigImageDigests(t *testing.T) {
	host := serveTestRegistry(t)
	root := t.TempDir()
	local := importBusybox(t, root, host+"/cli/local:1")
	remoteImg, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	rref, _ := name.ParseReference(host + "/cli/remote:2")
	if err := remote.Write(rref, remoteImg); err != nil {
		t.Fatal(err)
	}
	remoteDigest, _ := remoteImg.Digest()

	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	write := func(compose string) {
		if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("services:\n  app:\n    image: " + host + "/cli/local:1\n    environment: {A: b}\n  job:\n    image: " + host + "/cli/remote:2\n")
	config := func(args ...string) (string, string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := newRootCommand(&globalOptions{stdout: &out, stderr: &errb})
		cmd.SetArgs(append([]string{"--root", root, "--project-directory", dir, "-f", file, "config"}, args...))
		err := cmd.ExecuteContext(t.Context())
		return out.String(), errb.String(), err
	}
	out, _, err := config("--resolve-image-digests")
	for _, want := range []string{"image: " + host + "/cli/local:1@" + local.Digest, "image: " + host + "/cli/remote:2@" + remoteDigest.String(), "A: b"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("--resolve-image-digests: %v, no %q in\n%s", err, want, out)
		}
	}
	out, _, err = config("--lock-image-digests")
	want := "services:\n  app:\n    image: " + host + "/cli/local:1@" + local.Digest + "\n  job:\n    image: " + host + "/cli/remote:2@" + remoteDigest.String() + "\n"
	if err != nil || out != want {
		t.Errorf("--lock-image-digests: %v\n%s\nwant\n%s", err, out, want)
	}
	write("services:\n  app:\n    image: " + host + "/cli/nope:1\n")
	if _, _, err := config("--resolve-image-digests"); err == nil || !strings.Contains(oneLine(err), `--resolve-image-digests: image "`+host+`/cli/nope:1"`) {
		t.Errorf("a reference nobody has: %v", err)
	}
	if _, _, err := config("--lock-image-digests", "--no-interpolate"); err == nil || !strings.Contains(oneLine(err), "--lock-image-digests: image digests of a project that is not interpolated") {
		t.Errorf("--no-interpolate: %v", err)
	}
}
