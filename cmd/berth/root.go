package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/shimbin"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

const (
	defaultRoot   = "/var/lib/berth"
	defaultRunDir = "/run/berth"
)

// Compile-time checks that the engine and managers are what the reconciler drives.
var (
	_ reconciler.Runtime  = (*engine.Engine)(nil)
	_ reconciler.Networks = (*netmgr.Manager)(nil)
	_ reconciler.Volumes  = (*engine.VolumeStore)(nil)
	_ reconciler.Images   = (*image.Store)(nil)
)

// globalOptions are the flags every command has.
type globalOptions struct {
	root     string
	runDir   string
	runtime  string
	logLevel string
	parallel int
	project  projectFlags
	// docker compose's flags before the verb.
	progress      string // auto, tty, plain, json, quiet
	ansi          string // never, always, auto
	noAnsi        bool   // hidden, old: --ansi never
	dryRun        bool
	compatibility bool // accepted: berth names containers with dashes either way
	allResources  bool // accepted: berth's plans hold only what services use
	version       bool
	verbose       bool // hidden, old: --log-level debug

	stdout io.Writer
	stderr io.Writer
}

// exitError carries a specific exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globalOptions{stdout: os.Stdout, stderr: os.Stderr}
	cmd := newRootCommandFor(g, args)
	cmd.SetArgs(args)
	return exitCode(ctx, cmd.ExecuteContext(ctx), g.stderr)
}

// exitCode is the process's exit code for what a command returned, as
// docker compose's: 0; a container's or service's own code; 130 when
// interrupted (Ctrl-C, SIGTERM); else 1 with the error on one line.
func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if ee, ok := errors.AsType[exitError](err); ok {
		return ee.code
	}
	if ctx.Err() != nil {
		// The cancellation itself is no news to the user.
		if !errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, oneLine(err))
		}
		return 130
	}
	if fes := fieldErrors(err); len(fes) > 1 {
		// Several refusals of the file: one line each, file, service and
		// field first.
		for _, fe := range fes {
			fmt.Fprintln(stderr, oneLine(fe))
		}
		return 1
	}
	fmt.Fprintln(stderr, oneLine(err))
	return 1
}

// fieldErrors returns the errors joined in err when every one of them is a
// spec.FieldError, else nil.
func fieldErrors(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil
	}
	errs := j.Unwrap()
	for _, e := range errs {
		if _, ok := errors.AsType[spec.FieldError](e); !ok {
			return nil
		}
	}
	return errs
}

// oneLine renders err on a single line, as users see it.
func oneLine(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "\n", "; ")
	if !strings.HasPrefix(s, "Error") {
		s = "Error: " + s
	}
	return s
}

// newRootCommand is berth's whole command tree.
func newRootCommand(g *globalOptions) *cobra.Command {
	root := newRootFlagsCommand(g)
	for _, set := range commandSets() {
		root.AddCommand(set.make(g)...)
	}
	return root
}

// newRootCommandFor is the command tree args need: when they name one of
// the top-level commands (after the root's flags), the root with that
// command alone, else the whole tree (help, completion, an unknown verb).
// Every berth process builds its tree; building the whole of it, with the
// flags of 45 commands and their subcommands, is ~0.8 MB of allocation and
// half a millisecond of every `up`.
func newRootCommandFor(g *globalOptions, args []string) *cobra.Command {
	verb := verbOf(args)
	for _, set := range commandSets() {
		if slices.Contains(set.names, verb) {
			root := newRootFlagsCommand(g)
			root.AddCommand(set.make(g)...)
			return root
		}
	}
	return newRootCommand(g)
}

// verbOf is the first argument after the root's flags, "" when there is
// none or the root's flags do not parse (cobra then says why).
func verbOf(args []string) string {
	scan := newRootFlagsCommand(&globalOptions{stdout: io.Discard, stderr: io.Discard})
	fs := pflag.NewFlagSet("berth", pflag.ContinueOnError)
	fs.AddFlagSet(scan.PersistentFlags())
	fs.AddFlagSet(scan.Flags())
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if fs.Parse(args) != nil || fs.NArg() == 0 {
		return ""
	}
	if i := len(args) - fs.NArg(); i > 0 && args[i-1] == "--" {
		return ""
	}
	return fs.Arg(0)
}

