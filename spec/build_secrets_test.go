package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildSecretsAndSSH: build.secrets name the project's secrets (a file,
// or an environment variable) by their target, else their source; a
// secret only a build uses is kept; build.ssh ids without a path take
// SSH_AUTH_SOCK; build.privileged and build.pull are carried.
func TestBuildSecretsAndSSH(t *testing.T) {
	dir := t.TempDir()
	yaml := `services:
  app:
    build:
      context: .
      pull: true
      privileged: true
      secrets:
        - tok
        - source: npm
          target: npmrc
      ssh:
        - default
        - git=/run/git.sock
secrets:
  tok:
    file: ./tok.txt
  npm:
    environment: NPM_TOKEN
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := mustLoad(t, LoadOptions{WorkingDir: dir, Environ: []string{"NPM_TOKEN=from-env", "SSH_AUTH_SOCK=/run/agent.sock"}})
	b := service(t, p, "app").Build
	if b == nil || len(b.Secrets) != 2 || b.Secrets[0] != (BuildSecret{ID: "tok", Source: "tok"}) || b.Secrets[1] != (BuildSecret{ID: "npmrc", Source: "npm"}) {
		t.Fatalf("build %+v", b)
	}
	if b.SSH["default"] != "/run/agent.sock" || b.SSH["git"] != "/run/git.sock" || !b.Privileged || !b.Pull {
		t.Errorf("build %+v", b)
	}
	got := map[string]FileObject{}
	for _, s := range p.Secrets {
		got[s.Key] = s
	}
	if got["tok"].File != filepath.Join(dir, "tok.txt") || got["npm"].Content != "from-env" {
		t.Errorf("project secrets %+v", p.Secrets)
	}
	if err := p.CheckSupported(); err != nil {
		t.Errorf("CheckSupported: %v", err)
	}
}

// TestCacheKeepsNoEnvironmentSecret: a project with a secret read from the
// environment is not written to the model cache, so the value never lands
// on disk.
func TestCacheKeepsNoEnvironmentSecret(t *testing.T) {
	noSettle(t)
	dir := t.TempDir()
	yaml := "services:\n  app:\n    image: busybox\n    secrets: [npm]\nsecrets:\n  npm:\n    environment: NPM_TOKEN\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	opt := LoadOptions{WorkingDir: dir, Environ: []string{"NPM_TOKEN=env-secret-93c1"}, CacheDir: cache, CacheSalt: "test"}
	mustLoad(t, opt)
	if p := mustLoad(t, opt); fromCache(p) {
		t.Error("a project with a secret from the environment was answered from the cache")
	}
	err := filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), "env-secret-93c1") {
			t.Errorf("%s holds the secret", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
