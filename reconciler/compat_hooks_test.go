package reconciler

import (
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// hookProject is project() with lifecycle hooks on web.
func hookProject() *spec.Project {
	p := project()
	web := service(p, "web")
	web.PostStart = []spec.Hook{{Command: []string{"touch", "/ready"}, User: "root"}}
	web.PreStop = []spec.Hook{{Command: []string{"sync"}}}
	return p
}

// execs are the exec calls the fake saw, in order, with the stops and
// starts among them.
func execs(calls []string) []string {
	var out []string
	for _, c := range calls {
		if strings.HasPrefix(c, "exec ") || strings.HasPrefix(c, "stop p-web") || strings.HasPrefix(c, "start p-web") {
			out = append(out, c)
		}
	}
	return out
}

func TestLifecycleHooks(t *testing.T) {
	steps := []struct {
		name string
		opt  Options
		edit func(*spec.Project)
		want []string
	}{
		{name: "up runs post_start after the start", opt: Options{Mode: ModeUp},
			want: []string{"start p-web-1", "exec p-web-1 touch /ready"}},
		{name: "a second up runs nothing", opt: Options{Mode: ModeUp}},
		{name: "stop runs pre_stop before the stop", opt: Options{Mode: ModeStop},
			want: []string{"exec p-web-1 sync", "stop p-web-1"}},
		{name: "start runs post_start", opt: Options{Mode: ModeStart},
			want: []string{"start p-web-1", "exec p-web-1 touch /ready"}},
		{name: "a recreate runs pre_stop in the old container, post_start in the new", opt: Options{Mode: ModeUp},
			edit: func(p *spec.Project) { service(p, "web").Command = []string{"httpd", "-f", "-v"} },
			want: []string{"exec p-web-1 sync", "stop p-web-1", "start p-web-1", "exec p-web-1 touch /ready"}},
		{name: "down runs pre_stop", opt: Options{Mode: ModeDown},
			want: []string{"exec p-web-1 sync", "stop p-web-1"}},
	}
	f := newFake()
	p := hookProject()
	for _, st := range steps {
		if st.edit != nil {
			st.edit(p)
		}
		f.ResetCalls()
		if _, err := converge(t, f, p, st.opt); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := execs(f.Calls()); !slices.Equal(got, st.want) {
			t.Errorf("%s: calls %q, want %q", st.name, got, st.want)
		}
	}
}

func TestFailingPostStartFailsUp(t *testing.T) {
	f := newFake()
	f.OnExec("p-web-1", 3)
	_, err := converge(t, f, hookProject(), Options{Mode: ModeUp})
	if err == nil || !strings.Contains(err.Error(), "web hook exited with status 3") {
		t.Fatalf("up = %v, want Docker Compose's hook error", err)
	}
	// client waits for web's start, which failed: it is never created.
	for _, c := range containers(t, f) {
		if c.Config.Name == "p-client-1" {
			t.Errorf("client was created after web's post_start failed")
		}
	}
}

func TestFailingPreStopKeepsContainer(t *testing.T) {
	f := newFake()
	if _, err := converge(t, f, hookProject(), Options{Mode: ModeUp}); err != nil {
		t.Fatal(err)
	}
	f.OnExec("p-web-1", 1)
	_, err := converge(t, f, hookProject(), Options{Mode: ModeStop})
	if err == nil || !strings.Contains(err.Error(), "web hook exited with status 1") {
		t.Fatalf("stop = %v, want Docker Compose's hook error", err)
	}
	for _, c := range containers(t, f) {
		if c.Config.Name == "p-web-1" && c.State.Status != engine.StatusRunning {
			t.Errorf("web is %s after its pre_stop failed, want running", c.State.Status)
		}
	}
}

// A container that is not running is stopped and removed without its
// pre_stop hooks: there is nothing to run them in.
func TestPreStopSkippedWhenNotRunning(t *testing.T) {
	f := newFake()
	p := hookProject()
	if _, err := converge(t, f, p, Options{Mode: ModeUp, NoStart: true}); err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	if _, err := converge(t, f, p, Options{Mode: ModeDown}); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, "exec ") {
			t.Errorf("down of a created container ran %q", c)
		}
	}
	if n := len(containers(t, f)); n != 0 {
		t.Errorf("%d containers left", n)
	}
}