// commandSet is a constructor of top-level commands and the names of the
// commands it makes (TestCommandSetsNameTheirCommands keeps them true).
type commandSet struct {
	names []string
	make  func(g *globalOptions) []*cobra.Command
}

func one(f func(g *globalOptions) *cobra.Command) func(g *globalOptions) []*cobra.Command {
	return func(g *globalOptions) []*cobra.Command { return []*cobra.Command{f(g)} }
}

// commandSets are the top-level commands, in the order help lists them
// (cobra sorts them by name).
func commandSets() []commandSet {
	return []commandSet{
		{[]string{"config"}, one(newConfigCommand)},
		{[]string{"up"}, one(newUpCommand)},
		{[]string{"down"}, one(newDownCommand)},
		{[]string{"ps"}, one(newPsCommand)},
		{[]string{"port"}, one(newPortCommand)},
		{[]string{"logs"}, one(newLogsCommand)},
		{[]string{"image"}, one(newImageCommand)},
		{[]string{"container"}, one(newContainerCommand)},
		{[]string{"volume"}, one(newVolumeCommand)},
		{[]string{"network"}, one(newNetworkCommand)},
		{[]string{"version"}, one(newVersionCommand)},
		{[]string{"create"}, one(newCreateCommand)},
		{[]string{"ls"}, one(newLsCommand)},
		{[]string{"images"}, one(newImagesCommand)},
		{[]string{"run"}, one(newRunCommand)},
		{[]string{"watch"}, one(newWatchCommand)},
		{[]string{"kill"}, one(newKillCommand)},
		{[]string{"wait"}, one(newWaitCommand)},
		{[]string{"pull"}, one(newPullCommand)},
		{[]string{"push"}, one(newPushCommand)},
		{[]string{"events"}, one(newEventsCommand)},
		{[]string{"exec"}, one(newComposeExecCommand)},
		{[]string{"top"}, one(newComposeTopCommand)},
		{[]string{"build"}, one(newComposeBuildCommand)},
		{[]string{"scale"}, one(newScaleCommand)},
		{[]string{"deploy"}, one(newDeployCommand)},
		{[]string{"undeploy"}, one(newUndeployCommand)},
		{[]string{"serve"}, one(newServeCommand)},
		{[]string{"system"}, one(newSystemCommand)},
		{[]string{"builder"}, one(newBuilderCommand)},
		{[]string{"cp", "export", "commit", "stats", "volumes", "attach"}, newComposeMoreCommands},
		{[]string{"publish", "bridge", "alpha"}, func(*globalOptions) []*cobra.Command { return newUnsupportedCommands() }},
		{[]string{"start", "stop", "restart", "rm"}, newLifecycleCommands},
		{[]string{"pause", "unpause"}, newPauseCommands},
	}
}

