package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/errdefs"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reconciler"
)

// composeBuildOptions are docker compose build's flags.
type composeBuildOptions struct {
	buildArgs        []string
	noCache          bool
	quiet            bool
	withDependencies bool
	pull             bool
	ssh              []string
	push             bool
	print            bool
	memory           string
	progress         string
	check            bool
	// Accepted and ignored, as docker compose does: legacy flags of the
	// classic builder.
	compress, forceRm, noRm, parallel bool
}

func newComposeBuildCommand(g *globalOptions) *cobra.Command {
	var o composeBuildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] [SERVICE...]",
		Short: "Build or rebuild services",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runComposeBuild(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "set build-time variables for services")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use cache when building the image")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "suppress the build output")
	f.BoolVar(&o.withDependencies, "with-dependencies", false, "also build dependencies (transitively)")
	f.BoolVar(&o.pull, "pull", false, "always attempt to pull a newer version of the image")
	f.StringArrayVar(&o.ssh, "ssh", nil, "set SSH authentications used when building service images (default, or ID=SOCKET)")
	f.BoolVar(&o.push, "push", false, "push service images")
	f.BoolVar(&o.print, "print", false, "print equivalent bake file")
	f.StringVarP(&o.memory, "memory", "m", "", "set memory limit for the build's RUN steps")
	f.StringVar(&o.progress, "progress", "", "progress output: auto, tty, plain, json, quiet")
	f.BoolVar(&o.check, "check", false, "check build configuration (BuildKit's Dockerfile checks; nothing is built)")
	for _, h := range []struct {
		name string
		dst  *bool
	}{{"compress", &o.compress}, {"force-rm", &o.forceRm}, {"no-rm", &o.noRm}, {"parallel", &o.parallel}} {
		f.BoolVar(h.dst, h.name, false, "ignored (the classic builder's)")
		_ = f.MarkHidden(h.name)
	}
	_ = f.MarkHidden("progress")
	return cmd
}

func runComposeBuild(ctx context.Context, g *globalOptions, o composeBuildOptions, services []string) error {
	if o.check {
		return runBuildCheck(ctx, g, services)
	}
	for _, u := range []struct {
		set  bool
		flag string
	}{{o.push, "--push"}, {o.print, "--print"}} {
		if u.set {
			return fmt.Errorf("build %s: not supported by berth's builder yet: %w", u.flag, errdefs.ErrNotImplemented)
		}
	}
	args, err := buildArgs(o.buildArgs)
	if err != nil {
		return err
	}
	var memory int64
	if o.memory != "" {
		if memory, err = units.RAMInBytes(o.memory); err != nil || memory <= 0 {
			return badFlag("memory", o.memory, "not a size (e.g. 512m, 1g)")
		}
	}
	ssh, err := buildSSH(o.ssh, os.LookupEnv)
	if err != nil {
		return err
	}
	p, err := g.loadRunnable(ctx, services...)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	progress := o.progress
	if progress == "" {
		progress = "plain"
	}
	if o.quiet {
		progress = "quiet"
	}
	sink, err := newSink(progress, g.stderr)
	if err != nil {
		return err
	}
	return runPlan(ctx, g, a, p.Name, p, reconciler.Options{
		Mode: reconciler.ModeBuild, Services: services, NoDeps: !o.withDependencies,
		BuildArgs: args, NoCache: o.noCache, BuildPull: o.pull, BuildSSH: ssh, BuildMemory: memory,
	}, false, sink)
}
