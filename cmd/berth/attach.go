package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

// attachOptions are up's flags for attached mode.
type attachOptions struct {
	abortOnExit    bool
	abortOnFailure bool
	exitCodeFrom   string
	attach         []string
	noAttach       []string
	timestamps     bool
	noColor        bool
	noLogPrefix    bool
	attachDeps     bool // the logs of the named services' dependencies too
}

func (o *attachOptions) bind(f *pflag.FlagSet) {
	f.BoolVar(&o.abortOnExit, "abort-on-container-exit", false, "stops all containers if any container was stopped")
	f.BoolVar(&o.abortOnFailure, "abort-on-container-failure", false, "stops all containers if any container exited with failure")
	f.StringVar(&o.exitCodeFrom, "exit-code-from", "", "return the exit code of the selected service container; implies --abort-on-container-exit")
	f.StringArrayVar(&o.attach, "attach", nil, "restrict attaching to the specified services")
	f.StringArrayVar(&o.noAttach, "no-attach", nil, "do not attach (stream logs) to the specified services")
	f.BoolVar(&o.timestamps, "timestamps", false, "show timestamps")
	f.BoolVar(&o.noColor, "no-color", false, "produce monochrome output")
	f.BoolVar(&o.noLogPrefix, "no-log-prefix", false, "don't print prefix in logs")
	f.BoolVar(&o.attachDeps, "attach-dependencies", false, "automatically attach to log output of dependent services")
}

func (o *attachOptions) check(detach bool) error {
	if o.exitCodeFrom != "" {
		o.abortOnExit = true
	}
	if detach && (o.abortOnExit || o.abortOnFailure) {
		return fmt.Errorf("--abort-on-container-exit, --abort-on-container-failure and --exit-code-from are incompatible with --detach")
	}
	if o.abortOnExit && o.abortOnFailure {
		return fmt.Errorf("--abort-on-container-exit and --abort-on-container-failure are incompatible")
	}
	return nil
}

// palette is the colours of log prefixes on a terminal, as docker compose cycles them.
var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// attach streams the logs of the project's containers until they have all
// exited, one exits and abort was asked for, or the user interrupts; then the
// project is stopped, as docker compose up does in the foreground.
func attach(ctx context.Context, g *globalOptions, a *app, p *spec.Project, o attachOptions, services []string) error {
	ctrs, err := a.engine.List(ctx, map[string]string{spec.LabelProject: p.Name, spec.LabelOneOff: spec.LabelFalse})
	if err != nil {
		return err
	}
	if o.exitCodeFrom != "" {
		if _, ok := p.Service(o.exitCodeFrom); !ok {
			return fmt.Errorf("--exit-code-from: no such service: %s", o.exitCodeFrom)
		}
	}
	// attach: false in the file keeps a service's logs out, unless
	// --attach names it, as with docker compose.
	for _, s := range p.Services {
		if s.NoAttach && !slices.Contains(o.attach, s.Name) {
			o.noAttach = append(o.noAttach, s.Name)
		}
	}
	if o.attachDeps {
		services = withDependencies(p, services)
	}
	var watched []*engine.Container
	for _, c := range ctrs {
		svc := c.Config.Labels[spec.LabelService]
		if len(services) > 0 && !slices.Contains(services, svc) {
			continue
		}
		watched = append(watched, c)
	}
	colour := !o.noColor && isTerminal(g.stdout)
	width := 0
	for _, c := range watched {
		width = max(width, len(logPrefix(p.Name, c)))
	}
	out := &lockedWriter{w: g.stdout}
	logCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLogs()
	var logs errgroup.Group // every goroutine ends with the container's log, or stopLogs
	exits := make(chan exitEvent, len(watched))
	waitCtx, stopWaits := context.WithCancel(ctx)
	defer stopWaits()
	var waits sync.WaitGroup
	for i, c := range watched {
		svc := c.Config.Labels[spec.LabelService]
		if o.shows(svc) {
			prefix := ""
			if !o.noLogPrefix {
				sgr := ""
				if colour {
					sgr = palette[i%len(palette)]
				}
				prefix = linePrefix(p.Name, c, width, sgr)
			}
			logs.Go(func() error {
				return a.engine.Logs(logCtx, c.ID, engine.LogOptions{Follow: true, Tail: -1}, func(l engine.LogLine) error {
					return out.write(formatLogLine(prefix, o.timestamps, l))
				})
			})
		}
		waits.Go(func() {
			st, err := a.engine.Wait(waitCtx, c.ID)
			exits <- exitEvent{c: c, state: st, err: err}
		})
	}
	aborted, waitErr := o.collect(ctx, g, p, watched, exits)
	stopWaits()
	waits.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(g.stderr, "Gracefully stopping... (press Ctrl+C again to force)")
	}
	// Stop what still runs, even after Ctrl-C: a fresh context with a bound.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := stopProject(stopCtx, g, a, p); err != nil {
		return errors.Join(waitErr, err)
	}
	_ = logs.Wait() // the logs end as the containers stop
	if waitErr != nil {
		return waitErr
	}
	if ctx.Err() != nil {
		return exitError{code: 130}
	}
	code, err := o.exitCode(stopCtx, a, p, aborted)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

