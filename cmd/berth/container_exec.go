package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
)

type containerExecOptions struct {
	interactive, tty, noTTY bool
	detach, privileged      bool
	env, envFiles           []string
	user, workdir           string
	detachKeys              string
}

func newContainerExecCommand(g *globalOptions) *cobra.Command {
	var o containerExecOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContainerExec(cmd.Context(), g, o, args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a terminal")
	f.BoolVarP(&o.detach, "detach", "d", false, "detached mode: run command in the background")
	f.BoolVar(&o.privileged, "privileged", false, "give extended privileges to the command")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "read in a file of environment variables")
	f.StringVarP(&o.user, "user", "u", "", "user name or UID[:GID]")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVar(&o.detachKeys, "detach-keys", "", "override the key sequence for detaching a container (not supported)")
	return cmd
}

func runContainerExec(ctx context.Context, g *globalOptions, o containerExecOptions, ref string, command []string) error {
	if o.detachKeys != "" {
		return fmt.Errorf("--detach-keys %q: not supported by berth: %w", o.detachKeys, errdefs.ErrNotImplemented)
	}
	env, err := envFromFiles("--env-file", o.envFiles)
	if err != nil {
		return err
	}
	o.env = append(env, o.env...)
	a, c, err := g.container(ctx, ref)
	if err != nil {
		return err
	}
	return execIn(ctx, g, a, c.ID, o, command)
}

// execIn runs command in the running container id as exec's flags say and
// turns its exit code into berth's.
func execIn(ctx context.Context, g *globalOptions, a *app, id engine.ContainerID, o containerExecOptions, command []string) error {
	cfg := engine.ExecConfig{Cmd: command, Env: o.env, User: o.user, WorkingDir: o.workdir,
		Tty: o.tty && !o.noTTY && !o.detach, Privileged: o.privileged, Detach: o.detach}
	stdio := engine.ExecIO{Stdout: g.stdout, Stderr: g.stderr}
	if cfg.Detach {
		stdio = engine.ExecIO{}
	} else if cfg.Tty {
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

// composeExecOptions are docker compose exec's flags.
type composeExecOptions struct {
	containerExecOptions
	index int
}

// newComposeExecCommand is `berth exec SERVICE COMMAND`: in the service's
// container (--index N of a scaled service, else the lowest-numbered), with
// a terminal when the caller has one, as docker compose exec does.
func newComposeExecCommand(g *globalOptions) *cobra.Command {
	var o composeExecOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runComposeExec(cmd.Context(), g, o, args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.noTTY, "no-tty", "T", false, "disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&o.detach, "detach", "d", false, "detached mode: run command in the background")
	f.IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas (default: the lowest)")
	f.BoolVar(&o.privileged, "privileged", false, "give extended privileges to the process")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set environment variables")
	f.StringVarP(&o.user, "user", "u", "", "run the command as this user")
	f.StringVarP(&o.workdir, "workdir", "w", "", "path to workdir directory for this command")
	// As docker compose: -i and -t are accepted (and on by default), so
	// that `exec -it` works as with docker exec.
	f.BoolVarP(&o.interactive, "interactive", "i", true, "keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", true, "allocate a pseudo-TTY")
	_ = f.MarkHidden("interactive")
	_ = f.MarkHidden("tty")
	oldSpellings(f, map[string]string{"no-TTY": "no-tty"})
	return cmd
}

func runComposeExec(ctx context.Context, g *globalOptions, o composeExecOptions, service string, command []string) error {
	if o.index < 0 {
		return fmt.Errorf("--index %d: must be 1 or more: %w", o.index, errdefs.ErrInvalidArgument)
	}
	a, c, err := serviceContainer(ctx, g, service, o.index)
	if err != nil {
		return err
	}
	// A terminal only when the caller has one, as docker compose decides.
	o.tty = o.tty && !o.noTTY && term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
	return execIn(ctx, g, a, c.ID, o.containerExecOptions, command)
}

// serviceContainer finds container number index of a service of the
// project, or with index 0 its running container of the lowest number.
func serviceContainer(ctx context.Context, g *globalOptions, service string, index int) (*app, *engine.Container, error) {
	a, ctrs, err := projectContainers(ctx, g, []string{service})
	if err != nil {
		return nil, nil, err
	}
	var found *engine.Container
	for _, c := range ctrs {
		n := containerNumber(c)
		switch {
		case index > 0 && n == index:
			found = c
		case index == 0 && c.State.Status == engine.StatusRunning && (found == nil || n < containerNumber(found)):
			found = c
		}
	}
	switch {
	case found == nil && index > 0:
		return nil, nil, fmt.Errorf("service %q has no container with index %d: %w", service, index, errdefs.ErrNotFound)
	case found == nil || found.State.Status != engine.StatusRunning:
		return nil, nil, fmt.Errorf("service %q is not running: %w", service, errdefs.ErrFailedPrecondition)
	}
	return a, found, nil
}
