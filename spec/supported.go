package spec

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/hostplatform"
)

// supportedFields is the allowlist of the Compose attributes berth runs, as
// path patterns: "*" matches any key of a mapping, "[]" any entry of a list.
// An attribute is accepted when its path is in the table, with everything
// below it unless the table lists deeper paths, and its value passes the
// check if there is one. Anything else a project sets is reported by
// CheckSupported. The model carries more than this table allows: to
// support an attribute, add it here in the same change that makes berth run
// it, and check that hashInput covers it when a change to it needs a new
// container.
var supportedFields = map[string]valueCheck{
	"services.*.image":                             nil,
	"services.*.container_name":                    nil,
	"services.*.command":                           nil,
	"services.*.entrypoint":                        nil,
	"services.*.environment":                       nil,
	"services.*.env_file":                          nil, // merged into environment by Load
	"services.*.label_file":                        nil, // merged into labels by Load
	"services.*.working_dir":                       nil,
	"services.*.user":                              nil,
	"services.*.hostname":                          nil,
	"services.*.init":                              nil,
	"services.*.labels":                            nil,
	"services.*.networks.*.aliases":                nil,
	"services.*.networks.*.ipv4_address":           nil,
	"services.*.networks.*.ipv6_address":           nil,
	"services.*.networks.*.mac_address":            nil,
	"services.*.networks.*.priority":               nil,
	"services.*.networks.*.gw_priority":            nil,
	"services.*.networks.*.interface_name":         nil,
	"services.*.networks.*.link_local_ips":         nil,
	"services.*.networks.*.use_service_name_alias": nil,
	// driver_opts keys are checked where they are used (reconciler.ContainerConfig).
	"services.*.networks.*.driver_opts":          nil,
	"services.*.network_mode":                    nil, // "bridge" is refused by the reconciler
	"services.*.mac_address":                     nil,
	"services.*.volumes[]":                       nil,
	"services.*.volumes[].type":                  oneOf(types.VolumeTypeVolume, types.VolumeTypeBind, types.VolumeTypeTmpfs, types.VolumeTypeImage),
	"services.*.volumes[].image.subpath":         nil,
	"services.*.volumes[].source":                nil,
	"services.*.volumes[].target":                nil,
	"services.*.volumes[].read_only":             nil,
	"services.*.volumes[].volume.nocopy":         nil,
	"services.*.volumes[].volume.subpath":        nil,
	"services.*.volumes[].bind.propagation":      oneOf("private", "rprivate", "shared", "rshared", "slave", "rslave"),
	"services.*.volumes[].bind.create_host_path": nil,
	"services.*.volumes[].bind.recursive":        oneOf("enabled", "disabled", "writable", "readonly"),
	"services.*.volumes[].volume.labels":         nil,             // of the anonymous volume the mount makes
	"services.*.volumes[].bind.selinux":          oneOf("z", "Z"), // accepted; no relabelling without SELinux
	"services.*.volumes[].tmpfs.size":            nil,
	"services.*.volumes[].tmpfs.mode":            nil,
	"services.*.tmpfs":                           nil,
	"services.*.volumes_from":                    nil,
	"services.*.configs[].source":                nil,
	"services.*.configs[].target":                nil,
	"services.*.configs[].uid":                   nil,
	"services.*.configs[].gid":                   nil,
	"services.*.configs[].mode":                  nil,
	"services.*.secrets[].source":                nil,
	"services.*.secrets[].target":                nil,
	"services.*.secrets[].uid":                   nil,
	"services.*.secrets[].gid":                   nil,
	"services.*.secrets[].mode":                  nil,
	"services.*.depends_on.*.condition":          oneOf(types.ServiceConditionStarted, types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully),
	"services.*.depends_on.*.required":           nil,
	"services.*.depends_on.*.restart":            nil,
	"services.*.scale":                           nil,
	"services.*.deploy.replicas":                 nil,
	"services.*.deploy.mode":                     oneOf("replicated"),
	"services.*.restart":                         restartPolicy,
	"services.*.stop_signal":                     nil,
	"services.*.stop_grace_period":               nil,
	"services.*.extra_hosts":                     nil,
	"services.*.ports[].target":                  nil,
	"services.*.ports[].published":               nil,
	"services.*.ports[].host_ip":                 nil,
	"services.*.ports[].protocol":                oneOf("tcp", "udp"), // Load leaves other protocols' ports out of the model (ports.go)
	"services.*.ports[].mode":                    oneOf("ingress", "host"),
	"services.*.expose":                          nil, // recorded on the container, published nowhere
	"services.*.dns":                             nil,
	"services.*.dns_search":                      nil,
	"services.*.dns_opt":                         nil,
	"services.*.profiles":                        nil,
	"services.*.pull_policy":                     pullPolicy,

	// Images built by berth's builder (engine/build).
	"services.*.build.context":               nil,
	"services.*.build.dockerfile":            nil,
	"services.*.build.dockerfile_inline":     nil,
	"services.*.build.args":                  nil,
	"services.*.build.target":                nil,
	"services.*.build.labels":                nil,
	"services.*.build.tags":                  nil,
	"services.*.build.no_cache":              nil,
	"services.*.build.network":               oneOf("default", "none", "host"),
	"services.*.build.platforms[]":           hostPlatform,
	"services.*.build.pull":                  nil,
	"services.*.build.privileged":            nil,
	"services.*.build.secrets[].source":      nil,
	"services.*.build.secrets[].target":      nil,
	"services.*.build.ssh":                   nil,
	"services.*.build.entitlements":          entitlements,
	"services.*.build.extra_hosts":           nil, // of the containers RUN steps run in, as shm_size and ulimits
	"services.*.build.shm_size":              nil,
	"services.*.build.no_cache_filter":       nil,
	"services.*.build.additional_contexts.*": additionalContext,
	"services.*.build.ulimits":               nil,
	"services.*.build.isolation":             oneOf("default"), // the only isolation of a Linux engine
	"services.*.build.provenance":            oneOf("false"),
	"services.*.build.sbom":                  oneOf("false"),

	// Process, security and resources (engine.OCISpec).
	"services.*.tty":                                  nil,
	"services.*.stdin_open":                           nil,
	"services.*.read_only":                            nil,
	"services.*.privileged":                           nil,
	"services.*.domainname":                           nil,
	"services.*.group_add":                            nil,
	"services.*.cap_add":                              nil,
	"services.*.cap_drop":                             nil,
	"services.*.security_opt":                         nil, // no-new-privileges, seccomp, apparmor=unconfined, label=disable; others fail at create
	"services.*.sysctls":                              nil,
	"services.*.ulimits":                              nil,
	"services.*.devices":                              nil,
	"services.*.shm_size":                             nil,
	"services.*.mem_limit":                            nil,
	"services.*.mem_reservation":                      nil,
	"services.*.memswap_limit":                        nil,
	"services.*.cpus":                                 nil,
	"services.*.cpu_shares":                           nil,
	"services.*.pids_limit":                           nil,
	"services.*.deploy.resources.limits.memory":       nil,
	"services.*.deploy.resources.limits.cpus":         nil,
	"services.*.deploy.resources.limits.pids":         nil,
	"services.*.deploy.resources.reservations.memory": nil,
	"services.*.oom_score_adj":                        nil,
	"services.*.pid":                                  nil,
	"services.*.ipc":                                  nil,
	"services.*.deploy.restart_policy.condition":      oneOf("none", "any", "on-failure"),
	"services.*.deploy.restart_policy.max_attempts":   nil,
	"services.*.healthcheck":                          nil, // run by the shim
	"services.*.logging.driver":                       oneOf("json-file", "local", "none"),
	"services.*.cgroup_parent":                        nil,
	"services.*.cgroup":                               oneOf("host", "private"),
	"services.*.cpuset":                               nil,
	"services.*.cpu_quota":                            nil,
	"services.*.cpu_period":                           nil,
	"services.*.cpu_rt_runtime":                       nil, // needs a kernel with real-time group scheduling; runc says so
	"services.*.cpu_rt_period":                        nil,
	"services.*.mem_swappiness":                       nil,
	"services.*.oom_kill_disable":                     nil,
	"services.*.uts":                                  oneOf("host"),
	"services.*.userns_mode":                          oneOf("host"),
	"services.*.annotations":                          nil,
	"services.*.attach":                               nil,
	"services.*.links":                                nil, // aliases of the linked service (Load)
	"services.*.external_links":                       nil, // in the container's hosts file while the container runs on a shared network
	"services.*.platform":                             hostPlatform,
	"services.*.blkio_config":                         nil, // cgroup blkio; weights only where the kernel weighs block I/O
	"services.*.device_cgroup_rules":                  nil,
	"services.*.runtime":                              nil, // an OCI runtime binary, by name in PATH or path
	"services.*.logging.options.max-size":             nil,
	"services.*.logging.options.max-file":             nil,
	// Every driver's options in Docker: the shim drains a container's
	// output as it comes, so it never blocks on its log, in either mode.
	"services.*.logging.options.mode":            oneOf("blocking", "non-blocking"),
	"services.*.logging.options.max-buffer-size": nil, // with mode non-blocking, as Docker requires
	"services.*.logging.options.compress":        nil, // rotated files gzipped, after each rotation (reconciler: a boolean)
	// json-file's attributes of each line, shown by docker logs --details.
	"services.*.logging.options.labels":       nil,
	"services.*.logging.options.labels-regex": nil,
	"services.*.logging.options.env":          nil,
	"services.*.logging.options.env-regex":    nil,
	"services.*.logging.options.tag":          nil,
	"services.*.umask":                        nil,
	"services.*.use_api_socket":               nil, // as Docker Compose: /var/run/docker.sock and the docker config's credentials
	"services.*.pull_refresh_after":           nil, // the interval of pull_policy refresh

	// Lifecycle hooks, run by the reconciler through the engine's exec.
	"services.*.post_start[]": nil, // command, user, privileged, working_dir, environment
	"services.*.pre_stop[]":   nil,
	// Init containers: what they inherit from the service is checked there.
	"services.*.pre_start[]": nil,

	// Acted on by berth watch (reconciler/develop.go); not part of the hash.
	"services.*.develop.watch[].path":             nil,
	"services.*.develop.watch[].action":           oneOf(WatchSync, WatchRebuild, WatchRestart, WatchSyncRestart, WatchSyncExec),
	"services.*.develop.watch[].target":           nil,
	"services.*.develop.watch[].ignore":           nil,
	"services.*.develop.watch[].include":          nil,
	"services.*.develop.watch[].initial_sync":     nil,
	"services.*.develop.watch[].exec.command":     nil,
	"services.*.develop.watch[].exec.user":        nil,
	"services.*.develop.watch[].exec.privileged":  nil,
	"services.*.develop.watch[].exec.working_dir": nil,
	"services.*.develop.watch[].exec.environment": nil,

	"networks.*.name":        nil,
	"networks.*.external":    nil,
	"networks.*.internal":    nil,
	"networks.*.enable_ipv6": nil,
	"networks.*.enable_ipv4": isTrue, // every bridge network has an IPv4 subnet
	"networks.*.ipam.driver": oneOf("default"),
	"networks.*.driver":      oneOf("bridge"),
	"networks.*.labels":      nil,
	// driver_opts keys are checked where they are used (reconciler.NetworkConfig).
	"networks.*.driver_opts":                 nil,
	"networks.*.ipam.config[].subnet":        nil,
	"networks.*.ipam.config[].gateway":       nil,
	"networks.*.ipam.config[].ip_range":      nil,
	"networks.*.ipam.config[].aux_addresses": nil, // never handed to a container

	"volumes.*.name":     nil,
	"volumes.*.external": nil,
	"volumes.*.driver":   oneOf("local"),
	"volumes.*.labels":   nil,

	"volumes.*.driver_opts.type":   nil,
	"volumes.*.driver_opts.o":      nil,
	"volumes.*.driver_opts.device": nil,

	// Resolved while loading (compose-go), as Docker Compose does.
	"services.*.extends": nil,
	"include":            nil,
	"name":               nil,

	"configs.*.name":        nil,
	"configs.*.file":        nil,
	"configs.*.environment": nil,
	"configs.*.content":     nil,
	"secrets.*.name":        nil,
	"secrets.*.file":        nil,
	"secrets.*.environment": nil,
}