type exitEvent struct {
	c     *engine.Container
	state engine.State
	err   error
}

// shows reports whether the logs of service are streamed.
func (o attachOptions) shows(service string) bool {
	if len(o.attach) > 0 && !slices.Contains(o.attach, service) {
		return false
	}
	return !slices.Contains(o.noAttach, service)
}

// collect waits for exits until every container has exited, or one exit
// aborts the project (returned), or ctx is done.
func (o attachOptions) collect(ctx context.Context, g *globalOptions, p *spec.Project, watched []*engine.Container, exits <-chan exitEvent) (*exitEvent, error) {
	for left := len(watched); left > 0; left-- {
		select {
		case <-ctx.Done():
			return nil, nil
		case ev := <-exits:
			if ev.err != nil {
				return nil, ev.err
			}
			fmt.Fprintf(g.stderr, "%s exited with code %d\n", logPrefix(p.Name, ev.c), ev.state.ExitCode)
			if runsToCompletion(p, ev.c.Config.Labels[spec.LabelService]) && ev.state.ExitCode == 0 {
				continue // a one-shot dependency finishing is no reason to abort
			}
			if o.abortOnExit || o.abortOnFailure && ev.state.ExitCode != 0 {
				fmt.Fprintln(g.stderr, "Aborting on container exit...")
				return &ev, nil
			}
		}
	}
	return nil, nil
}

// runsToCompletion reports whether another service waits for service to
// complete successfully.
func runsToCompletion(p *spec.Project, service string) bool {
	for _, s := range p.Services {
		for _, d := range s.DependsOn {
			if d.Service == service && d.Condition == reconciler.ConditionCompleted {
				return true
			}
		}
	}
	return false
}

// exitCode is what up returns once the project is stopped: the code of the
// --exit-code-from service's container, else that of the container whose
// exit aborted the project, else 0.
func (o attachOptions) exitCode(ctx context.Context, a *app, p *spec.Project, aborted *exitEvent) (int, error) {
	if o.exitCodeFrom != "" {
		ctrs, err := a.engine.List(ctx, map[string]string{spec.LabelProject: p.Name, spec.LabelService: o.exitCodeFrom, spec.LabelOneOff: spec.LabelFalse})
		if err != nil {
			return 1, err
		}
		code := 0
		for _, c := range ctrs {
			if c.State.ExitCode != 0 {
				code = c.State.ExitCode
			}
		}
		return code, nil
	}
	if aborted != nil {
		return aborted.state.ExitCode, nil
	}
	return 0, nil
}

// stopProject stops the project's running containers with a stop plan.
func stopProject(ctx context.Context, g *globalOptions, a *app, p *spec.Project) error {
	return runPlan(ctx, g, a, p.Name, p, reconciler.Options{Mode: reconciler.ModeStop}, false, &plainSink{w: g.stderr})
}
