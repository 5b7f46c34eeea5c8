package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

type containerExecOptions struct {
	interactive, tty, noTTY bool
	env                     []string
	user, workdir           string
}

func newContainerExecCommand(g *globalOptions) *cobra.Command {
	var o containerExecOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := g.container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return execIn(cmd.Context(), g, a, c.ID, o, args[1:])
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a terminal")
	f.BoolVarP(&o.noTTY, "no-tty", "T", false, "do not allocate a terminal")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringVarP(&o.user, "user", "u", "", "user name or UID[:GID]")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	return cmd
}

// execIn runs command in the running container id as exec's flags say and
// turns its exit code into berth's.
func execIn(ctx context.Context, g *globalOptions, a *app, id engine.ContainerID, o containerExecOptions, command []string) error {
	cfg := engine.ExecConfig{Cmd: command, Env: o.env, User: o.user, WorkingDir: o.workdir, Tty: o.tty && !o.noTTY}
	stdio := engine.ExecIO{Stdout: g.stdout, Stderr: g.stderr}
	if cfg.Tty {
		// The runtime relays the caller's own terminal.
		if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stdout.Fd())) {
			return fmt.Errorf("exec -t: the input device is not a TTY (use -T): %w", errdefs.ErrInvalidArgument)
		}
		stdio = engine.ExecIO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stdout}
	} else if o.interactive {
		stdio.Stdin = os.Stdin
	}
	code, err := a.engine.Exec(ctx, id, cfg, stdio)
	if err != nil {
		if code > 0 {
			fmt.Fprintln(g.stderr, oneLine(err))
			return exitError{code: code}
		}
		return err
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// newComposeExecCommand is `berth exec SERVICE COMMAND`: in the service's
// container (--index N of a scaled service), with a terminal when the
// caller has one, as docker compose exec does.
func newComposeExecCommand(g *globalOptions) *cobra.Command {
	var o containerExecOptions
	var index int
	var detach bool
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if detach {
				return fmt.Errorf("exec -d is not supported by berth yet: %w", errdefs.ErrNotImplemented)
			}
			a, c, err := serviceContainer(cmd.Context(), g, args[0], index)
			if err != nil {
				return err
			}
			o.tty = !o.noTTY && term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
			o.interactive = true
			return execIn(cmd.Context(), g, a, c.ID, o, args[1:])
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.noTTY, "no-TTY", "T", false, "disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&detach, "detach", "d", false, "detached mode: run command in the background")
	f.IntVar(&index, "index", 1, "index of the container if service has multiple replicas")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set environment variables")
	f.StringVarP(&o.user, "user", "u", "", "run the command as this user")
	f.StringVarP(&o.workdir, "workdir", "w", "", "path to workdir directory for this command")
	return cmd
}

// serviceContainer finds container number index of a service of the project.
func serviceContainer(ctx context.Context, g *globalOptions, service string, index int) (*app, *engine.Container, error) {
	a, ctrs, err := projectContainers(ctx, g, []string{service})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range ctrs {
		if c.Config.Labels[spec.LabelContainerNumber] == strconv.Itoa(index) {
			if c.State.Status != engine.StatusRunning {
				return nil, nil, fmt.Errorf("service %q is not running: %w", service, errdefs.ErrFailedPrecondition)
			}
			return a, c, nil
		}
	}
	return nil, nil, fmt.Errorf("service %q has no container with index %d: %w", service, index, errdefs.ErrNotFound)
}
