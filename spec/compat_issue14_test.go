package spec

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestUmaskAliasRefreshEntitlementsLoad(t *testing.T) {
	web := loadWeb(t, `services:
  web:
    image: web
    umask: "0027"
    pull_policy: refresh
    pull_refresh_after: 2h
    networks:
      front: {use_service_name_alias: false, aliases: [www]}
      back: {}
    build:
      context: .
      entitlements: [network.host]
      privileged: true
    logging:
      driver: json-file
      options: {max-size: 1m, mode: non-blocking, max-buffer-size: 4m, compress: "true"}
networks:
  front: {}
  back: {}
`)
	if web.Umask == nil || *web.Umask != 0o027 {
		t.Errorf("umask = %v, want 0027", web.Umask)
	}
	if web.PullPolicy != "refresh" || web.PullRefresh != 2*time.Hour {
		t.Errorf("pull policy %q every %v, want refresh every 2h", web.PullPolicy, web.PullRefresh)
	}
	nets := map[string]ServiceNetwork{}
	for _, n := range web.Networks {
		nets[n.Name] = n
	}
	if !nets["front"].NoServiceAlias || nets["back"].NoServiceAlias || !slices.Equal(nets["front"].Aliases, []string{"www"}) {
		t.Errorf("networks = %+v", web.Networks)
	}
	if !slices.Equal(web.Build.Entitlements, []string{"network.host"}) || !web.Build.Privileged {
		t.Errorf("build = %+v", web.Build)
	}

	before := ConfigHash(web)
	for name, change := range map[string]func(*Service){
		"umask":                  func(s *Service) { u := uint32(0o077); s.Umask = &u },
		"use_service_name_alias": func(s *Service) { s.Networks[1].NoServiceAlias = false },
		"logging mode":           func(s *Service) { s.Logging.Options = map[string]string{"max-size": "1m"} },
	} {
		s := web
		s.Networks = slices.Clone(web.Networks)
		s.Logging = &Logging{Driver: web.Logging.Driver, Options: web.Logging.Options}
		change(&s)
		if ConfigHash(s) == before {
			t.Errorf("%s is not in the hash", name)
		}
	}
	// A service without the new fields keeps the hash it had.
	plain := baseService()
	unset := ConfigHash(plain)
	plain.Umask = nil
	if ConfigHash(plain) != unset {
		t.Error("an unset umask changes the hash")
	}
}

func TestPullRefreshAfterOnlyForPlainRefresh(t *testing.T) {
	for policy, want := range map[string]time.Duration{"daily": 24 * time.Hour, "every_3h": 3 * time.Hour, "refresh": 90 * time.Minute} {
		web := loadWeb(t, "services:\n  web:\n    image: web\n    pull_policy: "+policy+"\n    pull_refresh_after: 90m\n")
		if web.PullRefresh != want {
			t.Errorf("%s with pull_refresh_after 90m: every %v, want %v", policy, web.PullRefresh, want)
		}
	}
	web := loadWeb(t, "services:\n  web:\n    image: web\n    pull_refresh_after: 1d\n")
	if web.PullPolicy != "" || web.PullRefresh != 0 {
		t.Errorf("pull_refresh_after alone: policy %q every %v, want neither", web.PullPolicy, web.PullRefresh)
	}
}

func TestIssue14Ignored(t *testing.T) {
	loadWeb(t, `services:
  web:
    image: web
    ports:
      - {target: 80, published: "8080", name: http, app_protocol: http}
    deploy:
      resources:
        reservations:
          generic_resources:
            - discrete_resource_spec: {kind: ssd, value: 1}
    build:
      context: .
      secrets:
        - {source: token, uid: "1000", gid: "1000", mode: 0400}
secrets:
  token:
    file: ./token
    labels: {a: b}
configs:
  cfg:
    file: ./cfg
    labels: {a: b}
networks:
  default:
    enable_ipv4: true
    ipam:
      driver: default
      options: {foo: bar}
`)
}

