package spec

import (
	"os"
	"path/filepath"
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
