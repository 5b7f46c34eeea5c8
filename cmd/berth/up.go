package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

type upOptions struct {
	attachOptions
	imageFlags
	detach             bool
	wait               bool
	watch              bool
	scale              []string
	pull               string
	alwaysRecreateDeps bool
	renewAnonVolumes   bool
	waitTimeout        int
	forceRecreate      bool
	noRecreate         bool
	noStart            bool
	noDeps             bool
	removeOrphans      bool
	timeout            int
}

func newUpCommand(g *globalOptions) *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "up [OPTIONS] [SERVICE...]",
		Short: "Create and start containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUp(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.detach, "detach", "d", false, "run containers in the background")
	f.BoolVar(&o.forceRecreate, "force-recreate", false, "recreate containers even if their configuration has not changed")
	f.BoolVar(&o.noRecreate, "no-recreate", false, "do not recreate containers that exist")
	f.BoolVar(&o.noStart, "no-start", false, "create but do not start")
	f.BoolVar(&o.noDeps, "no-deps", false, "do not start linked services")
	f.BoolVar(&o.removeOrphans, "remove-orphans", false, "remove containers for services not defined in the Compose file")
	f.IntVarP(&o.timeout, "timeout", "t", -1, "shutdown timeout in seconds when containers are replaced")
	f.BoolVar(&o.wait, "wait", false, "wait for services to be running|healthy; implies detached mode")
	f.IntVar(&o.waitTimeout, "wait-timeout", 0, "maximum duration in seconds to wait for the project to be running|healthy")
	f.BoolVar(&o.alwaysRecreateDeps, "always-recreate-deps", false, "recreate dependent containers; incompatible with --no-recreate")
	f.BoolVarP(&o.renewAnonVolumes, "renew-anon-volumes", "V", false, "recreate anonymous volumes instead of retrieving data from the previous containers")
	f.StringVar(&o.pull, "pull", "", `pull image before running: "always", "missing", "never"`)
	f.StringArrayVar(&o.scale, "scale", nil, "scale SERVICE to NUM instances; overrides the scale setting in the Compose file")
	f.BoolVarP(&o.watch, "watch", "w", false, "watch the Compose and env files and converge on every change")
	o.attachOptions.bind(f)
	o.imageFlags.bind(f, true)
	f.BoolVar(&o.quietBuild, "quiet-build", false, "suppress the build output")
	return cmd
}

func runUp(ctx context.Context, g *globalOptions, o upOptions, services []string) error {
	if err := o.imageFlags.check(); err != nil {
		return err
	}
	if o.quietPull && g.progress == "" {
		g.progress = "quiet"
	}
	if o.wait {
		o.detach = true
	}
	if err := o.attachOptions.check(o.detach); err != nil {
		return err
	}
	if o.alwaysRecreateDeps && o.noRecreate {
		return fmt.Errorf("--always-recreate-deps and --no-recreate are incompatible")
	}
	if o.forceRecreate && o.noRecreate {
		return fmt.Errorf("--force-recreate and --no-recreate are incompatible")
	}
	p, err := g.loadRunnable(ctx, services...)
	if err != nil {
		return err
	}
	if err := checkJobs(g, p); err != nil {
		return err
	}
	if err := applyScale(p, o.scale); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	sink, err := g.newSink()
	if err != nil {
		return err
	}
	opt := reconciler.Options{
		Mode: reconciler.ModeUp, Services: services, NoDeps: o.noDeps,
		ForceRecreate: o.forceRecreate, NoRecreate: o.noRecreate, NoStart: o.noStart,
		RemoveOrphans: o.removeOrphans, Timeout: timeoutFlag(o.timeout), Wait: o.wait, Pull: o.pull,
		AlwaysRecreateDeps: o.alwaysRecreateDeps, RenewAnonVolumes: o.renewAnonVolumes,
		Build: o.imageFlags.buildPolicy(),
	}
	if o.wait && o.waitTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(o.waitTimeout)*time.Second,
			fmt.Errorf("--wait-timeout of %ds expired", o.waitTimeout))
		defer cancel()
	}
	if err := converge(ctx, g, a, p, opt, g.dryRun, sink); err != nil {
		return err
	}
	if g.dryRun {
		return nil
	}
	if o.watch {
		opt.RemoveOrphans = true
		if o.detach {
			return watchProject(ctx, g, a, p, opt, sink, nil, watchOptions{})
		}
		// In the foreground the services' logs stream while the watch
		// goes on, following the containers each converge makes.
		logs := newLiveLogs(g, a, p.Name, o.attachOptions)
		logs.start()
		werr := watchProject(ctx, g, a, p, opt, sink, logs.changed, watchOptions{})
		// Ending the watch stops the project, as up does; the logs end
		// with the containers.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		err := errors.Join(werr, stopProject(stopCtx, g, a, p))
		logs.stop(2 * time.Second)
		return err
	}
	if o.detach {
		return nil
	}
	return attach(ctx, g, a, p, o.attachOptions, services)
}