// TestIssue14Refused covers the attributes that cannot apply on one Linux
// host and the values berth does not run, each with one line naming the
// field.
func TestIssue14Refused(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"services:\n  web:\n    image: web\n    gpus: all\n", "services.web.gpus: not supported: GPU requests need the NVIDIA container toolkit"},
		{"services:\n  web:\n    image: web\n    build: {context: ., cache_from: [example/cache]}\n",
			"services.web.build.cache_from: not supported: berth's builder imports no external build cache"},
		{"services:\n  web:\n    image: web\n    deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}\n",
			"services.web.deploy.resources.reservations.devices: not supported: device requests"},
		{"services:\n  web:\n    image: web\n    models: [llm]\nmodels:\n  llm: {model: ai/smollm2}\n", "models: not supported: models are served by Docker Model Runner"},
		{"services:\n  web:\n    provider: {type: model, options: {model: ai/smollm2}}\n", "services.web.provider: not supported: a provider service"},
		{"services:\n  web:\n    image: web\n    logging: {options: {syslog-address: udp://x}}\n", "services.web.logging.options.syslog-address: not supported: the json-file and local drivers take no other option"},
		{"services:\n  web:\n    image: web\n    logging: {options: {mode: lossy}}\n", `services.web.logging.options.mode: "lossy" is not supported`},
		{"services:\n  web:\n    image: web\n    pull_refresh_after: soon\n", `services.web.pull_refresh_after: "soon" is not a duration`},
		{"services:\n  web:\n    build: {context: ., entitlements: [device]}\n", `services.web.build.entitlements: "device" is not supported by berth yet (supported: "network.host", "security.insecure")`},
		{"services:\n  web:\n    build: {context: ., isolation: hyperv}\n", `services.web.build.isolation: "hyperv" is not supported`},
		{"services:\n  web:\n    build: {context: ., provenance: mode=max}\n", `services.web.build.provenance: "mode=max" is not supported by berth yet (supported: "false")`},
		{"services:\n  web:\n    build: {context: ., cache_to: [type=inline]}\n", "services.web.build.cache_to: not supported: berth's builder exports no build cache"},
		{"services:\n  web:\n    image: web\nnetworks:\n  default: {enable_ipv4: false}\n", "networks.default.enable_ipv4: false is not supported by berth yet (supported: true)"},
		{"services:\n  web:\n    image: web\nnetworks:\n  default: {ipam: {driver: dhcp}}\n", `networks.default.ipam.driver: "dhcp" is not supported by berth yet (supported: "default")`},
		{"services:\n  web:\n    image: web\n    volumes: [data:/data]\nvolumes:\n  data: {driver_opts: {size: 1G}}\n", "volumes.data.driver_opts.size: not supported: the local volume driver takes type, o and device"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/compose.yaml", tc.yaml)
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

func TestAuxAddressesLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", `services:
  web:
    image: web
networks:
  default:
    ipam:
      config:
        - subnet: 10.215.0.0/24
          aux_addresses: {router: 10.215.0.5}
`)
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	if err := p.CheckSupported(); err != nil {
		t.Fatal(err)
	}
	n := p.Networks[0]
	if len(n.Subnets) != 1 || n.Subnets[0].AuxAddresses["router"] != "10.215.0.5" {
		t.Errorf("network = %+v", n)
	}
}

func TestBindRecursiveAndVolumeLabelsLoad(t *testing.T) {
	web := loadWeb(t, `services:
  web:
    image: web
    volumes:
      - {type: bind, source: ., target: /src, read_only: true, bind: {recursive: readonly}}
      - {type: volume, target: /anon, volume: {labels: {owner: web}}}
`)
	if web.Mounts[0].Recursive != "readonly" || web.Mounts[1].VolumeLabels["owner"] != "web" {
		t.Errorf("mounts = %+v", web.Mounts)
	}
	before := ConfigHash(web)
	web.Mounts[0].Recursive = "writable"
	if ConfigHash(web) == before {
		t.Error("bind.recursive is not in the hash")
	}
	for yaml, want := range map[string]string{
		"{type: bind, source: ., target: /src, bind: {recursive: readonly}}":                   `services.web.volumes[0].bind.recursive: "readonly" needs read_only: true`,
		"{type: bind, source: ., target: /src, read_only: true, bind: {recursive: sometimes}}": "services.web.volumes.0.bind.recursive: value must be one of",
	} {
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    volumes:\n      - "+yaml+"\n")
		p, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
		if err == nil {
			err = p.CheckSupported()
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line with %q", yaml, err, want)
		}
	}
}

func TestBuildRunOptionsLoad(t *testing.T) {
	web := loadWeb(t, `services:
  web:
    build:
      context: .
      extra_hosts: ["registry=10.1.2.3", "gw:host-gateway"]
      shm_size: 32m
      ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}
      no_cache_filter: [gen]
`)
	b := web.Build
	if !slices.Equal(b.NoCacheFilter, []string{"gen"}) {
		t.Errorf("no_cache_filter = %q", b.NoCacheFilter)
	}
	if !slices.Equal(b.ExtraHosts, []string{"gw=host-gateway", "registry=10.1.2.3"}) || b.ShmSize != 32<<20 ||
		b.Ulimits["nofile"] != (Ulimit{Soft: 100, Hard: 200}) || b.Ulimits["nproc"] != (Ulimit{Soft: 50, Hard: 50}) {
		t.Errorf("build = %+v", b)
	}
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    build: {context: ., extra_hosts: [\"registry=nowhere\"]}\n")
	_, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
	if want := `services.web.build.extra_hosts: "registry=nowhere": "nowhere" is not an IP address`; err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want one line with %q", err, want)
	}
}

func TestAdditionalContextsLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", `services:
  web:
    build:
      context: .
      additional_contexts:
        shared: ./shared
        base: docker-image://busybox:latest
        lib: service:lib
  lib:
    build: {context: .}