// newRootFlagsCommand is the root command with its flags and no
// subcommands.
func newRootFlagsCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Run Compose projects with an embedded, daemonless engine",
		SilenceUsage:  true,
		SilenceErrors: true,
		// The project flags belong to the root, before the verb, as in
		// docker compose: `berth -f x.yaml logs -f` keeps -f for --follow.
		TraverseChildren: true,
		Args:             cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.version {
				return printVersion(g.stdout)
			}
			return cmd.Help()
		},
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.root, "root", envOr("BERTH_ROOT", defaultRoot), "state root directory (BERTH_ROOT)")
	pf.StringVar(&g.runDir, "run-dir", os.Getenv("BERTH_RUN_DIR"), "run directory; default /run/berth, or <root>/run with --root (BERTH_RUN_DIR)")
	pf.StringVar(&g.runtime, "runtime", envOr("BERTH_RUNTIME", "runc"), "OCI runtime binary")
	pf.IntVar(&g.parallel, "parallel", -1, "control max parallelism, -1 for unlimited (COMPOSE_PARALLEL_LIMIT)")
	pf.StringVar(&g.logLevel, "log-level", envOr("BERTH_LOG_LEVEL", "warn"), "log level: debug, info, warn, error")
	// docker compose's --dry-run is persistent: before or after the verb.
	// berth also takes --progress after the verb, as it always did.
	pf.BoolVar(&g.dryRun, "dry-run", false, "execute command in dry run mode: print the plan and change nothing")
	pf.StringVar(&g.progress, "progress", os.Getenv("COMPOSE_PROGRESS"), "set type of progress output (auto, tty, plain, json, quiet)")
	f := root.Flags()
	g.project.bind(f)
	f.StringVar(&g.ansi, "ansi", envOr("COMPOSE_ANSI", "auto"), `control when to print ANSI control characters ("never"|"always"|"auto")`)
	f.BoolVar(&g.noAnsi, "no-ansi", false, "do not print ANSI control characters (DEPRECATED: --ansi never)")
	f.BoolVar(&g.compatibility, "compatibility", false, "run compose in backward compatibility mode")
	f.BoolVar(&g.allResources, "all-resources", false, "include all resources, even those not used by services")
	f.BoolVarP(&g.version, "version", "v", false, "show the berth version information")
	f.BoolVar(&g.verbose, "verbose", false, "show more output (--log-level debug)")
	for _, name := range []string{"no-ansi", "version", "verbose"} {
		_ = f.MarkHidden(name)
	}
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// app is the engine and managers of one state root.
type app struct {
	log     *slog.Logger
	root    string
	runDir  string
	engine  *engine.Engine
	images  *image.Store
	nets    *netmgr.Manager
	builder *build.Builder
}

func (a *app) deps() reconciler.Deps {
	// The engine's volume store: down -v never removes a volume another
	// container still mounts.
	return reconciler.Deps{Runtime: a.engine, Networks: a.nets, Volumes: a.engine.Volumes(), Images: a.engine.Images(),
		Builder: a.builder, LockProject: a.lockProject}
}

// dirs returns the absolute state root and run directory the flags name.
func (g *globalOptions) dirs() (root, runDir string, err error) {
	if root, err = filepath.Abs(g.root); err != nil {
		return "", "", err
	}
	runDir = g.runDir
	if runDir == "" {
		runDir = defaultRunDir
		if root != defaultRoot {
			runDir = filepath.Join(root, "run")
		}
	}
	if runDir, err = filepath.Abs(runDir); err != nil {
		return "", "", err
	}
	return root, runDir, nil
}

// open makes the engine and managers for the global options.
func (g *globalOptions) open() (*app, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", g.logLevel, errdefs.ErrInvalidArgument)
	}
	if g.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
	root, runDir, err := g.dirs()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{root, runDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	images, err := image.Open(root, log)
	if err != nil {
		return nil, err
	}
	exe, _ := os.Executable() // "": no DNS resolver; names then resolve through hosts files only
	// Containers reach the outside through NAT unless BERTH_NO_OUTBOUND=1
	// (the tests set it: no container of theirs may get a path out); then
	// the networks' resolvers forward no name to the host's nameservers
	// either (non-nil, empty Upstreams), as those may be off the machine.
	noOutbound := os.Getenv("BERTH_NO_OUTBOUND") == "1"
	if noOutbound {
		images.SetLocalRegistriesOnly()
	}
	var upstreams []string
	if noOutbound {
		upstreams = []string{}
	}
	nets, err := netmgr.New(netmgr.Options{Root: root, RunDir: runDir, Logger: log, Exe: exe,
		Outbound: !noOutbound, Upstreams: upstreams})
	if err != nil {
		return nil, err
	}
	// The shim and init berth carries ("": none, and no container can start).
	shimExe, err := shimbin.Install(filepath.Join(root, "bin"))
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(engine.Options{Root: root, RunDir: runDir, Runtime: g.runtime, Logger: log, Shim: shimExe}, images, nets)
	if err != nil {
		return nil, err
	}
	builder, err := build.New(eng, log)
	if err != nil {
		return nil, err
	}
	return &app{log: log, root: root, runDir: runDir, engine: eng, images: images, nets: nets, builder: builder}, nil
}
