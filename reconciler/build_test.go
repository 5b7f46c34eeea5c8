package reconciler

import (
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/spec"
)

// buildProject is project() with app, built from /src/p/app, which web
// depends on; worker shares app's image and build.
func buildProject() *spec.Project {
	p := project()
	b := &spec.Build{Context: "/src/p/app", Dockerfile: "Dockerfile.dev", Args: map[string]string{"V": "1"}, Tags: []string{"app:dev"}}
	p.Services = append(p.Services,
		spec.Service{Name: "app", Image: "p-app", Build: b, Scale: 1, Networks: []spec.ServiceNetwork{{Name: "default"}}},
		spec.Service{Name: "worker", Image: "p-app", Build: b, Scale: 1, Networks: []spec.ServiceNetwork{{Name: "default"}}},
	)
	return p
}

func TestBuildPlans(t *testing.T) {
	tests := []struct {
		name    string
		before  bool // the project is up first
		opt     Options
		change  func(p *spec.Project)
		wantErr string
	}{
		{name: "built once when absent", opt: Options{Mode: ModeUp}},
		{name: "present image not rebuilt", before: true, opt: Options{Mode: ModeUp}},
		{name: "--build rebuilds and recreates its users", before: true, opt: Options{Mode: ModeUp, Build: "always"}},
		{name: "pull_policy build rebuilds", before: true, opt: Options{Mode: ModeUp}, change: func(p *spec.Project) {
			service(p, "app").PullPolicy = "build"
		}},
		{name: "--no-build with the image absent", opt: Options{Mode: ModeUp, Build: "never"}, wantErr: `service "app": image "p-app" is not present and --no-build was given`},
		{name: "berth build builds only", before: true, opt: Options{Mode: ModeBuild, Services: []string{"app"}, NoDeps: true, NoCache: true, BuildArgs: map[string]string{"W": "2"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.before {
				convergePlan(t, f, buildProject(), Options{Mode: ModeUp})
				f.ResetCalls()
			}
			p := buildProject()
			if tc.change != nil {
				tc.change(p)
			}
			plan, err := Converge(t.Context(), deps(f), p.Name, p, tc.opt, ApplyOptions{Parallel: 2})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || len(containers(t, f)) != 0 {
					t.Fatalf("err = %v, containers %d; want %q and nothing made", err, len(containers(t, f)), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The images' phase is applied first; the plan returned is
			// the rest, planned against the images as they now are.
			calls := f.Calls()
			builds := 0
			for _, c := range calls {
				if strings.HasPrefix(c, "build ") {
					builds++
				}
			}
			// Steps run in parallel: the calls are compared as a set.
			sorted := slices.Sorted(slices.Values(calls))
			golden(t, plan.String()+"-- calls, sorted\n"+strings.Join(sorted, "\n")+"\n")
			if builds > 1 {
				t.Errorf("built %d times, want at most once: %v", builds, calls)
			}
		})
	}
}

// TestBuildStepCarriesTheBuildSection: the build step's options are the
// service's build section, resolved.
func TestBuildStepCarriesTheBuildSection(t *testing.T) {
	f := newFake()
	p := buildProject()
	service(p, "app").Build.DockerfileInline = "FROM busybox\n"
	o, plan := buildStepOptions(t, f, p, Options{Mode: ModeUp, ImagesOnly: true})
	if o.ContextDir != "/src/p/app" || o.Dockerfile != "/src/p/app/Dockerfile.dev" || string(o.DockerfileContent) != "FROM busybox\n" ||
		o.BuildArgs["V"] != "1" || !slices.Equal(o.Tags, []string{"p-app", "app:dev"}) {
		t.Errorf("build options %+v", o)
	}
	if len(plan.Steps) != 1 {
		t.Errorf("ImagesOnly planned more than the images:\n%s", plan)
	}
}

// TestImageChangeRecreates: a container made from an image the reference
// no longer names is recreated; one made from the current image is not.
func TestImageChangeRecreates(t *testing.T) {
	f := newFake()
	p := buildProject()
	convergePlan(t, f, p, Options{Mode: ModeUp})
	before := byName(t, f, "p-web-1").ID
	if _, err := f.Builder().Build(t.Context(), build.Options{Tags: []string{"p-app"}}); err != nil {
		t.Fatal(err)
	}
	plan := convergePlan(t, f, p, Options{Mode: ModeUp})
	for _, want := range []string{"recreate container p-app-1 (image changed)", "recreate container p-worker-1 (image changed)"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if byName(t, f, "p-web-1").ID != before {
		t.Error("web was recreated, though its image did not change")
	}
	if next := convergePlan(t, f, p, Options{Mode: ModeUp}); strings.Contains(next, "recreate") {
		t.Errorf("not converged:\n%s", next)
	}
}