`)
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	if err := p.CheckSupported(); err != nil {
		t.Fatal(err)
	}
	web, _ := p.Service("web")
	if c := web.Build.AdditionalContexts; c["shared"] != dir+"/shared" || c["base"] != "docker-image://busybox:latest" || c["lib"] != "service:lib" {
		t.Errorf("contexts = %v", c)
	}
	writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    build: {context: ., additional_contexts: {src: \"https://github.com/example/src.git\"}}\n")
	err := mustLoad(t, LoadOptions{WorkingDir: dir}).CheckSupported()
	if want := `services.web.build.additional_contexts.src: "https://github.com/example/src.git" is not supported by berth yet (supported: a directory, "docker-image://REF", "service:NAME")`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestUseAPISocket: as Docker Compose, the engine's socket is mounted and
// the docker config's credentials are given as a config, DOCKER_CONFIG
// pointing at it; berth config still prints the file as written.
func TestUseAPISocket(t *testing.T) {
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	t.Setenv("DOCKER_HOST", "")
	writeFile(t, cfgDir+"/config.json", `{"auths": {"registry.example:5000": {"auth": "dXNlcjpwYXNz"}}}`)
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    use_api_socket: true\n  own:\n    image: own\n    use_api_socket: true\n    environment: {DOCKER_CONFIG: /cfg}\n")
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	if err := p.CheckSupported(); err != nil {
		t.Fatal(err)
	}
	web, _ := p.Service("web")
	if len(web.Mounts) != 1 || web.Mounts[0].Source != "/var/run/docker.sock" || web.Mounts[0].Target != "/var/run/docker.sock" || web.Mounts[0].CreateHostPath {
		t.Errorf("mounts = %+v, want the engine's socket (which must exist)", web.Mounts)
	}
	if !slices.Contains(web.Environment, "DOCKER_CONFIG=/run/secrets/docker") {
		t.Errorf("environment = %q", web.Environment)
	}
	if len(web.Configs) != 1 || web.Configs[0].Target != "/run/secrets/docker/config.json" {
		t.Errorf("configs = %+v", web.Configs)
	}
	var content string
	for _, c := range p.Configs {
		if c.Key == web.Configs[0].Source {
			content = c.Content
		}
	}
	if !strings.Contains(content, "registry.example:5000") || !strings.Contains(content, "dXNlcjpwYXNz") {
		t.Errorf("credentials config = %q", content)
	}
	own, _ := p.Service("own")
	if !slices.Contains(own.Environment, "DOCKER_CONFIG=/cfg") {
		t.Errorf("own DOCKER_CONFIG replaced: %q", own.Environment)
	}
	out, err := p.Render("yaml")
	if err != nil || strings.Contains(string(out), "docker.sock") {
		t.Errorf("config prints the mount Load added (%v):\n%s", err, out)
	}
}

// TestUseAPISocketDockerHost: the socket mounted is DOCKER_HOST's when
// set, as Docker Compose's endpoint; one that is not a unix socket is
// refused with Compose's words.
func TestUseAPISocketDockerHost(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    use_api_socket: true\n")
	t.Setenv("DOCKER_HOST", "unix:///run/berth/api.sock")
	web, _ := mustLoad(t, LoadOptions{WorkingDir: dir}).Service("web")
	if len(web.Mounts) != 1 || web.Mounts[0].Source != "/run/berth/api.sock" || web.Mounts[0].Target != "/var/run/docker.sock" {
		t.Errorf("mounts = %+v, want DOCKER_HOST's socket at /var/run/docker.sock", web.Mounts)
	}
	for _, host := range []string{"tcp://127.0.0.1:2375", "unix://relative.sock"} {
		t.Setenv("DOCKER_HOST", host)
		_, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
		if want := "use_api_socket can only be used with unix sockets: docker endpoint " + host + " is incompatible"; err == nil || !strings.Contains(err.Error(), want) || !errdefs.IsInvalidArgument(err) {
			t.Errorf("DOCKER_HOST=%s: err = %v, want %q", host, err, want)
		}
	}
}

func TestPreStartLoads(t *testing.T) {
	web := loadWeb(t, `services:
  web:
    image: web
    environment: {A: "1"}
    user: app
    volumes: [./src:/src]
    pre_start:
      - command: ["migrate"]
        environment: {B: "2"}
`)
	if len(web.PreStart) != 1 {
		t.Fatalf("pre_start = %+v", web.PreStart)
	}
	h := web.PreStart[0]
	if h.Image != "web" || h.User != "app" || !slices.Equal(h.Command, []string{"migrate"}) || !slices.Contains(h.Environment, "A=1") || !slices.Contains(h.Environment, "B=2") {
		t.Errorf("hook = %+v, want the service's image, user and environment with its own", h)
	}
	if len(h.Mounts) != 0 {
		t.Errorf("hook mounts = %+v, want none of the service's (Docker Compose shares them at run time)", h.Mounts)
	}
	before := ConfigHash(web)
	web.PreStart[0].Command = []string{"migrate", "--again"}
	if ConfigHash(web) == before {
		t.Error("pre_start is not in the hash")
	}
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    image: web\n    pre_start: [{command: [\"true\"], per_replica: true}]\n")
	_, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
	if want := "services.web.pre_start[0].per_replica: per_replica is not yet supported"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("per_replica: %v, want %q", err, want)
	}
}
