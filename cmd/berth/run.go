package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

type runOptions struct {
	detach       bool
	rm           bool
	noDeps       bool
	name         string
	entrypoint   string
	env          []string
	user         string
	workdir      string
	noTTY        bool
	interactive  bool
	labels       []string
	servicePorts bool
	publish      []string
	volumes      []string
	useAliases   bool
	capAdd       []string
	capDrop      []string
	tty          bool
	envFiles     []string
	pull         string
	quiet        bool
	removeOrph   bool
	imageFlags
}

func newRunCommand(g *globalOptions) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE|JOB [COMMAND] [ARGS...]",
		Short: "Run a one-off command on a service, or run a job",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), g, o, args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after SERVICE belong to the command
	f.BoolVarP(&o.detach, "detach", "d", false, "run container in background and print container ID")
	f.BoolVar(&o.rm, "rm", false, "automatically remove the container when it exits")
	f.BoolVar(&o.noDeps, "no-deps", false, "don't start linked services")
	f.StringVar(&o.name, "name", "", "assign a name to the container")
	f.StringVar(&o.entrypoint, "entrypoint", "", "override the entrypoint of the image")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set environment variables")
	f.StringVarP(&o.user, "user", "u", "", "run as specified username or uid")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.BoolVarP(&o.noTTY, "no-tty", "T", false, "disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&o.interactive, "interactive", "i", true, "keep STDIN open even if not attached")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "add or override a label")
	f.BoolVarP(&o.servicePorts, "service-ports", "P", false, "run command with all the service's ports enabled and mapped to the host")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a container's port(s) to the host")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount a volume")
	f.BoolVar(&o.useAliases, "use-aliases", false, "use the service's network aliases in the network(s) the container connects to")
	f.StringArrayVar(&o.capAdd, "cap-add", nil, "add Linux capabilities")
	f.StringArrayVar(&o.capDrop, "cap-drop", nil, "drop Linux capabilities")
	f.StringArrayVar(&o.envFiles, "env-from-file", nil, "set environment variables from file")
	f.StringVar(&o.pull, "pull", "policy", `pull image before running ("always"|"missing"|"never"|"policy": the service's pull_policy)`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "don't print anything to STDOUT")
	f.BoolVar(&o.removeOrph, "remove-orphans", false, "remove containers for services not defined in the Compose file")
	f.BoolVar(&o.quietBuild, "quiet-build", false, "suppress progress output from the build process")
	o.imageFlags.bind(f, false)
	// As docker compose: -t is accepted (and on by default), so that
	// `run -it` works as with docker run; a terminal still needs one.
	f.BoolVarP(&o.tty, "tty", "t", true, "allocate a pseudo-TTY")
	_ = f.MarkHidden("tty")
	oldSpellings(f, map[string]string{"no-TTY": "no-tty", "volumes": "volume", "labels": "label"})
	return cmd
}

