package reconciler

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/reconciler/reconcilertest"
	"github.com/berth-dev/berth/spec"
	"github.com/berth-dev/berth/volmgr"
)

func TestTranslateDataMounts(t *testing.T) {
	p := project()
	mode := uint32(0o400)
	web := service(p, "web")
	web.Mounts = append(web.Mounts,
		spec.Mount{Type: "volume", Target: "/cache"},
		spec.Mount{Type: "bind", Source: "/srv/conf", Target: "/conf", ReadOnly: true, Propagation: "rshared"},
	)
	web.Tmpfs = []string{"/run:size=64m,mode=1777,noexec", "/tmp"}
	web.VolumesFrom = []string{"client:ro", "container:other"}
	web.Configs = []spec.FileRef{{Source: "app", Target: "/etc/app.conf"}}
	web.Secrets = []spec.FileRef{{Source: "token", Target: "/run/secrets/token", UID: "33", GID: "33", Mode: &mode}}
	p.Configs = []spec.FileObject{{Key: "app", Name: "p_app", File: "/src/p/app.conf"}}
	p.Secrets = []spec.FileObject{{Key: "token", Name: "p_token", Environment: "TOKEN", Content: "s3cret"}}
	c, err := ContainerConfig(p, web, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Mount{
		{Type: "volume", Source: "p_site", Target: "/www"},
		{Type: "volume", Target: "/cache"},
		{Type: "bind", Source: "/srv/conf", Target: "/conf", ReadOnly: true, Propagation: "rshared"},
		{Type: "tmpfs", Target: "/run", TmpfsSize: 64 << 20, TmpfsMode: 0o1777, Options: []string{"noexec"}},
		{Type: "tmpfs", Target: "/tmp"},
		{Type: "file", Source: "/src/p/app.conf", Target: "/etc/app.conf", ReadOnly: true, FileMode: 0o444},
		{Type: "file", Target: "/run/secrets/token", ReadOnly: true, Content: []byte("s3cret"), FileUID: 33, FileGID: 33, FileMode: 0o400},
	}
	if len(c.Mounts) != len(want) {
		t.Fatalf("mounts = %+v, want %+v", c.Mounts, want)
	}
	for i := range want {
		if got := c.Mounts[i]; got.Type != want[i].Type || got.Source != want[i].Source || got.Target != want[i].Target ||
			got.ReadOnly != want[i].ReadOnly || got.TmpfsSize != want[i].TmpfsSize || got.TmpfsMode != want[i].TmpfsMode ||
			strings.Join(got.Options, ",") != strings.Join(want[i].Options, ",") || string(got.Content) != string(want[i].Content) ||
			got.FileUID != want[i].FileUID || got.FileGID != want[i].FileGID || got.FileMode != want[i].FileMode || got.Propagation != want[i].Propagation {
			t.Errorf("mounts[%d] = %+v, want %+v", i, got, want[i])
		}
	}
	if got := strings.Join(c.VolumesFrom, " "); got != "p-client-1:ro other" {
		t.Errorf("volumes_from = %q", got)
	}
}

func TestTranslateDataErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *spec.Project, s *spec.Service)
		want   string
		class  func(error) bool
	}{
		{"relative mount target", func(p *spec.Project, s *spec.Service) {
			s.Mounts = []spec.Mount{{Type: "tmpfs", Target: "data"}}
		}, `service "web": volumes[0]: target "data" is not an absolute path`, errdefs.IsInvalidArgument},
		{"secret from an unset variable", func(p *spec.Project, s *spec.Service) {
			s.Secrets = []spec.FileRef{{Source: "token", Target: "/run/secrets/token"}}
			p.Secrets = []spec.FileObject{{Key: "token", Environment: "BERTH_UNSET_TOKEN"}}
		}, `service "web": secrets[0]: secret "token": environment variable BERTH_UNSET_TOKEN is not set`, errdefs.IsInvalidArgument},
		{"undeclared config", func(p *spec.Project, s *spec.Service) {
			s.Configs = []spec.FileRef{{Source: "nope", Target: "/nope"}}
		}, `service "web": configs[0]: config "nope" is not declared in the project`, errdefs.IsInvalidArgument},
		{"external secret", func(p *spec.Project, s *spec.Service) {
			s.Secrets = []spec.FileRef{{Source: "ext", Target: "/run/secrets/ext"}}
			p.Secrets = []spec.FileObject{{Key: "ext", External: true}}
		}, `external secrets are not supported`, errdefs.IsNotImplemented},
		{"bad tmpfs size", func(p *spec.Project, s *spec.Service) {
			s.Tmpfs = []string{"/run:size=lots"}
		}, `service "web": tmpfs[0]: "/run:size=lots": size "lots" is not a size`, errdefs.IsInvalidArgument},
		{"volumes_from an unknown service", func(p *spec.Project, s *spec.Service) {
			s.VolumesFrom = []string{"ghost"}
		}, `service "web": volumes_from[0]: "ghost": no such service`, errdefs.IsInvalidArgument},
		{"volumes_from with a bad mode", func(p *spec.Project, s *spec.Service) {
			s.VolumesFrom = []string{"client:rx"}
		}, `want SERVICE[:ro|rw]`, errdefs.IsInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := project()
			tc.change(p, service(p, "web"))
			_, err := ContainerConfig(p, service(p, "web"), 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !tc.class(err) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// anonymous returns the anonymous volume container p-web-1 mounts at /cache.
func anonymous(t *testing.T, f *reconcilertest.Fake) string {
	t.Helper()
	for _, c := range containers(t, f) {
		if c.Config.Name != "p-web-1" {
			continue
		}
		for _, m := range c.Config.Mounts {
			if m.Target == "/cache" {
				if m.Source == "" || volume(t, f, m.Source) == nil {
					t.Fatalf("anonymous volume %q not made", m.Source)
				}
				return m.Source
			}
		}
	}
	t.Fatal("p-web-1 has no /cache mount")
	return ""
}

func TestAnonymousVolumeKeptAcrossRecreateRemovedByDownV(t *testing.T) {
	f := newFake()
	// An external volume, and another project's volume: never touched.
	for name, labels := range map[string]map[string]string{"shared": nil, "q_data": {spec.LabelProject: "q"}} {
		if _, err := f.Volumes().Create(t.Context(), name, labels); err != nil {
			t.Fatal(err)
		}
	}
	p := project()
	p.Volumes = append(p.Volumes, spec.Volume{Key: "shared", Name: "shared", External: true})
	web := service(p, "web")
	web.Mounts = append(web.Mounts, spec.Mount{Type: "volume", Target: "/cache"}, spec.Mount{Type: "volume", Source: "shared", Target: "/shared"})
	if _, err := converge(t, f, p, Options{}); err != nil {
		t.Fatal(err)
	}
	first := anonymous(t, f)
	if l := volume(t, f, first).Labels; l[spec.LabelProject] != "p" || l[spec.LabelService] != "web" || l[spec.LabelContainerNumber] != "1" {
		t.Errorf("anonymous volume labels = %v", l)
	}
	if _, ok := volume(t, f, first).Labels[volmgr.LabelAnonymous]; !ok {
		t.Errorf("anonymous volume not labelled %s", volmgr.LabelAnonymous)
	}

	// A changed configuration recreates web, which keeps its volume.
	web.Command = []string{"httpd", "-f", "-v"}
	plan, err := converge(t, f, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "recreate container p-web-1") || strings.Contains(plan.String(), "create volume") {
		t.Fatalf("plan:\n%s\nwant a recreate making no volume", plan)
	}
	if again := anonymous(t, f); again != first {
		t.Fatalf("recreated container mounts %s, want its predecessor's %s", again, first)
	}
	// A second up is a no-op.
	if plan, err := converge(t, f, p, Options{}); err != nil || !plan.Empty() {
		t.Fatalf("second up: %v\n%s", err, plan)
	}

	// down keeps the volumes; the next up gives the new container a new
	// anonymous volume, as Docker Compose does.
	if _, err := converge(t, f, p, Options{Mode: ModeDown}); err != nil {
		t.Fatal(err)
	}
	if volume(t, f, first) == nil || volume(t, f, "p_site") == nil {
		t.Fatal("down without -v removed a volume")
	}
	if _, err := converge(t, f, p, Options{}); err != nil {
		t.Fatal(err)
	}
	if second := anonymous(t, f); second == first {
		t.Error("a new container after down took the old anonymous volume")
	}

	// down -v removes exactly the project's volumes.
	if _, err := converge(t, f, p, Options{Mode: ModeDown, RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if left := volumeNames(t, f); !slices.Equal(left, []string{"q_data", "shared"}) {
		t.Fatalf("after down -v the volumes are %v, want shared and q_data", left)
	}
}

func TestBindSourceMissingFailsBeforeAnyChange(t *testing.T) {
	f := newFake()
	p := project()
	missing := filepath.Join(t.TempDir(), "x")
	web := service(p, "web")
	web.Mounts = []spec.Mount{{Type: "bind", Source: missing, Target: "/x"}}
	_, err := converge(t, f, p, Options{})
	want := `service "web": volumes[0]: bind source ` + missing + ` does not exist`
	if err == nil || !strings.Contains(err.Error(), want) || !errdefs.IsInvalidArgument(err) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	for _, c := range containers(t, f) {
		if c.Config.Name == "p-web-1" {
			t.Fatal("container made despite the missing bind source")
		}
	}
	// With create_host_path the engine makes it: no error here.
	web.Mounts[0].CreateHostPath = true
	if _, err := converge(t, f, p, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestDriverOptsNeedAStoreThatTakesThem(t *testing.T) {
	f := newFake()
	p := project()
	p.Volumes[0].DriverOpts = map[string]string{"type": "tmpfs", "device": "tmpfs"}
	st, err := Observe(t.Context(), deps(f), "p", p)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compute(p, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cv CreateVolume
	for _, s := range plan.Steps {
		if a, ok := s.Action.(CreateVolume); ok {
			cv = a
		}
	}
	if cv.DriverOpts["type"] != "tmpfs" {
		t.Fatalf("CreateVolume = %+v, want the driver options", cv)
	}
	if err := createVolume(t.Context(), deps(f).Volumes, cv); !errdefs.IsNotImplemented(err) {
		t.Fatalf("createVolume on a store without options: %v, want not implemented", err)
	}
}

func TestInvalidVolumeNameFailsThePlan(t *testing.T) {
	for _, name := range []string{"../etc", "a/b", ".."} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			p := project()
			p.Volumes[0].Name = name
			_, err := converge(t, f, p, Options{})
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "volumes.site: volume name") {
				t.Fatalf("err = %v, want an invalid volume name", err)
			}
			if calls := f.Calls(); len(calls) != 0 {
				t.Fatalf("calls made: %v", calls)
			}
		})
	}
}
