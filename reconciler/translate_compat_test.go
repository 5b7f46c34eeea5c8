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

func TestTranslateEndpointExtras(t *testing.T) {
	p := project()
	web := service(p, "web")
	web.Networks[0].InterfaceName = "front0"
	web.Networks[0].LinkLocalIPs = []string{"169.254.8.8", "fe80::8"}
	web.Networks[0].DriverOpts = map[string]string{"com.docker.network.endpoint.sysctls": "net.ipv4.conf.IFNAME.log_martians=1"}
	cfg, err := ContainerConfig(p, web, 1)
	if err != nil {
		t.Fatal(err)
	}
	ep := cfg.Networks[0]
	if ep.InterfaceName != "front0" || len(ep.LinkLocalIPs) != 2 || ep.LinkLocalIPs[0].String() != "169.254.8.8" ||
		ep.Sysctls["net.ipv4.conf.IFNAME.log_martians"] != "1" {
		t.Errorf("endpoint = %+v", ep)
	}
	for name, tc := range map[string]struct {
		edit func(*spec.ServiceNetwork)
		want string
	}{
		"not link-local": {func(n *spec.ServiceNetwork) { n.LinkLocalIPs = []string{"10.0.0.1"} },
			`service "web": networks.default.link_local_ips: "10.0.0.1" is not a link-local address`},
		"unknown driver option": {func(n *spec.ServiceNetwork) { n.DriverOpts = map[string]string{"com.example.x": "1"} },
			`service "web": networks.default.driver_opts: "com.example.x" is not supported`},
		"sysctl of the host": {func(n *spec.ServiceNetwork) {
			n.DriverOpts = map[string]string{"com.docker.network.endpoint.sysctls": "net.core.somaxconn=10"}
		}, `net.ipv4.conf.IFNAME.* and net.ipv6.conf.IFNAME.*`},
	} {
		t.Run(name, func(t *testing.T) {
			p := project()
			web := service(p, "web")
			tc.edit(&web.Networks[0])
			_, err := ContainerConfig(p, web, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoggingNoneAndOneOffUlimits(t *testing.T) {
	p := project()
	web := service(p, "web")
	web.Logging = &spec.Logging{Driver: "none"}
	web.Ulimits = map[string]spec.Ulimit{"nofile": {Soft: 512, Hard: 1024}}
	cfg, err := OneOffConfig(p, web, "p-web-run-1", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logging.Driver != engine.LogDriverNone {
		t.Errorf("logging = %+v, want driver none", cfg.Logging)
	}
	if u := cfg.Ulimits["nofile"]; u != (engine.Ulimit{Soft: 512, Hard: 1024}) {
		t.Errorf("run's ulimits = %+v, want the service's", cfg.Ulimits)
	}
	web.Logging.Options = map[string]string{"max-size": "1m"}
	if _, err := ContainerConfig(p, web, 1); err == nil || !strings.Contains(err.Error(), "driver none takes no options") {
		t.Errorf("none with options: %v", err)
	}
}
