package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
)

// newContainerOpsCommands are the single-container operations beyond ls,
// rm, stop, inspect and logs.
func newContainerOpsCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{
		newContainerCreateCommand(g), newContainerRunCommand(g), newContainerStartCommand(g),
		newContainerRestartCommand(g), newContainerKillCommand(g),
		newContainerPauseCommand(g, true), newContainerPauseCommand(g, false),
		newContainerWaitCommand(g), newContainerTopCommand(g), newContainerExecCommand(g),
		newContainerRenameCommand(g), newContainerUpdateCommand(g),
	}
}

// containerCreateOptions are the flags of create and run.
type containerCreateOptions struct {
	name        string
	env         []string
	volumes     []string
	network     string
	tty         bool
	interactive bool
	user        string
	workdir     string
	restart     string
	labels      []string
	publish     []string
	init        bool
	rm          bool // create: the container is removed once it exits (run sets it itself)
	pull        string
	quiet       bool
	platform    string
	runtimeFlags
}

func (o *containerCreateOptions) bind(cmd *cobra.Command) {
	cmd.Flags().SetInterspersed(false) // flags after IMAGE belong to the command
	o.bindFlags(cmd.Flags())
}

func (o *containerCreateOptions) bindFlags(f *pflag.FlagSet) {
	// -h is --hostname, as with docker: --help has no shorthand here
	// (cobra adds its own -h/--help only when there is no help flag).
	f.Bool("help", false, "print usage")
	f.StringVar(&o.name, "name", "", "assign a name to the container")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount a directory or mount a named volume (SRC:DST[:ro])")
	f.StringVar(&o.network, "network", "", "connect the container to a network")
	f.StringVar(&o.network, "net", "", "connect the container to a network")
	_ = f.MarkHidden("net")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a terminal")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open")
	f.StringVarP(&o.user, "user", "u", "", "user name or UID[:GID]")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVar(&o.restart, "restart", "", "restart policy: no, always, on-failure[:N], unless-stopped")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "set a label (KEY=VALUE)")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a container's port(s) to the host: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")
	f.BoolVar(&o.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	f.StringVar(&o.pull, "pull", "missing", `pull image before creating ("always", "missing", "never")`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "suppress the pull output")
	f.StringVar(&o.platform, "platform", "", "set platform if server is multi-platform capable")
	o.runtimeFlags.bind(f)
}

// config is the engine's configuration of image and command args.
func (o *containerCreateOptions) config(args []string) (engine.ContainerConfig, error) {
	c := engine.ContainerConfig{
		Name: o.name, Image: args[0], Env: o.env, User: o.user, WorkingDir: o.workdir,
		Tty: o.tty, OpenStdin: o.interactive, Labels: map[string]string{}, Init: o.init,
	}
	if len(args) > 1 {
		c.Cmd = args[1:]
	}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		c.Labels[k] = v
	}
	for _, v := range o.volumes {
		m, err := parseVolumeFlag(v)
		if err != nil {
			return c, err
		}
		c.Mounts = append(c.Mounts, m)
	}
	switch n := o.network; {
	case n == "" || n == "bridge" || n == "default":
		// Docker's default bridge, made on demand by the engine.
		c.Networks = []engine.EndpointConfig{{Network: engine.DefaultNetwork}}
	case n == "none" || n == "host" || strings.HasPrefix(n, "container:"):
		c.NetworkMode = n
	default:
		c.Networks = []engine.EndpointConfig{{Network: n}}
	}
	ports, err := parsePublishes(o.publish)
	if err != nil {
		return c, err
	}
	switch {
	case len(ports) == 0:
	case c.NetworkMode == "host":
		// As docker: the container uses the host's ports themselves.
	case c.NetworkMode != "":
		return c, fmt.Errorf("-p %q: --network %s: the container has no network to publish from: %w", o.publish[0], o.network, errdefs.ErrInvalidArgument)
	default:
		c.Ports = ports
	}
	if o.restart != "" {
		p, err := parseRestartPolicy(o.restart)
		if err != nil {
			return c, err
		}
		c.Restart = p
	}
	if o.pull != "" && o.pull != "always" && o.pull != "missing" && o.pull != "never" {
		return c, fmt.Errorf(`--pull %q: want "always", "missing" or "never": %w`, o.pull, errdefs.ErrInvalidArgument)
	}
	if err := o.runtimeFlags.apply(&c); err != nil {
		return c, err
	}
	if o.rm && c.Restart.Name != "" && c.Restart.Name != "no" {
		return c, fmt.Errorf("--rm and --restart %q: conflicting options: %w", o.restart, errdefs.ErrInvalidArgument)
	}
	c.AutoRemove = o.rm
	return c, nil
}

