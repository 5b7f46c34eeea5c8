package reconciler

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/spec"
)

func TestTranslateUmaskAndServiceAlias(t *testing.T) {
	p := project()
	web := service(p, "web")
	u := uint32(0o027)
	web.Umask = &u
	web.Networks = []spec.ServiceNetwork{{Name: "default", Aliases: []string{"www"}, NoServiceAlias: true}}
	cfg, err := ContainerConfig(p, web, 1)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Umask == nil || *cfg.Umask != 0o027 {
		t.Errorf("umask = %v", cfg.Umask)
	}
	if got := cfg.Networks[0].Aliases; !slices.Equal(got, []string{"www"}) {
		t.Errorf("aliases = %q, want www only (use_service_name_alias: false)", got)
	}
	web.Networks[0].NoServiceAlias = false
	cfg, _ = ContainerConfig(p, web, 1)
	if got := cfg.Networks[0].Aliases; !slices.Equal(got, []string{"web", "www"}) {
		t.Errorf("aliases = %q, want web and www", got)
	}
}

// TestLogCompress: compress gzips the rotated files of json-file when set,
// of local unless unset (Docker's defaults), and needs files to rotate.
func TestLogCompress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		driver string
		opts   map[string]string
		want   bool
		err    string
	}{
		{"json-file default", "json-file", map[string]string{"max-size": "1k", "max-file": "3"}, false, ""},
		{"json-file set", "json-file", map[string]string{"max-size": "1k", "max-file": "3", "compress": "true"}, true, ""},
		{"json-file one file", "json-file", map[string]string{"max-size": "1k", "compress": "true"}, false, "max-file is less than 2"},
		{"json-file no size", "", map[string]string{"max-file": "3", "compress": "true"}, false, "max-file needs max-size"},
		{"local default", "local", nil, true, ""},
		{"local unset", "local", map[string]string{"compress": "false"}, false, ""},
		{"local one file", "local", map[string]string{"max-file": "1"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc, err := logConfig(&spec.Logging{Driver: tc.driver, Options: tc.opts})
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errdefs.IsInvalidArgument(err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case lc.Compress != tc.want:
				t.Errorf("Compress = %v, want %v", lc.Compress, tc.want)
			}
		})
	}
}

func TestLogOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string // "" accepted, else part of the error
	}{
		{map[string]string{"mode": "non-blocking", "max-buffer-size": "4m", "max-size": "1m"}, ""},
		{map[string]string{"mode": "blocking"}, ""},
		{map[string]string{"compress": "false"}, ""},
		{map[string]string{"max-buffer-size": "4m"}, "max-buffer-size is only supported with 'mode=non-blocking'"},
		{map[string]string{"mode": "non-blocking", "max-buffer-size": "lots"}, `max-buffer-size "lots": not a size`},
		{map[string]string{"mode": "lossy"}, `mode "lossy": want blocking or non-blocking`},
		{map[string]string{"compress": "true"}, ""},
		{map[string]string{"compress": "yes"}, `compress "yes": not a boolean`},
		{map[string]string{"compress": "true", "max-file": "1"}, "compress cannot be true when max-file is less than 2"},
		{map[string]string{"max-file": "1"}, ""},
	} {
		_, err := logConfig(&spec.Logging{Driver: "local", Options: tc.opts})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.opts, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: err = %v, want %q", tc.opts, err, tc.want)
		case tc.want != "" && !errdefs.IsInvalidArgument(err) && !errdefs.IsNotImplemented(err):
			t.Errorf("%v: err = %v, not classified", tc.opts, err)
		}
	}
}

// TestBuildEntitlements: build.entitlements reach the build's Allow, with
// security.insecure once more when build.privileged is set too.
func TestBuildEntitlements(t *testing.T) {
	p := buildProject()
	b := service(p, "app").Build
	b.Entitlements = []string{build.AllowNetworkHost, build.AllowSecurityInsecure}
	b.Privileged = true
	o, _ := buildStepOptions(t, newFake(), p, Options{Mode: ModeBuild})
	if !slices.Equal(o.Allow, []string{build.AllowNetworkHost, build.AllowSecurityInsecure}) {
		t.Errorf("allow = %q", o.Allow)
	}
}

