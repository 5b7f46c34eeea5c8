package reconciler

import (
	"slices"
	"testing"

	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/reconciler/reconcilertest"
	"github.com/berth-dev/berth/spec"
)

// TestBuildStepCarriesSecretsAndSSH: build.secrets become the build's
// secrets by their ids (a file's path, or the value read from the
// environment), build.ssh its agents (an id without a socket left out),
// build.privileged the security.insecure entitlement, build.pull and
// berth build --pull, --ssh and --memory reach every build.
func TestBuildStepCarriesSecretsAndSSH(t *testing.T) {
	f := newFake()
	p := buildProject()
	p.Secrets = []spec.FileObject{{Key: "tok", File: "/src/p/tok.txt"}, {Key: "npm", Environment: "NPM", Content: "from-env"}}
	b := service(p, "app").Build
	b.Secrets = []spec.BuildSecret{{ID: "tok", Source: "tok"}, {ID: "npmrc", Source: "npm"}}
	b.SSH = map[string]string{"default": "", "git": "/run/git.sock"}
	b.Privileged = true
	o, _ := buildStepOptions(t, f, p, Options{Mode: ModeBuild, BuildPull: true, BuildSSH: map[string]string{"work": "/run/work.sock"}, BuildMemory: 64 << 20})
	if len(o.Secrets) != 2 || o.Secrets[0].ID != "tok" || o.Secrets[0].File != "/src/p/tok.txt" || o.Secrets[0].Value != nil ||
		o.Secrets[1].ID != "npmrc" || string(o.Secrets[1].Value) != "from-env" || o.Secrets[1].File != "" {
		t.Errorf("secrets %+v", o.Secrets)
	}
	if len(o.SSH) != 2 || o.SSH["git"] != "/run/git.sock" || o.SSH["work"] != "/run/work.sock" {
		t.Errorf("ssh %v, want git and work (default has no socket)", o.SSH)
	}
	if !o.Pull || !slices.Equal(o.Allow, []string{build.AllowSecurityInsecure}) || o.Resources.MemLimit != 64<<20 {
		t.Errorf("pull %v, allow %v, memory %d", o.Pull, o.Allow, o.Resources.MemLimit)
	}
}

// buildStepOptions plans p with opt and returns the options of its first
// build step, and the plan.
func buildStepOptions(t *testing.T, f *reconcilertest.Fake, p *spec.Project, opt Options) (build.Options, *Plan) {
	t.Helper()
	st, err := Observe(t.Context(), deps(f), p.Name, p)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compute(p, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(plan.Steps, func(s Step) bool { _, ok := s.Action.(BuildImage); return ok })
	if i < 0 {
		t.Fatalf("no build step:\n%s", plan)
	}
	return plan.Steps[i].Action.(BuildImage).Options, plan
}