// ignoredFields are accepted and ignored, exactly where Docker Compose
// ignores them outside Swarm, with the reason.
var ignoredFields = map[string]string{
	"services.*.deploy.placement":                                "placement across Swarm nodes",
	"services.*.deploy.update_config":                            "Swarm rolling updates",
	"services.*.deploy.rollback_config":                          "Swarm rollbacks",
	"services.*.deploy.endpoint_mode":                            "Swarm service endpoints",
	"services.*.deploy.labels":                                   "labels of the Swarm service, not of its containers",
	"services.*.deploy.resources.reservations.cpus":              "a Swarm scheduling hint",
	"networks.*.attachable":                                      "for Swarm overlay networks; a bridge network takes any container",
	"services.*.deploy.restart_policy.delay":                     "Swarm's restart delay; the engine backs off as Docker's does",
	"services.*.deploy.restart_policy.window":                    "Swarm's restart window",
	"services.*.volumes[].consistency":                           "Docker Desktop for Mac only",
	"version":                                                    "obsolete: Docker Compose warns and ignores it, as berth does",
	"configs.*.labels":                                           "labels of a Swarm config; Docker Compose mounts the file and makes no object to label",
	"secrets.*.labels":                                           "labels of a Swarm secret; Docker Compose mounts the file and makes no object to label",
	"networks.*.ipam.options":                                    "Docker's default IPAM driver takes no options",
	"services.*.ports[].name":                                    "a name for tools that read the file; Docker Compose publishes the port without it",
	"services.*.ports[].app_protocol":                            "a hint for tools that read the file; Docker Compose publishes the port without it",
	"services.*.deploy.resources.reservations.generic_resources": "Swarm generic resources; Docker Compose passes none to the engine",
	"services.*.build.secrets[].uid":                             "Docker Compose passes a build secret's id and source only; RUN --mount=type=secret sets its owner",
	"services.*.build.secrets[].gid":                             "Docker Compose passes a build secret's id and source only; RUN --mount=type=secret sets its owner",
	"services.*.build.secrets[].mode":                            "Docker Compose passes a build secret's id and source only; RUN --mount=type=secret sets its mode",
}

