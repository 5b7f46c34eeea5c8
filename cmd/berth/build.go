package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/internal/hostplatform"
)

// imageBuildOptions are `berth image build`'s flags, as docker build's.
type imageBuildOptions struct {
	tags      []string
	file      string
	buildArgs []string
	target    string
	noCache   bool
	labels    []string
	network   string
	secrets   []string
	ssh       []string
	allow     []string
	pull      bool
	iidfile   string
	progress  string
	quiet     bool
	platform  string
	cacheFrom []string
	isolation string
	squash    bool
	// run are the settings of RUN steps' containers docker build shares
	// with docker run (--add-host, --memory, --ulimit, …), bound to the
	// fields of docker run's flags so that both parse them alike.
	run runtimeFlags
	// Accepted with no effect, as their help says.
	rm, forceRm, compress, disableContentTrust bool
}

func newImageBuildCommand(g *globalOptions) *cobra.Command {
	var o imageBuildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageBuild(cmd.Context(), g, o, args[0])
		},
	}
	o.bind(cmd.Flags())
	return cmd
}

func (o *imageBuildOptions) bind(f *pflag.FlagSet) {
	f.StringArrayVarP(&o.tags, "tag", "t", nil, "name and optionally a tag (name:tag)")
	f.StringVarP(&o.file, "file", "f", "", "name of the Dockerfile (default: PATH/Dockerfile; - reads it from stdin)")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "set a build-time variable (KEY=VALUE, or KEY to take it from the environment)")
	f.StringVar(&o.target, "target", "", "the build stage to build")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use the cache when building the image")
	f.StringArrayVar(&o.labels, "label", nil, "set a metadata label on the image (KEY=VALUE)")
	f.StringVar(&o.network, "network", "default", "the network of RUN instructions: default, none or host")
	f.StringArrayVar(&o.secrets, "secret", nil, "a secret RUN --mount=type=secret can mount: id=ID[,src=PATH|env=VAR]")
	f.StringArrayVar(&o.ssh, "ssh", nil, "an SSH agent RUN --mount=type=ssh can use: default|ID[=SOCKET]")
	f.StringArrayVar(&o.allow, "allow", nil, "an extra privilege for RUN steps: network.host or security.insecure")
	f.BoolVar(&o.pull, "pull", false, "always attempt to pull a newer version of the FROM images")
	f.StringVar(&o.iidfile, "iidfile", "", "write the image ID to the file")
	f.StringVar(&o.progress, "progress", "auto", "progress output: auto, plain, tty or quiet")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "suppress the build output and print the image ID on success")
	f.StringVar(&o.platform, "platform", "", "the platform to build for: the host's only ("+hostplatform.String()+"), berth runs no emulation")
	f.StringArrayVar(&o.cacheFrom, "cache-from", nil, "not supported: berth's builder imports no external build cache; its own step cache lasts across builds")
	f.StringVar(&o.isolation, "isolation", "", "container isolation technology: default only")
	f.BoolVar(&o.squash, "squash", false, "squash the layers the last stage makes into one layer over its base")
	o.bindRunFlags(f)
	f.BoolVar(&o.rm, "rm", true, "remove intermediate containers after a successful build (berth always removes RUN containers, whatever the outcome)")
	f.BoolVar(&o.forceRm, "force-rm", false, "always remove intermediate containers (berth always does)")
	f.BoolVar(&o.compress, "compress", false, "compress the build context (no effect: berth reads the context locally)")
	f.BoolVar(&o.disableContentTrust, "disable-content-trust", true, "skip image verification (no effect: berth verifies no signatures)")
}

// bindRunFlags binds docker build's flags for RUN steps' containers to
// the fields docker run's flags use.
func (o *imageBuildOptions) bindRunFlags(f *pflag.FlagSet) {
	r := &o.run
	f.StringArrayVar(&r.addHosts, "add-host", nil, "add a custom host-to-IP mapping (host:ip) to RUN steps' /etc/hosts")
	f.StringVar(&r.shmSize, "shm-size", "", "size of /dev/shm of RUN steps")
	f.StringArrayVar(&r.ulimits, "ulimit", nil, "ulimit options of RUN steps (NAME=SOFT[:HARD])")
	f.StringVarP(&r.memory, "memory", "m", "", "memory limit of RUN steps")
	f.StringVar(&r.memSwap, "memory-swap", "", "swap limit of RUN steps, equal to memory plus swap: -1 to enable unlimited swap")
	f.Int64VarP(&r.cpuShares, "cpu-shares", "c", 0, "CPU shares of RUN steps (relative weight)")
	f.Int64Var(&r.cpuPeriod, "cpu-period", 0, "limit the CPU CFS (Completely Fair Scheduler) period of RUN steps")
	f.Int64Var(&r.cpuQuota, "cpu-quota", 0, "limit the CPU CFS (Completely Fair Scheduler) quota of RUN steps")
	f.StringVar(&r.cpusetCpus, "cpuset-cpus", "", "CPUs in which RUN steps may run (0-3, 0,1)")
	f.StringVar(&r.cpusetMems, "cpuset-mems", "", "MEMs in which RUN steps may run (0-3, 0,1)")
	f.StringVar(&r.cgroupParent, "cgroup-parent", "", "parent cgroup of RUN steps' containers")
	f.StringArrayVar(&r.securityOpts, "security-opt", nil, "security options of RUN steps (no-new-privileges, seccomp=unconfined|FILE, apparmor=unconfined, label=disable)")
}

