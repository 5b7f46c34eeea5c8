package dockerapi

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
)

// TestBuildOptionsAsDockerdReadsThem: the classic POST /build's query,
// as the docker CLI sends it for `docker build --add-host … --ulimit …`,
// reaches the builder; what berth does not do is refused in one line.
func TestBuildOptionsAsDockerdReadsThem(t *testing.T) {
	q := url.Values{
		"t": {"app:1", "app:latest"}, "pull": {"1"}, "squash": {"1"}, "platform": {"linux/amd64"},
		"extrahosts": {"db:10.1.2.3", "cache=10.1.2.4"}, "shmsize": {"67108864"},
		"ulimits": {`[{"Name":"nofile","Hard":2048,"Soft":1024}]`},
		"memory":  {"134217728"}, "memswap": {"-1"}, "cpushares": {"512"}, "cpuperiod": {"100000"}, "cpuquota": {"50000"},
		"cpusetcpus": {"0"}, "cpusetmems": {"0"}, "cgroupparent": {"builds"}, "rm": {"1"}, "forcerm": {"1"},
		"isolation": {"default"}, "cachefrom": {"[]"},
	}
	opt, err := BuildOptions(httptest.NewRequest("POST", "/build?"+q.Encode(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if !opt.Pull || !opt.Squash || len(opt.Tags) != 2 || opt.ShmSize != 64<<20 || opt.CgroupParent != "builds" {
		t.Errorf("flags: %+v", opt)
	}
	if len(opt.ExtraHosts) != 2 || opt.ExtraHosts[1].IP != "10.1.2.4" || opt.ExtraHosts[1].Names[0] != "cache" {
		t.Errorf("extra hosts: %+v", opt.ExtraHosts)
	}
	if opt.Ulimits["nofile"] != (engine.Ulimit{Soft: 1024, Hard: 2048}) {
		t.Errorf("ulimits: %+v", opt.Ulimits)
	}
	r := opt.Resources
	if r.MemLimit != 128<<20 || r.MemSwapLimit != -1 || r.CPUShares != 512 || r.CPUPeriod != 100000 || r.CPUQuota != 50000 ||
		r.CpusetCpus != "0" || r.CpusetMems != "0" {
		t.Errorf("resources: %+v", r)
	}
	for query, want := range map[string]string{
		"platform=linux/arm64":             `platform="linux/arm64"`,
		"securityopt=seccomp%3Dunconfined": "securityopt",
		"isolation=hyperv":                 `isolation="hyperv"`,
		"cachefrom=%5B%22reg%2Fapp%22%5D":  "cachefrom=",
		"extrahosts=nohost":                `extrahosts "nohost"`,
		"memory=lots":                      `memory="lots"`,
		"ulimits=%5Bnot+json":              "ulimits:",
	} {
		_, err := BuildOptions(httptest.NewRequest("POST", "/build?"+query, nil))
		if err == nil || !strings.Contains(err.Error(), want) || !(errdefs.IsInvalidArgument(err) || errdefs.IsNotImplemented(err)) {
			t.Errorf("%s: %v, want an error naming %s", query, err, want)
		}
	}
}