// refusedFields cannot apply on one Linux host: any value is refused, with
// the reason.
var refusedFields = map[string]string{
	"services.*.storage_opt":                           "per-container storage options need a storage driver with quotas; berth's overlay layers have none",
	"services.*.isolation":                             "isolation is a Windows container setting",
	"services.*.cpu_count":                             "a Windows container setting",
	"services.*.cpu_percent":                           "a Windows container setting",
	"services.*.credential_spec":                       "a Windows container setting",
	"configs.*.external":                               "external configs live in a Swarm cluster",
	"secrets.*.external":                               "external secrets live in a Swarm cluster",
	"configs.*.template_driver":                        "template drivers are Swarm's",
	"secrets.*.template_driver":                        "template drivers are Swarm's",
	"secrets.*.driver":                                 "secret drivers are Swarm's",
	"secrets.*.driver_opts":                            "secret drivers are Swarm's",
	"volumes.*.driver_opts.*":                          "the local volume driver takes type, o and device (size needs project quotas, which berth's volumes do not have)",
	"models":                                           "models are served by Docker Model Runner (the docker model plugin), which berth does not have",
	"services.*.models":                                "models are served by Docker Model Runner (the docker model plugin), which berth does not have",
	"services.*.provider":                              "a provider service is made by a Docker CLI provider plugin (docker-<type>), which berth does not run",
	"services.*.gpus":                                  "GPU requests need the NVIDIA container toolkit's runtime hook; berth makes no device requests (use devices: for a device node)",
	"services.*.deploy.resources.reservations.devices": "device requests (GPUs) need the NVIDIA container toolkit's runtime hook; berth makes none (use devices: for a device node)",
	"services.*.build.cache_to":                        "berth's builder exports no build cache (nor does Docker's default docker build driver)",
	"services.*.build.cache_from":                      "berth's builder imports no external build cache (registry, local or other cache types); its own step cache lasts across builds",
	"services.*.logging.options.*": "the json-file and local drivers take no other option (Docker: unknown log opt); they take max-size, max-file, mode, max-buffer-size, compress, " +
		"and json-file labels, labels-regex, env, env-regex, tag",
}