// converge runs observe → plan → apply for project p under its lock.
func converge(ctx context.Context, g *globalOptions, a *app, p *spec.Project, opt reconciler.Options, dryRun bool, sink reconciler.EventSink) error {
	return runPlan(ctx, g, a, p.Name, p, opt, dryRun, sink)
}

// runPlan converges the project called name through the reconciler for
// opt (it takes the project lock); p may be nil when the project is known
// by name only. The plan's warnings go to stderr; with dryRun the plan goes
// to stdout and nothing changes.
func runPlan(ctx context.Context, g *globalOptions, a *app, name string, p *spec.Project, opt reconciler.Options, dryRun bool, sink reconciler.EventSink) error {
	_, err := reconciler.Converge(ctx, a.deps(), name, p, opt, reconciler.ApplyOptions{
		Parallel: g.parallelLimit(), Sink: sink, DryRun: dryRun,
		OnPlan: func(plan *reconciler.Plan) {
			for _, w := range plan.Warnings {
				fmt.Fprintln(g.stderr, "WARN "+w)
			}
			if dryRun {
				fmt.Fprint(g.stdout, plan.String())
			}
		},
	})
	return err
}

// parallelLimit is --parallel, else COMPOSE_PARALLEL_LIMIT; 0 means no limit.
func (g *globalOptions) parallelLimit() int {
	if g.parallel > 0 {
		return g.parallel
	}
	n, err := strconv.Atoi(os.Getenv("COMPOSE_PARALLEL_LIMIT"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func timeoutFlag(seconds int) *time.Duration {
	if seconds < 0 {
		return nil
	}
	d := time.Duration(seconds) * time.Second
	return &d
}

// applyScale sets the services' replica counts from --scale SERVICE=NUM.
func applyScale(p *spec.Project, flags []string) error {
	for _, f := range flags {
		name, num, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 {
			return fmt.Errorf("--scale %q: want SERVICE=NUM: %w", f, errdefs.ErrInvalidArgument)
		}
		i := slices.IndexFunc(p.Services, func(s spec.Service) bool { return s.Name == name })
		if i < 0 {
			return fmt.Errorf("--scale %q: no such service: %s: %w", f, name, errdefs.ErrNotFound)
		}
		p.Services[i].Scale = n
	}
	return nil
}

// checkJobs does with the project's jobs what docker compose up does: it
// refuses scheduled jobs, which nothing would fire, and says that the
// others wait for `run`.
func checkJobs(g *globalOptions, p *spec.Project) error {
	if err := p.CheckSchedules(); err != nil {
		return err
	}
	if len(p.Jobs) == 0 {
		return nil
	}
	names := make([]string, len(p.Jobs))
	for i, j := range p.Jobs {
		names[i] = j.Name
	}
	fmt.Fprintf(g.stderr, "WARN jobs are not started by up; run them with `berth run JOB`: %s\n", strings.Join(names, ", "))
	return nil
}