func TestNetworkConfigAuxAddresses(t *testing.T) {
	n := spec.Network{Key: "front", Name: "p_front", Subnets: []spec.IPAMConfig{{
		Subnet: "10.215.0.0/24", AuxAddresses: map[string]string{"router": "10.215.0.5", "nas": "10.215.0.4"},
	}}}
	cfg, err := NetworkConfig(n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("10.215.0.4"), netip.MustParseAddr("10.215.0.5")}; !slices.Equal(cfg.AuxAddresses, want) {
		t.Errorf("aux addresses = %v, want %v (sorted by name)", cfg.AuxAddresses, want)
	}
	n.Subnets[0].AuxAddresses = map[string]string{"router": "10.9.0.5"}
	_, err = NetworkConfig(n, nil)
	if want := `networks.front.ipam.config[0].aux_addresses.router: "10.9.0.5" is not an address of subnet 10.215.0.0/24`; err == nil || !strings.Contains(err.Error(), want) || !errdefs.IsInvalidArgument(err) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestAnonymousVolumeLabels(t *testing.T) {
	p := project()
	web := service(p, "web")
	web.Mounts = []spec.Mount{{Type: "volume", Target: "/anon", VolumeLabels: map[string]string{"owner": "web", spec.LabelProject: "not-mine"}}}
	cfg, err := ContainerConfig(p, web, 1)
	if err != nil {
		t.Fatal(err)
	}
	vols := anonymousVolumes(p.Name, web, 1, &cfg, nil, false)
	if len(vols) != 1 || vols[0].Labels["owner"] != "web" || vols[0].Labels[spec.LabelProject] != p.Name {
		t.Errorf("anonymous volumes = %+v, want volume.labels under berth's own", vols)
	}
}

// TestBuildRunContainerOptions: build.extra_hosts, shm_size and ulimits
// reach the build's options.
func TestBuildRunContainerOptions(t *testing.T) {
	p := buildProject()
	b := service(p, "app").Build
	b.ExtraHosts = []string{"gw=host-gateway", "registry=10.1.2.3"}
	b.ShmSize = 32 << 20
	b.Ulimits = map[string]spec.Ulimit{"nofile": {Soft: 100, Hard: 200}}
	b.NoCacheFilter = []string{"gen"}
	o, _ := buildStepOptions(t, newFake(), p, Options{Mode: ModeBuild})
	if !slices.Equal(o.NoCacheFilter, []string{"gen"}) {
		t.Errorf("no-cache filter %q", o.NoCacheFilter)
	}
	if len(o.ExtraHosts) != 2 || o.ExtraHosts[0].IP != "host-gateway" || o.ExtraHosts[1].IP != "10.1.2.3" || o.ExtraHosts[1].Names[0] != "registry" {
		t.Errorf("extra hosts %+v", o.ExtraHosts)
	}
	if o.ShmSize != 32<<20 || o.Ulimits["nofile"].Soft != 100 || o.Ulimits["nofile"].Hard != 200 {
		t.Errorf("shm %d, ulimits %+v", o.ShmSize, o.Ulimits)
	}
}

// TestBuildAdditionalContexts: a "service:NAME" context is that service's
// image, built first; the others pass as they are.
func TestBuildAdditionalContexts(t *testing.T) {
	p := buildProject()
	p.Services = append(p.Services, spec.Service{Name: "lib", Image: "p-lib", Build: &spec.Build{Context: "/src/p/lib"}, Scale: 1,
		Networks: []spec.ServiceNetwork{{Name: "default"}}})
	b := service(p, "app").Build
	b.AdditionalContexts = map[string]string{"lib": "service:lib", "shared": "/src/p/shared", "base": "docker-image://busybox:latest"}
	_, plan := buildStepOptions(t, newFake(), p, Options{Mode: ModeBuild})
	var o build.Options
	for _, s := range plan.Steps {
		if a, ok := s.Action.(BuildImage); ok && a.Ref == "p-app" {
			o = a.Options
		}
	}
	want := map[string]string{"lib": "docker-image://p-lib", "shared": "/src/p/shared", "base": "docker-image://busybox:latest"}
	if !maps.Equal(o.Contexts, want) {
		t.Errorf("contexts %v, want %v", o.Contexts, want)
	}
	ids := map[string]int{}
	var appAfter []int
	for _, s := range plan.Steps {
		if a, ok := s.Action.(BuildImage); ok {
			ids[a.Ref] = s.ID
			if a.Ref == "p-app" {
				appAfter = s.After
			}
		}
	}
	if !slices.Contains(appAfter, ids["p-lib"]) {
		t.Errorf("app's build waits for %v, not lib's build (step %d):\n%s", appAfter, ids["p-lib"], plan)
	}
}

func TestLogAttrOptions(t *testing.T) {
	lc, err := logConfig(&spec.Logging{Driver: "json-file", Options: map[string]string{
		"labels": "team, tier", "labels-regex": "^com", "env": "APP_ENV", "env-regex": "^X_", "tag": "{{.Name}}"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lc.Labels, []string{"team", "tier"}) || lc.LabelsRegex != "^com" || !slices.Equal(lc.Env, []string{"APP_ENV"}) ||
		lc.EnvRegex != "^X_" || lc.Tag != "{{.Name}}" {
		t.Errorf("log config = %+v", lc)
	}
	_, err = logConfig(&spec.Logging{Driver: "local", Options: map[string]string{"labels": "team"}})
	if want := "unknown log opt 'labels' for local log driver"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("labels with local: %v, want %q", err, want)
	}
	if _, err := logConfig(&spec.Logging{Options: map[string]string{"tag": "{{.Name"}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("a bad tag template: %v", err)
	}
}

// TestPreStartPlanAndRun: pre_start runs before the service's containers
// are made, is removed when it succeeds, does not run again while the
// service runs, and a failing one keeps the service from starting.
func TestPreStartPlanAndRun(t *testing.T) {
	f := newFake()
	p := project()
	web := service(p, "web")
	web.PreStart = []spec.Service{{Name: "web", Image: "busybox", Command: []string{"migrate"}, Networks: web.Networks}}
	f.OnStart("p-web-pre_start-0", engine.State{Status: engine.StatusExited})
	plan, err := converge(t, f, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var hook, create int
	for _, s := range plan.Steps {
		switch a := s.Action.(type) {
		case RunPreStart:
			hook = s.ID
			if len(a.Configs) != 1 || a.Configs[0].Labels[spec.LabelHook] != spec.HookPreStart || len(a.Configs[0].Networks[0].Aliases) != 0 {
				t.Errorf("pre_start configs = %+v", a.Configs)
			}
		case CreateContainer:
			if a.Service == "web" {
				create = s.ID
				if !slices.Contains(s.After, hook) {
					t.Errorf("web's creation waits for %v, not pre_start (step %d)", s.After, hook)
				}
			}
		}
	}
	if hook == 0 || create == 0 {
		t.Fatalf("no pre_start or web step:\n%s", plan)
	}
	ctrs, _ := f.Runtime().List(t.Context(), map[string]string{spec.LabelHook: spec.HookPreStart})
	if len(ctrs) != 0 {
		t.Errorf("pre_start containers left: %d", len(ctrs))
	}
	plan, err = converge(t, f, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan.String(), "pre_start") {
		t.Errorf("pre_start planned again while web runs:\n%s", plan)
	}

	f = newFake()
	f.OnStart("p-web-pre_start-0", engine.State{Status: engine.StatusExited, ExitCode: 3})
	_, err = converge(t, f, p, Options{})
	if want := `service "web" pre_start[0] exited with code 3`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a failing pre_start: %v, want %q", err, want)
	}
	if ctrs, _ := f.Runtime().List(t.Context(), map[string]string{spec.LabelService: "web"}); len(ctrs) != 1 || ctrs[0].Config.Labels[spec.LabelHook] != spec.HookPreStart {
		t.Errorf("containers of web after a failed pre_start: %d, want the kept hook alone", len(ctrs))
	}
}