// allFields is the table CheckSupported walks: what berth runs, what it
// ignores and what it refuses, for services and, derived, for jobs.
func allFields() map[string]valueCheck {
	out := maps.Clone(supportedFields)
	for k := range ignoredFields {
		out[k] = nil
	}
	for k, why := range refusedFields {
		out[k] = refuse(why)
	}
	maps.Copy(out, jobFields(out)) // a job's container attributes are a service's (jobs.go)
	return out
}

// issueNotSupported is the Issue of a FieldError for an attribute berth
// does not run yet.
const issueNotSupported = "not supported by berth yet"

// valueCheck returns why a value of an allowed attribute is not supported,
// or "" when it is.
type valueCheck func(v any) string

// oneOf accepts the given string values only.
func oneOf(allowed ...string) valueCheck {
	return func(v any) string {
		if s, ok := v.(string); ok && slices.Contains(allowed, s) {
			return ""
		}
		quoted := make([]string, len(allowed))
		for i, a := range allowed {
			quoted[i] = strconv.Quote(a)
		}
		return fmt.Sprintf("%s is %s (supported: %s)", describe(v), issueNotSupported, strings.Join(quoted, ", "))
	}
}

// refuse rejects any value of an attribute that cannot apply on one Linux
// host, saying why.
func refuse(reason string) valueCheck {
	return func(any) string { return "not supported: " + reason }
}