// createContainer creates the container cfg describes (the engine makes
// the named volumes it mounts that do not exist yet, as docker does). A
// warning goes to stderr when -p is ignored (--network host, as docker
// does).
func (o *containerCreateOptions) createContainer(ctx context.Context, g *globalOptions, a *app, cfg engine.ContainerConfig) (*engine.Container, error) {
	if cfg.NetworkMode == "host" && (len(o.publish) > 0 || o.publishAll) {
		fmt.Fprintln(g.stderr, "WARNING: Published ports are discarded when using host network mode")
	}
	if err := o.pullImage(ctx, g, a, cfg.Image); err != nil {
		return nil, err
	}
	exposed, err := o.exposedPorts()
	if err != nil {
		return nil, err
	}
	for _, e := range exposed {
		cfg.ExposedPorts = append(cfg.ExposedPorts, fmt.Sprintf("%d/%s", e.ContainerPort, e.Protocol))
	}
	if o.publishAll && cfg.NetworkMode == "" {
		ports, err := o.allPorts(ctx, a, cfg)
		if err != nil {
			return nil, err
		}
		cfg.Ports = ports
	}
	c, err := a.engine.Create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if o.cidfile != "" {
		if err := os.WriteFile(o.cidfile, []byte(c.ID), 0o644); err != nil {
			return c, fmt.Errorf("--cidfile: %w", err)
		}
	}
	return c, nil
}

// pullImage pulls ref as --pull says: always, or when it is missing.
func (o *containerCreateOptions) pullImage(ctx context.Context, g *globalOptions, a *app, ref string) error {
	if o.pull == "never" {
		return nil
	}
	if o.pull == "missing" || o.pull == "" {
		if _, err := a.images.Resolve(ctx, ref); err == nil || !errdefs.IsNotFound(err) {
			return err
		}
		if !o.quiet {
			fmt.Fprintf(g.stderr, "Unable to find image '%s' locally\n", ref)
		}
	}
	// Progress goes to stderr: stdout is the container's ID or output.
	eg := *g
	eg.stdout = g.stderr
	return runImagePull(ctx, &eg, pullOptions{platform: o.platform, quiet: o.quiet}, ref)
}

// allPorts are -P's bindings: every port the image exposes and every
// --expose, each on an ephemeral host port, beside the -p bindings.
func (o *containerCreateOptions) allPorts(ctx context.Context, a *app, cfg engine.ContainerConfig) ([]netmgr.PortMapping, error) {
	ports := slices.Clone(cfg.Ports)
	exposed, err := o.exposedPorts()
	if err != nil {
		return nil, err
	}
	img, err := a.images.Resolve(ctx, cfg.Image)
	if err != nil {
		return nil, err
	}
	for _, e := range img.Config.ExposedPorts {
		ms, err := exposedPort(e)
		if err != nil {
			continue // not a port a binding can name
		}
		exposed = append(exposed, ms...)
	}
	for _, e := range exposed {
		if !slices.ContainsFunc(ports, func(p netmgr.PortMapping) bool {
			return p.ContainerPort == e.ContainerPort && p.Protocol == e.Protocol
		}) {
			ports = append(ports, e)
		}
	}
	return ports, nil
}

