package reconciler

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

func TestTranslateBlkioAndDeviceRules(t *testing.T) {
	p := project()
	web := service(p, "web")
	web.Blkio = &spec.Blkio{Weight: 300, DeviceReadBps: []spec.BlkioThrottle{{Path: "/dev/sda", Rate: 1 << 20}},
		WeightDevice: []spec.BlkioWeightDevice{{Path: "/dev/sdb", Weight: 20}}}
	web.DeviceCgroupRules = []string{"c 1:3 mr"}
	cfg, err := ContainerConfig(p, web, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Resources.Blkio
	if b == nil || b.Weight != 300 || len(b.DeviceReadBps) != 1 || b.DeviceReadBps[0] != (engine.BlkioThrottle{Path: "/dev/sda", Rate: 1 << 20}) ||
		len(b.WeightDevice) != 1 || b.WeightDevice[0] != (engine.BlkioWeightDevice{Path: "/dev/sdb", Weight: 20}) {
		t.Errorf("blkio = %+v", b)
	}
	if len(cfg.DeviceCgroupRules) != 1 || cfg.DeviceCgroupRules[0] != "c 1:3 mr" {
		t.Errorf("device cgroup rules = %q", cfg.DeviceCgroupRules)
	}
	web.DeviceCgroupRules = []string{"c 1:3 rx"}
	_, err = ContainerConfig(p, web, 1)
	if err == nil || !strings.Contains(err.Error(), `service "web": device_cgroup_rules: "c 1:3 rx"`) {
		t.Errorf("a bad rule: %v", err)
	}
}

func TestImageMountPulledWhenMissing(t *testing.T) {
	f := newFake()
	f.AddToRegistry("content:1")
	p := project()
	web := service(p, "web")
	web.Mounts = append(web.Mounts, spec.Mount{Type: "image", Source: "content:1", Target: "/content", ReadOnly: true, Subpath: "site"})
	plan, err := converge(t, f, p, Options{Mode: ModeUp})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "pull image content:1 (for web)") {
		t.Errorf("plan:\n%s\nwants the image mount's image pulled", plan)
	}
	var m *engine.Mount
	for _, c := range containers(t, f) {
		for i := range c.Config.Mounts {
			if c.Config.Mounts[i].Type == "image" {
				m = &c.Config.Mounts[i]
			}
		}
	}
	if m == nil || m.Source != "content:1" || m.Subpath != "site" || !m.ReadOnly {
		t.Errorf("image mount = %+v", m)
	}
	// Present now: a second up pulls nothing.
	plan, err = converge(t, f, p, Options{Mode: ModeUp})
	if err != nil || !plan.Empty() {
		t.Errorf("second up: %v\n%s", err, plan)
	}
}

func TestPullPolicyRefresh(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pulled   time.Duration // ago; 0: never pulled
		wantPull bool
	}{
		{name: "pulled within the interval", pulled: 2 * time.Hour},
		{name: "pulled before the interval", pulled: 25 * time.Hour, wantPull: true},
		{name: "never pulled (imported, built)", wantPull: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.pulled != 0 {
				f.SetPulled("busybox", time.Now().Add(-tc.pulled))
			}
			p := project()
			for i := range p.Services {
				p.Services[i].PullPolicy, p.Services[i].PullRefresh = "refresh", 24*time.Hour
			}
			plan, err := converge(t, f, p, Options{Mode: ModeUp})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(plan.String(), "pull image busybox"); got != tc.wantPull {
				t.Errorf("pulled = %v, want %v:\n%s", got, tc.wantPull, plan)
			}
		})
	}
}