// isTrue accepts true only.
func isTrue(v any) string {
	if b, ok := v.(bool); ok && b {
		return ""
	}
	return fmt.Sprintf("%s is %s (supported: true)", describe(v), issueNotSupported)
}

// entitlements accepts the entitlements berth's builder grants:
// network.host and security.insecure.
func entitlements(v any) string {
	list, _ := v.([]any)
	for _, e := range list {
		if s, _ := e.(string); s != "network.host" && s != "security.insecure" {
			return fmt.Sprintf("%s is %s (supported: \"network.host\", \"security.insecure\")", describe(e), issueNotSupported)
		}
	}
	return ""
}

// additionalContext accepts the named build contexts berth's builder
// reads: a directory, an image and another service's image.
func additionalContext(v any) string {
	s, _ := v.(string)
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "docker-image://") || strings.HasPrefix(s, ServiceContextPrefix) {
		return ""
	}
	return fmt.Sprintf("%s is %s (supported: a directory, \"docker-image://REF\", \"service:NAME\")", describe(v), issueNotSupported)
}

// hostPlatform accepts a platform this host runs: linux and its own
// architecture, in any spelling Docker accepts (amd64 or x86_64, arm64 or
// aarch64, a variant after it).
func hostPlatform(v any) string {
	s, _ := v.(string)
	if hostplatform.Is(s) {
		return ""
	}
	return fmt.Sprintf("%s is not this host's platform (%s): berth runs no emulation", describe(v), hostplatform.String())
}

// pullPolicy accepts the pull policies berth runs: always, missing (and
// if_not_present), never, build, and refresh with its spellings daily,
// weekly and every_<duration>.
func pullPolicy(v any) string {
	s, _ := v.(string)
	switch {
	case slices.Contains([]string{types.PullPolicyAlways, types.PullPolicyMissing, types.PullPolicyIfNotPresent, types.PullPolicyNever,
		types.PullPolicyBuild, types.PullPolicyRefresh, "daily", "weekly"}, s):
		return ""
	case strings.HasPrefix(s, "every_"):
		var sc types.ServiceConfig
		sc.PullPolicy = s
		if _, _, err := sc.GetPullPolicy(); err == nil {
			return ""
		}
	}
	return fmt.Sprintf("%s is not a pull policy berth runs (supported: always, missing, never, build, refresh, daily, weekly, every_<duration>)", describe(v))
}

