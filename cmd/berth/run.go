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
	"github.com/berth-dev/berth/volmgr"
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
}

func newRunCommand(g *globalOptions) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
		Short: "Run a one-off command on a service",
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
	f.BoolVarP(&o.noTTY, "no-TTY", "T", false, "disable pseudo-TTY allocation")
	f.BoolVarP(&o.interactive, "interactive", "i", true, "keep STDIN open even if not attached")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "add or override a label")
	f.BoolVarP(&o.servicePorts, "service-ports", "P", false, "run command with all the service's ports enabled and mapped to the host")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a container's port(s) to the host")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount a volume")
	f.BoolVar(&o.useAliases, "use-aliases", false, "use the service's network aliases in the network(s) the container connects to")
	f.StringArrayVar(&o.capAdd, "cap-add", nil, "add Linux capabilities")
	f.StringArrayVar(&o.capDrop, "cap-drop", nil, "drop Linux capabilities")
	return cmd
}

func runRun(ctx context.Context, g *globalOptions, o runOptions, service string, command []string) error {
	p, err := g.loadRunnable(ctx)
	if err != nil {
		return err
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
	cfg.Tty = !o.detach && !o.noTTY && isTerminal(os.Stdin) && isTerminal(g.stdout)
	cfg.OpenStdin = !o.detach && o.interactive
	c, err := startOneOff(ctx, g, a, p, &s, o, cfg)
	if err != nil {
		return err
	}
	if o.detach {
		fmt.Fprintln(g.stdout, c.Config.Name)
		return nil
	}
	var code int
	var runErr error
	if cfg.Tty {
		code, runErr = attachToExit(ctx, g, a, c, o.interactive, true)
	} else {
		if cfg.OpenStdin {
			go feedStdin(ctx, a, c.ID)
		}
		code, runErr = followToExit(ctx, g, a, c)
	}
	if o.rm {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		runErr = errors.Join(runErr, a.engine.Remove(rmCtx, c.ID, true))
		// Its anonymous volumes go with it, as with docker compose run --rm.
		for _, m := range c.Config.Mounts {
			if m.Type == "volume" && strings.HasPrefix(m.Source, oneOffVolumePrefix) {
				runErr = errors.Join(runErr, a.volumes.Remove(rmCtx, m.Source))
			}
		}
	}
	if runErr != nil {
		return runErr
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// oneOffConfig is the service's container config turned into a one-off
// container's, as docker compose run makes it.
func oneOffConfig(p *spec.Project, s *spec.Service, o runOptions, command []string) (engine.ContainerConfig, error) {
	cfg, err := reconciler.ContainerConfig(p, s, 1)
	if err != nil {
		return cfg, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg.Name = fmt.Sprintf("%s-%s-run-%s", p.Name, s.Name, hex.EncodeToString(b[:]))
	if o.name != "" {
		cfg.Name = o.name
	}
	cfg.Labels[spec.LabelOneOff] = spec.LabelTrue
	delete(cfg.Labels, spec.LabelContainerNumber)
	for _, l := range o.labels {
		k, v, _ := cutKV(l)
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
	// One-off containers restart never, as with docker compose run.
	cfg.Restart = engine.RestartPolicy{}
	cfg.CapAdd = append(cfg.CapAdd, o.capAdd...)
	cfg.CapDrop = append(cfg.CapDrop, o.capDrop...)
	// The service's ports are the service's: a one-off publishes them only
	// with --service-ports, and -p's own.
	if !o.servicePorts {
		cfg.Ports = nil
	}
	published, err := parsePublishes(o.publish)
	if err != nil {
		return cfg, err
	}
	cfg.Ports = append(cfg.Ports, published...)
	if len(cfg.Ports) > 0 && cfg.NetworkMode != "" {
		return cfg, fmt.Errorf("service %q: network_mode %q: ports cannot be published: %w", s.Name, cfg.NetworkMode, errdefs.ErrInvalidArgument)
	}
	// Nor does it answer to the service's name, unless --use-aliases.
	if !o.useAliases {
		for i := range cfg.Networks {
			cfg.Networks[i].Aliases = nil
		}
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

func cutKV(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// startOneOff brings up the service's dependencies (unless --no-deps) and
// creates and starts the one-off container, under the project lock.
func startOneOff(ctx context.Context, g *globalOptions, a *app, p *spec.Project, s *spec.Service, o runOptions, cfg engine.ContainerConfig) (*engine.Container, error) {
	unlock, err := a.lockProject(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var deps []string
	for _, d := range s.DependsOn {
		deps = append(deps, d.Service)
	}
	if len(deps) > 0 && !o.noDeps {
		observed, err := reconciler.Observe(ctx, a.deps(), p.Name, p)
		if err != nil {
			return nil, err
		}
		plan, err := reconciler.Compute(p, observed, reconciler.Options{Mode: reconciler.ModeUp, Services: deps})
		if err != nil {
			return nil, err
		}
		if err := reconciler.Apply(ctx, a.deps(), plan, g.parallelLimit(), &plainSink{w: g.stderr}); err != nil {
			return nil, err
		}
	} else {
		// The networks and volumes the service uses still have to exist.
		observed, err := reconciler.Observe(ctx, a.deps(), p.Name, p)
		if err != nil {
			return nil, err
		}
		plan, err := reconciler.Compute(p, observed, reconciler.Options{Mode: reconciler.ModeUp, Services: []string{s.Name}, NoDeps: true, NoStart: true})
		if err != nil {
			return nil, err
		}
		if err := reconciler.Apply(ctx, a.deps(), onlyResources(plan), g.parallelLimit(), quietSink{}); err != nil {
			return nil, err
		}
	}
	if err := nameAnonymousVolumes(ctx, a, p, s, &cfg); err != nil {
		return nil, err
	}
	c, err := a.engine.Create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.engine.Start(ctx, c.ID); err != nil {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, a.engine.Remove(rmCtx, c.ID, true))
	}
	return c, nil
}

// onlyResources keeps the network and named volume steps of a plan.
func onlyResources(plan *reconciler.Plan) *reconciler.Plan {
	out := &reconciler.Plan{}
	for _, st := range plan.Steps {
		switch a := st.Action.(type) {
		case reconciler.CreateNetwork:
			out.Steps = append(out.Steps, reconciler.Step{ID: st.ID, Action: a})
		case reconciler.CreateVolume:
			// Named volumes only: the service container's anonymous ones
			// are not the one-off container's.
			if _, anon := a.Labels[volmgr.LabelAnonymous]; !anon {
				out.Steps = append(out.Steps, reconciler.Step{ID: st.ID, Action: a})
			}
		}
	}
	return out
}

// followToExit streams the container's output to stdout and stderr until it
// exits and returns its exit code. Ctrl-C stops the container.
func followToExit(ctx context.Context, g *globalOptions, a *app, c *engine.Container) (int, error) {
	logCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	logDone := make(chan error, 1)
	go func() {
		logDone <- a.engine.Logs(logCtx, c.ID, engine.LogOptions{Follow: true, Tail: -1}, func(l engine.LogLine) error {
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

// oneOffVolumePrefix starts the names of a one-off container's anonymous
// volumes.
const oneOffVolumePrefix = "berth-run-"

// nameAnonymousVolumes gives each anonymous volume of a one-off container a
// new volume of its own, as docker compose run does.
func nameAnonymousVolumes(ctx context.Context, a *app, p *spec.Project, s *spec.Service, cfg *engine.ContainerConfig) error {
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if m.Type != "volume" || m.Source != "" {
			continue
		}
		var b [16]byte
		_, _ = rand.Read(b[:])
		v, err := a.volumes.Create(ctx, oneOffVolumePrefix+hex.EncodeToString(b[:]), map[string]string{
			spec.LabelProject: p.Name, spec.LabelService: s.Name, volmgr.LabelAnonymous: "",
		})
		if err != nil {
			return err
		}
		m.Source = v.Name
	}
	return nil
}