// apply sets opt's settings of RUN steps' containers from the flags,
// parsed and checked as docker run's are.
func (o *imageBuildOptions) applyRunFlags(opt *build.Options) error {
	if o.isolation != "" && o.isolation != "default" {
		return fmt.Errorf("--isolation=%s: want default (berth's containers are Linux namespaces only): %w", o.isolation, errdefs.ErrInvalidArgument)
	}
	if len(o.cacheFrom) > 0 {
		return fmt.Errorf("--cache-from %s: berth's builder imports no external build cache (registry, local or other cache types); its own step cache lasts across builds: %w",
			o.cacheFrom[0], errdefs.ErrNotImplemented)
	}
	var c engine.ContainerConfig
	for _, step := range []func(*engine.ContainerConfig) error{o.run.applyResources, o.run.cgroupFlags.apply, o.run.applyNetwork} {
		if err := step(&c); err != nil {
			return err
		}
	}
	opt.ExtraHosts, opt.ShmSize, opt.Ulimits = c.ExtraHosts, c.ShmSize, c.Ulimits
	opt.Resources, opt.CgroupParent, opt.SecurityOpt = c.Resources, c.CgroupParent, o.run.securityOpts
	opt.Platform, opt.Squash = o.platform, o.squash
	return nil
}

func runImageBuild(ctx context.Context, g *globalOptions, o imageBuildOptions, contextDir string) error {
	opt := build.Options{ContextDir: contextDir, Dockerfile: o.file, Tags: o.tags, Target: o.target,
		NoCache: o.noCache, Network: o.network, Pull: o.pull, Allow: o.allow}
	switch o.network {
	case "", "default", "none", "host":
	default:
		return fmt.Errorf("--network=%s: want default, none or host: %w", o.network, errdefs.ErrInvalidArgument)
	}
	for _, a := range o.allow {
		if a != build.AllowNetworkHost && a != build.AllowSecurityInsecure {
			return fmt.Errorf("--allow=%s: want %s or %s: %w", a, build.AllowNetworkHost, build.AllowSecurityInsecure, errdefs.ErrInvalidArgument)
		}
	}
	if o.file == "-" {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			return fmt.Errorf("read the Dockerfile from stdin: %w", err)
		}
		opt.DockerfileContent = data
	}
	if err := o.applyRunFlags(&opt); err != nil {
		return err
	}
	var err error
	if opt.BuildArgs, err = buildArgs(o.buildArgs); err != nil {
		return err
	}
	if opt.Labels, err = keyValues("label", o.labels); err != nil {
		return err
	}
	if opt.Secrets, err = buildSecrets(o.secrets, os.LookupEnv); err != nil {
		return err
	}
	if opt.SSH, err = buildSSH(o.ssh, os.LookupEnv); err != nil {
		return err
	}
	switch o.progress {
	case "auto", "plain", "tty", "quiet":
	default:
		return fmt.Errorf("--progress=%s: want auto, plain, tty or quiet: %w", o.progress, errdefs.ErrInvalidArgument)
	}
	quiet := o.quiet || o.progress == "quiet"
	mode := o.progress
	if quiet {
		mode = "quiet"
	}
	prog, err := g.newBuildProgress(mode)
	if err != nil {
		return err
	}
	opt.Events = prog.events()
	a, err := g.open()
	if err != nil {
		return err
	}
	res, err := a.builder.Build(ctx, opt)
	prog.end(res)
	if err != nil {
		var se *build.StepError
		if errors.As(err, &se) && quiet {
			// The output was not shown: the step's last lines say why.
			for _, l := range se.Tail {
				fmt.Fprintln(g.stderr, l)
			}
		}
		return err
	}
	if o.iidfile != "" {
		if err := os.WriteFile(o.iidfile, []byte(res.ImageID), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if quiet {
		fmt.Fprintln(g.stdout, res.ImageID)
	}
	return nil
}

// buildArgs parses --build-arg KEY=VALUE flags; a bare KEY takes the
// environment's value, and is left out when the environment has none.
func buildArgs(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("--build-arg %q: want KEY=VALUE: %w", kv, errdefs.ErrInvalidArgument)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}
