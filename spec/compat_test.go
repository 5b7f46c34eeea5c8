package spec

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestCompatFieldsRun(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", `services:
  web:
    image: web
    platform: linux/`+runtime.GOARCH+`
    cgroup_parent: ci
    cgroup: private
    cpuset: "0"
    cpu_quota: 20000
    cpu_period: 50000
    mem_swappiness: 10
    oom_kill_disable: true
    uts: host
    userns_mode: host
    annotations: {org.example/k: v}
    attach: false
    logging: {driver: local}
    deploy:
      placement: {constraints: [node.role==manager]}
      update_config: {parallelism: 2}
      rollback_config: {parallelism: 1}
      endpoint_mode: dnsrr
      labels: {a: b}
  client:
    image: client
    links: [web, "web:www"]
`)
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	if err := p.CheckSupported(); err != nil {
		t.Fatalf("CheckSupported: %v", err)
	}
	web, _ := p.Service("web")
	if web.CgroupParent != "ci" || web.Cgroup != "private" || web.Cpuset != "0" || web.CPUQuota != 20000 || web.CPUPeriod != 50000 ||
		web.MemSwappiness != 10 || !web.OomKillDisable || web.Uts != "host" || web.Annotations["org.example/k"] != "v" || !web.NoAttach {
		t.Errorf("web = %+v", web)
	}
	// links: web answers to www on the network both share, and client
	// depends on web.
	if a := web.Networks[0].Aliases; !slices.Contains(a, "www") {
		t.Errorf("web's aliases %v lack the link's", a)
	}
	client, _ := p.Service("client")
	if len(client.DependsOn) != 1 || client.DependsOn[0].Service != "web" {
		t.Errorf("client depends on %+v", client.DependsOn)
	}
	// A field a service sets changes its hash; one it does not set leaves
	// it as before (TestConfigHashGolden keeps those).
	before := ConfigHash(web)
	web.Cpuset = "1"
	if ConfigHash(web) == before {
		t.Error("cpuset is not in the hash")
	}
}

func TestCompatFieldsRefused(t *testing.T) {
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	for _, tc := range []struct{ field, want string }{
		{"platform: linux/" + other, `services.web.platform: "linux/` + other + `" is not this host's platform`},
		{"platform: windows/amd64", "is not this host's platform"},
		{"storage_opt: {size: 1G}", "services.web.storage_opt: not supported: per-container storage options"},
		{"isolation: hyperv", "services.web.isolation: not supported: isolation is a Windows container setting"},
		{"cgroup: shared", "services.web.cgroup: value must be one of"},
		{"logging: {driver: syslog}", `services.web.logging.driver: "syslog" is not supported`},
	} {
		t.Run(tc.field, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    "+tc.field+"\n")
			p, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
			if err == nil {
				err = p.CheckSupported()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line with %q", err, tc.want)
			}
		})
	}
}

func TestNamingAServiceEnablesIt(t *testing.T) {
	p := mustLoad(t, LoadOptions{WorkingDir: copyCase(t, "profiles"), Services: []string{"tools"}})
	var names []string
	for _, s := range p.Services {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"tools", "web"}) {
		t.Errorf("enabled services %v, want tools and web (debug's profile stays off)", names)
	}
	if !slices.Contains(p.DisabledServices, "debug") {
		t.Errorf("disabled %v", p.DisabledServices)
	}
}

func TestBuildSSHLoads(t *testing.T) {
	for _, ssh := range []string{`["default"]`, `["mykey=/tmp/x"]`, `{default: ""}`, `{mykey: /tmp/x}`} {
		t.Run(ssh, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    build:\n      context: .\n      ssh: "+ssh+"\n")
			p, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := p.CheckSupported(); err != nil && strings.Contains(err.Error(), "json") {
				t.Errorf("CheckSupported: %v", err)
			}
		})
	}
}

func TestEnvFileRaw(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/raw.env", "# a comment\nA=$HOME\nB=\"quoted\" # kept\n\nC=x=y\n")
	writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    env_file:\n      - path: raw.env\n        format: raw\n")
	p := mustLoad(t, LoadOptions{WorkingDir: dir, Environ: []string{"HOME=/root"}})
	web, _ := p.Service("web")
	want := []string{"A=$HOME", `B="quoted" # kept`, "C=x=y"}
	if !slices.Equal(web.Environment, want) {
		t.Errorf("environment %q, want %q", web.Environment, want)
	}
	writeFile(t, dir+"/raw.env", "NOEQUALS\n")
	if _, err := Load(t.Context(), LoadOptions{WorkingDir: dir}); err == nil || !strings.Contains(err.Error(), "raw.env:1: want KEY=VALUE") {
		t.Errorf("bad raw file: %v", err)
	}
}