// parseVolumeFlag reads -v SRC:DST[:ro|rw]: an absolute or ./relative SRC
// is a bind mount, any other a named volume.
func parseVolumeFlag(v string) (engine.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return engine.Mount{}, fmt.Errorf("-v %q: want SRC:DST[:ro]: %w", v, errdefs.ErrInvalidArgument)
	}
	m := engine.Mount{Type: "volume", Source: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			m.ReadOnly = true
		case "rw":
		default:
			return m, fmt.Errorf("-v %q: mode %q: want ro or rw: %w", v, parts[2], errdefs.ErrInvalidArgument)
		}
	}
	if strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, ".") {
		abs, err := filepath.Abs(m.Source)
		if err != nil {
			return m, err
		}
		m.Type, m.Source = "bind", abs
		return m, nil
	}
	if err := engine.ValidateVolumeName(m.Source); err != nil {
		return m, fmt.Errorf("-v %q: %w", v, err)
	}
	return m, nil
}

func newContainerCreateCommand(g *globalOptions) *cobra.Command {
	var o containerCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := o.config(args)
			if err != nil {
				return err
			}
			a, err := g.open()
			if err != nil {
				return err
			}
			c, err := o.createContainer(cmd.Context(), g, a, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, c.ID)
			return nil
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVar(&o.rm, "rm", false, "remove the container when it exits")
	return cmd
}

func newContainerStartCommand(g *globalOptions) *cobra.Command {
	var o startAttachOptions
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER...",
		Short: "Start one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.attach || o.interactive {
				return startAttached(cmd.Context(), g, o, args)
			}
			return eachContainer(cmd.Context(), g, args, func(a *app, c *engine.Container) error {
				return a.engine.Start(cmd.Context(), c.ID)
			})
		},
	}
	o.bind(cmd)
	return cmd
}

func newContainerRestartCommand(g *globalOptions) *cobra.Command {
	var o stopFlags
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER...",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd.Context(), g, args, func(a *app, c *engine.Container) error {
				if err := o.stop(cmd.Context(), a, c); err != nil {
					return err
				}
				return a.engine.Start(cmd.Context(), c.ID)
			})
		},
	}
	o.bind(cmd)
	return cmd
}

func newContainerKillCommand(g *globalOptions) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER...",
		Short: "Send a signal to one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd.Context(), g, args, func(a *app, c *engine.Container) error {
				return a.engine.Kill(cmd.Context(), c.ID, signal)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send")
	return cmd
}

func newContainerPauseCommand(g *globalOptions, pause bool) *cobra.Command {
	use, short := "pause", "Pause all processes within one or more containers"
	if !pause {
		use, short = "unpause", "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use:   use + " CONTAINER...",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd.Context(), g, args, func(a *app, c *engine.Container) error {
				if pause {
					return a.engine.Pause(cmd.Context(), c.ID)
				}
				return a.engine.Unpause(cmd.Context(), c.ID)
			})
		},
	}
}

func newContainerWaitCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER...",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			for _, ref := range args {
				c, err := a.engine.Get(cmd.Context(), ref)
				if err != nil {
					return err
				}
				st, err := a.engine.Wait(cmd.Context(), c.ID)
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, st.ExitCode)
			}
			return nil
		},
	}
}

func newContainerTopCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "Display the running processes of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := g.container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printTop(cmd.Context(), g, a, c)
		},
	}
}

// printTop prints the container's processes as a table.
func printTop(ctx context.Context, g *globalOptions, a *app, c *engine.Container) error {
	procs, err := a.engine.Top(ctx, c.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "PID\tPPID\tUID\tCMD")
	for _, p := range procs {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\n", p.PID, p.PPID, p.UID, p.Cmd)
	}
	return tw.Flush()
}

// newComposeTopCommand is `berth top [SERVICE...]`.
func newComposeTopCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "top [SERVICE...]",
		Short: "Display the running processes",
		RunE: func(cmd *cobra.Command, args []string) error {
			a, ctrs, err := projectContainers(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			for _, c := range ctrs {
				if c.State.Status != engine.StatusRunning {
					continue
				}
				fmt.Fprintln(g.stdout, c.Config.Name)
				if err := printTop(cmd.Context(), g, a, c); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout)
			}
			return nil
		},
	}
}
