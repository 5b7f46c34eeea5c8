package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLifecycleHooksLoad(t *testing.T) {
	web := loadWeb(t, `services:
  web:
    image: web
    user: "1000"
    post_start:
      - command: chown -R 1000 /data
        user: root
        privileged: true
        working_dir: /data
        environment: {B: "2", A: "1"}
      - command: ["touch", "/data/ready"]
    pre_stop:
      - command: sync
`)
	want := []Hook{
		{Command: []string{"chown", "-R", "1000", "/data"}, User: "root", Privileged: true, WorkingDir: "/data", Environment: []string{"A=1", "B=2"}},
		{Command: []string{"touch", "/data/ready"}},
	}
	if len(web.PostStart) != 2 || !slices.EqualFunc(web.PostStart, want, hookEqual) {
		t.Errorf("post_start = %+v, want %+v", web.PostStart, want)
	}
	if len(web.PreStop) != 1 || !slices.Equal(web.PreStop[0].Command, []string{"sync"}) {
		t.Errorf("pre_stop = %+v", web.PreStop)
	}
	// A hook is part of the service's hash, as in Docker Compose.
	before := ConfigHash(web)
	web.PreStop = nil
	if ConfigHash(web) == before {
		t.Error("pre_stop is not in the hash")
	}
}

func hookEqual(a, b Hook) bool {
	return slices.Equal(a.Command, b.Command) && a.User == b.User && a.Privileged == b.Privileged &&
		a.WorkingDir == b.WorkingDir && slices.Equal(a.Environment, b.Environment)
}

func TestBlkioAndDeviceRulesLoad(t *testing.T) {
	web := loadWeb(t, `services:
  web:
    image: web
    blkio_config:
      weight: 300
      weight_device: [{path: /dev/sda, weight: 400}]
      device_read_bps: [{path: /dev/sda, rate: 12mb}]
      device_write_iops: [{path: /dev/sdb, rate: 120}]
    device_cgroup_rules: ["c 1:3 mr", "a 7:* rmw"]
`)
	b := web.Blkio
	if b == nil || b.Weight != 300 || len(b.WeightDevice) != 1 || b.WeightDevice[0] != (BlkioWeightDevice{"/dev/sda", 400}) ||
		len(b.DeviceReadBps) != 1 || b.DeviceReadBps[0] != (BlkioThrottle{"/dev/sda", 12 << 20}) ||
		len(b.DeviceWriteIOps) != 1 || b.DeviceWriteIOps[0] != (BlkioThrottle{"/dev/sdb", 120}) {
		t.Errorf("blkio = %+v", b)
	}
	if !slices.Equal(web.DeviceCgroupRules, []string{"c 1:3 mr", "a 7:* rmw"}) {
		t.Errorf("device_cgroup_rules = %q", web.DeviceCgroupRules)
	}
	before := ConfigHash(web)
	web.Blkio.DeviceReadBps[0].Rate = 1
	if ConfigHash(web) == before {
		t.Error("blkio_config is not in the hash")
	}
}

func TestImageVolumeLoads(t *testing.T) {
	web := loadWeb(t, `services:
  web:
    image: web
    volumes:
      - type: image
        source: content:1
        target: /content
        image: {subpath: site/sub}
`)
	want := Mount{Type: "image", Source: "content:1", Target: "/content", ReadOnly: true, Subpath: "site/sub"}
	if len(web.Mounts) != 1 || !reflect.DeepEqual(web.Mounts[0], want) {
		t.Errorf("mounts = %+v, want %+v", web.Mounts, want)
	}
}

// loadWeb loads a project from yaml, checks berth runs all of it, and
// returns its service web.
func loadWeb(t *testing.T, yaml string) Service {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", yaml)
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	if err := p.CheckSupported(); err != nil {
		t.Fatalf("CheckSupported: %v", err)
	}
	web, _ := p.Service("web")
	return web
}

func TestPullPolicyRefreshLoads(t *testing.T) {
	for policy, every := range map[string]time.Duration{
		"daily": 24 * time.Hour, "weekly": 7 * 24 * time.Hour, "every_12h": 12 * time.Hour, "every_1d2h": 26 * time.Hour, "refresh": 0,
	} {
		t.Run(policy, func(t *testing.T) {
			web := loadWeb(t, "services:\n  web:\n    image: web\n    pull_policy: "+policy+"\n")
			if web.PullPolicy != "refresh" || web.PullRefresh != every {
				t.Errorf("pull policy %q every %v, want refresh every %v", web.PullPolicy, web.PullRefresh, every)
			}
		})
	}
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    pull_policy: every_fortnight\n")
	p, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
	if err == nil {
		err = p.CheckSupported()
	}
	if err == nil || !strings.Contains(err.Error(), "pull_policy") || strings.Contains(err.Error(), "\n") {
		t.Errorf("every_fortnight: %v, want one line naming pull_policy", err)
	}
}

func TestServiceNetworkExtrasLoad(t *testing.T) {
	web := loadWeb(t, `services:
  web:
    image: web
    networks:
      front:
        interface_name: front0
        link_local_ips: ["169.254.8.8"]
        driver_opts: {com.docker.network.endpoint.sysctls: "net.ipv4.conf.IFNAME.log_martians=1"}
networks:
  front: {}
`)
	n := web.Networks[0]
	if n.InterfaceName != "front0" || !slices.Equal(n.LinkLocalIPs, []string{"169.254.8.8"}) ||
		n.DriverOpts["com.docker.network.endpoint.sysctls"] != "net.ipv4.conf.IFNAME.log_martians=1" {
		t.Errorf("network = %+v", n)
	}
	before := ConfigHash(web)
	web.Networks[0].InterfaceName = "eth5"
	if ConfigHash(web) == before {
		t.Error("interface_name is not in the hash")
	}
}

func TestRuntimeLoads(t *testing.T) {
	web := loadWeb(t, "services:\n  web:\n    image: web\n    runtime: /usr/local/bin/crun\n")
	if web.Runtime != "/usr/local/bin/crun" {
		t.Errorf("runtime = %q", web.Runtime)
	}
	before := ConfigHash(web)
	web.Runtime = ""
	if ConfigHash(web) == before {
		t.Error("runtime is not in the hash")
	}
}

func TestExternalLinksLoad(t *testing.T) {
	web := loadWeb(t, "services:\n  web:\n    image: web\n    external_links: [\"legacy-db:db\", cache]\n")
	if !slices.Equal(web.ExternalLinks, []string{"legacy-db:db", "cache"}) {
		t.Errorf("external_links = %q", web.ExternalLinks)
	}
	before := ConfigHash(web)
	web.ExternalLinks = []string{"cache", "legacy-db:db"}
	if ConfigHash(web) != before {
		t.Error("reordering external_links changed the hash")
	}
	web.ExternalLinks = nil
	if ConfigHash(web) == before {
		t.Error("external_links is not in the hash")
	}
}