func runRun(ctx context.Context, g *globalOptions, o runOptions, service string, command []string) (retErr error) {
	if err := o.imageFlags.check(); err != nil {
		return err
	}
	pull := o.pull
	switch pull {
	case "policy":
		pull = ""
	case "always", "missing", "never":
	default:
		return fmt.Errorf(`--pull %q: want "always", "missing", "never" or "policy": %w`, o.pull, errdefs.ErrInvalidArgument)
	}
	env, err := envFromFiles("env-from-file", o.envFiles)
	if err != nil {
		return err
	}
	o.env = append(env, o.env...)
	if o.quiet {
		g.stdout = io.Discard
	}
	p, err := g.loadRunnable(ctx, service)
	if err != nil {
		return err
	}
	if _, isJob := p.Job(service); isJob {
		// A job runs as a one-off of a service would, as with docker compose run.
		if p, err = p.WithJob(service); err != nil {
			return err
		}
	}
	s, ok := p.Service(service)
	if !ok {
		return fmt.Errorf("no such service: %s: %w", service, errdefs.ErrNotFound)
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	cfg, err := oneOffConfig(p, &s, o, command)
	if err != nil {
		return err
	}
	// As docker compose run: a terminal when the caller has one (not with
	// -T), and stdin kept open and attached (-i, the default).
	cfg.Tty = !o.detach && o.tty && !o.noTTY && isTerminal(os.Stdin) && isTerminal(g.stdout)
	cfg.OpenStdin = !o.detach && o.interactive
	// Detached, the shim removes the container once it exits; in the
	// foreground this command does, with its anonymous volumes, and the
	// next sweep when this command is killed first.
	cfg.AutoRemove = o.rm
	if o.rm && !o.detach {
		if cfg.AutoRemoveOwner, err = engine.Self(); err != nil {
			return err
		}
	}
	// Progress of the dependencies, not of the one-off itself.
	var next reconciler.EventSink = &plainSink{w: g.stderr}
	if o.quietPull {
		next = quietSink{}
	}
	sink := oneOffSink{name: cfg.Name, next: next}
	err = runPlan(ctx, g, a, p.Name, p, reconciler.Options{
		Mode: reconciler.ModeRun, NoDeps: o.noDeps, OneOff: &reconciler.OneOff{Service: s.Name, Config: cfg},
		Pull: pull, RemoveOrphans: o.removeOrph, Build: o.imageFlags.buildPolicy(),
	}, false, sink)
	if err != nil {
		// Nothing is left of a one-off that could not start.
		return errors.Join(err, removeOneOff(ctx, g, a, p, cfg.Name))
	}
	c, err := a.engine.Get(ctx, cfg.Name)
	if err != nil {
		return err
	}
	if o.detach {
		// Docker Compose starts it as `docker start` does, which prints
		// the container's ID.
		fmt.Fprintln(g.stdout, c.ID)
		return nil
	}
	if o.rm {
		defer func() { retErr = errors.Join(retErr, removeOneOff(ctx, g, a, p, cfg.Name)) }()
	}
	var code int
	if cfg.Tty {
		code, err = attachToExit(ctx, g, a, c, o.interactive, true)
	} else {
		if cfg.OpenStdin {
			go feedStdin(ctx, a, c.ID)
		}
		code, err = followToExit(ctx, g, a, c)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// removeOneOff removes the one-off container called name and its
// anonymous volumes, as docker compose run --rm does, even after Ctrl-C.
func removeOneOff(ctx context.Context, g *globalOptions, a *app, p *spec.Project, name string) error {
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return runPlan(rmCtx, g, a, p.Name, p, reconciler.Options{
		Mode: reconciler.ModeRemove, Containers: []string{name}, Force: true, RemoveVolumes: true,
	}, false, quietSink{})
}

// oneOffSink passes on the events of a run's plan but those of the one-off
// container and its anonymous volumes.
type oneOffSink struct {
	name string
	next reconciler.EventSink
}

func (s oneOffSink) Event(e reconciler.Event) {
	if e.Target == "container/"+s.name || strings.HasPrefix(e.Target, "volume/"+reconciler.OneOffVolumePrefix) {
		return
	}
	s.next.Event(e)
}

// oneOffConfig is the service's container config turned into a one-off
// container's with the command line's changes, as docker compose run makes
// it.
func oneOffConfig(p *spec.Project, s *spec.Service, o runOptions, command []string) (engine.ContainerConfig, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("%s-%s-run-%s", p.Name, s.Name, hex.EncodeToString(b[:]))
	if o.name != "" {
		name = o.name
	}
	cfg, err := reconciler.OneOffConfig(p, s, name, o.servicePorts, o.useAliases)
	if err != nil {
		return cfg, err
	}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		cfg.Labels[k] = v
	}
	if len(command) > 0 {
		cfg.Cmd = command
	}
	if o.entrypoint != "" {
		cfg.Entrypoint = []string{o.entrypoint}
		if len(command) == 0 {
			cfg.Cmd = []string{}
		}
	}
	cfg.Env = append(append([]string(nil), cfg.Env...), o.env...)
	if o.user != "" {
		cfg.User = o.user
	}
	if o.workdir != "" {
		cfg.WorkingDir = o.workdir
	}
	cfg.CapAdd = append(cfg.CapAdd, o.capAdd...)
	cfg.CapDrop = append(cfg.CapDrop, o.capDrop...)
	published, err := parsePublishes(o.publish)
	if err != nil {
		return cfg, err
	}
	cfg.Ports = append(cfg.Ports, published...)
	if len(cfg.Ports) > 0 && cfg.NetworkMode != "" {
		return cfg, fmt.Errorf("service %q: network_mode %q: ports cannot be published: %w", s.Name, cfg.NetworkMode, errdefs.ErrInvalidArgument)
	}
	for _, v := range o.volumes {
		m, err := parseVolumeFlag(v)
		if err != nil {
			return cfg, err
		}
		if m.Type == "volume" {
			// A volume of the project is named by its key, as in the file.
			if i := slices.IndexFunc(p.Volumes, func(v spec.Volume) bool { return v.Key == m.Source }); i >= 0 {
				m.Source = p.Volumes[i].Name
			}
		}
		cfg.Mounts = append(slices.DeleteFunc(cfg.Mounts, func(x engine.Mount) bool { return x.Target == m.Target }), m)
	}
	return cfg, nil
}

// followToExit streams the container's output to stdout and stderr until it
// exits and returns its exit code. Ctrl-C stops the container.
func followToExit(ctx context.Context, g *globalOptions, a *app, c *engine.Container) (int, error) {
	return followToExitSince(ctx, g, a, c, time.Time{})
}

// followToExitSince is followToExit with the lines written before since
// left out.
func followToExitSince(ctx context.Context, g *globalOptions, a *app, c *engine.Container, since time.Time) (int, error) {
	logCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	logDone := make(chan error, 1)
	go func() {
		logDone <- a.engine.Logs(logCtx, c.ID, engine.LogOptions{Follow: true, Tail: -1, Since: since}, func(l engine.LogLine) error {
			w := g.stdout
			if l.Stream == "stderr" {
				w = g.stderr
			}
			_, err := fmt.Fprintln(w, l.Text)
			return err
		})
	}()
	st, err := a.engine.Wait(ctx, c.ID)
	if ctx.Err() != nil {
		stopCtx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancelStop()
		err = errors.Join(err, a.engine.Stop(stopCtx, c.ID, -1))
		cancel()
		<-logDone
		return 130, err
	}
	if err != nil {
		cancel()
		<-logDone
		return 1, err
	}
	return st.ExitCode, <-logDone
}

// attachToExit attaches the caller (its stdin, its terminal with tty) to
// the container until it exits and returns its exit code. With a terminal,
// Ctrl-C goes to the container through it, as with docker compose run; a
// signal to berth stops the container.
func attachToExit(ctx context.Context, g *globalOptions, a *app, c *engine.Container, stdin, tty bool) (int, error) {
	err := attachTerminal(ctx, a, c.ID, g, stdin, tty)
	if ctx.Err() != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return 130, a.engine.Stop(stopCtx, c.ID, -1)
	}
	if err != nil && !errdefs.IsFailedPrecondition(err) { // not running any more: its code follows
		return 1, err
	}
	st, err := a.engine.Wait(ctx, c.ID)
	if err != nil {
		return 1, err
	}
	return st.ExitCode, nil
}

// feedStdin copies the caller's stdin to the container's until it ends,
// then closes the container's (which sees EOF), as docker compose run -i
// does without a terminal. A container that has already exited needs none.
func feedStdin(ctx context.Context, a *app, id engine.ContainerID) {
	_ = a.engine.Attach(ctx, id, engine.AttachIO{Stdin: os.Stdin, Stdout: io.Discard, Stderr: io.Discard, CloseStdin: true})
}