// restartPolicy accepts the policies the shim applies: no, always,
// unless-stopped, on-failure and on-failure:N.
func restartPolicy(v any) string {
	s, _ := v.(string)
	name, n, hasN := strings.Cut(s, ":")
	switch {
	case !hasN && slices.Contains([]string{types.RestartPolicyNo, types.RestartPolicyAlways, types.RestartPolicyUnlessStopped, types.RestartPolicyOnFailure}, name):
		return ""
	case hasN && name == types.RestartPolicyOnFailure:
		if i, err := strconv.Atoi(n); err == nil && i >= 0 {
			return ""
		}
	}
	return fmt.Sprintf("%s is not a restart policy berth runs (supported: no, always, on-failure[:N], unless-stopped)", describe(v))
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// fieldRule is a node of the allowlist tree compiled from supportedFields.
type fieldRule struct {
	check    valueCheck
	children map[string]*fieldRule // by key, "*" or "[]"; none: anything below is accepted
}

// supportedTree is compiled when a load first needs it, not in every
// berth process's initialisation.
var supportedTree = sync.OnceValue(func() *fieldRule { return compileRules(allFields()) })

func compileRules(table map[string]valueCheck) *fieldRule {
	root := &fieldRule{}
	for pattern, check := range table {
		r := root
		for _, part := range splitPath(pattern) {
			if r.children == nil {
				r.children = map[string]*fieldRule{}
			}
			next := r.children[part]
			if next == nil {
				next = &fieldRule{}
				r.children[part] = next
			}
			r = next
		}
		r.check = check
	}
	return root
}

// CheckSupported returns every attribute the project sets that berth does
// not run yet, as FieldErrors sorted by path and joined with errors.Join;
// each wraps errdefs.ErrNotImplemented. It returns nil when berth runs the
// whole project. Commands that create containers call it; `berth config`
// does not. A project loaded with NoInterpolate cannot be checked.
func (p *Project) CheckSupported() error {
	if p.config == nil && p.model != nil {
		return fmt.Errorf("project %q was loaded without interpolation and cannot be checked: %w", p.Name, errdefs.ErrFailedPrecondition)
	}
	errs := make([]error, 0, len(p.unsupported))
	for _, fe := range p.unsupported {
		errs = append(errs, fe)
	}
	return errors.Join(errs...)
}

// unsupported lists the attributes of cp outside the allowlist, the way
// nerdctl's UnknownNonEmptyFields does: each enabled service, network and
// volume is marshalled to a map and walked against supportedTree. Empty
// values are dropped first, as compose-go fills some in (an empty ipam, an
// empty bind), so only values a user wrote count.
func (l *loader) unsupported(cp *types.Project) ([]FieldError, error) {
	root := map[string]any{
		"services": marshallableServices(cp.Services),
		"networks": cp.Networks,
		"volumes":  cp.Volumes,
		"secrets":  cp.Secrets,
		"configs":  cp.Configs,
		"models":   cp.Models,
		"jobs":     cp.Jobs,
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("project %q: %w", cp.Name, err)
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, fmt.Errorf("project %q: %w", cp.Name, err)
	}
	tree, _ = pruneEmpty(tree)

	var out []FieldError
	walkSupported(tree, supportedTree(), "", func(path, issue string) {
		out = append(out, FieldError{File: l.fileSetting(path), Path: path, Issue: issue, Err: errdefs.ErrNotImplemented})
	})
	slices.SortFunc(out, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.File, b.File))
	})
	return out, nil
}

func walkSupported(v any, r *fieldRule, path string, report func(path, issue string)) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			p := joinPath(path, k)
			child := r.children[k]
			if child == nil {
				child = r.children["*"]
			}
			if child == nil {
				report(p, issueNotSupported)
				continue
			}
			checkField(v[k], child, p, report)
		}
	case []any:
		child := r.children["[]"]
		for i, e := range v {
			p := fmt.Sprintf("%s[%d]", path, i)
			if child == nil {
				report(p, issueNotSupported)
				continue
			}
			checkField(e, child, p, report)
		}
	}
}

func checkField(v any, r *fieldRule, path string, report func(path, issue string)) {
	if r.check != nil {
		if issue := r.check(v); issue != "" {
			report(path, issue)
			return
		}
	}
	if len(r.children) > 0 {
		walkSupported(v, r, path, report)
	}
}

// pruneEmpty drops nulls, empty mappings and empty lists, recursively. It
// reports whether v itself is empty.
func pruneEmpty(v any) (any, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case map[string]any:
		for k, e := range v {
			pruned, empty := pruneEmpty(e)
			if empty {
				delete(v, k)
				continue
			}
			v[k] = pruned
		}
		return v, len(v) == 0
	case []any:
		out := v[:0]
		for _, e := range v {
			// keep list positions stable for the paths reported
			pruned, _ := pruneEmpty(e)
			out = append(out, pruned)
		}
		return out, len(out) == 0
	}
	return v, false
}

// marshallableServices returns services with what compose-go cannot
// marshal to JSON replaced by an equivalent it can: an SSH key with a path
// (build.ssh: ["id=path"]) marshals to invalid JSON, so keys become
// id-only entries named "id=path", which the support check reads the same.
func marshallableServices(in types.Services) types.Services {
	out := make(types.Services, len(in))
	for name, s := range in {
		if s.Build != nil && len(s.Build.SSH) > 0 {
			b := *s.Build
			b.SSH = make(types.SSHConfig, len(s.Build.SSH))
			for i, k := range s.Build.SSH {
				b.SSH[i] = types.SSHKey{ID: k.ID}
				if k.Path != "" {
					b.SSH[i].ID = k.ID + "=" + k.Path
				}
			}
			s.Build = &b
		}
		out[name] = s
	}
	return out
}
