package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
)

type containerRunOptions struct {
	containerCreateOptions
	detach bool
}

func newContainerRunCommand(g *globalOptions) *cobra.Command {
	var o containerRunOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a container",
		Long: "Create and run a container. In the foreground its output is shown until it exits, " +
			"and berth exits with its exit code. Without --network it joins the default network, bridge, " +
			"made on demand and removed with its last container. With --rm -d the container's shim " +
			"removes it once it exits.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContainerRun(cmd.Context(), g, o, args)
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVar(&o.rm, "rm", false, "remove the container when it exits")
	cmd.Flags().BoolVarP(&o.detach, "detach", "d", false, "run in the background and print the container ID")
	return cmd
}

func runContainerRun(ctx context.Context, g *globalOptions, o containerRunOptions, args []string) (retErr error) {
	if o.tty && !o.detach && (!term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stdout.Fd()))) {
		return fmt.Errorf("container run -t: the input device is not a TTY: %w", errdefs.ErrInvalidArgument)
	}
	cfg, err := o.config(args)
	if err != nil {
		return err
	}
	// Detached, the shim removes the container when it exits (engine
	// AutoRemove). In the foreground this command does, once it has its
	// exit code; killed before it could, the next sweep does.
	cfg.AutoRemove = o.rm
	if o.rm && !o.detach {
		if cfg.AutoRemoveOwner, err = engine.Self(); err != nil {
			return err
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	c, err := o.createContainer(ctx, g, a, cfg)
	if err != nil {
		return err
	}
	cleanup := context.WithoutCancel(ctx)
	if o.rm && !o.detach {
		defer func() {
			if err := a.engine.Remove(cleanup, c.ID, true); err != nil && !errdefs.IsNotFound(err) && retErr == nil {
				retErr = err
			}
		}()
	}
	if err := a.engine.Start(ctx, c.ID); err != nil {
		// Nothing is left of a run that could not start (a port taken, a
		// command not found): the error says why.
		if !o.rm || o.detach {
			err = errors.Join(err, a.engine.Remove(cleanup, c.ID, true))
		}
		return err
	}
	if o.detach {
		fmt.Fprintln(g.stdout, c.ID)
		return nil
	}
	var code int
	if o.interactive || o.tty {
		code, err = attachToExit(ctx, g, a, c, o.interactive, o.tty)
	} else {
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

// attachTerminal attaches the caller's stdin (with -i) and output to the
// running container until it exits for good; with a terminal (-t), the
// caller's terminal is put in raw mode and its size follows.
func attachTerminal(ctx context.Context, a *app, id engine.ContainerID, g *globalOptions, stdin, tty bool) error {
	var in io.Reader
	if stdin {
		in = os.Stdin
	}
	return attachStreams(ctx, a, id, g, in, tty, !tty)
}

// attachStreams is attachTerminal with in (nil: none) as stdin; closeStdin
// closes the container's stdin when in ends.
func attachStreams(ctx context.Context, a *app, id engine.ContainerID, g *globalOptions, in io.Reader, tty, closeStdin bool) error {
	aio := engine.AttachIO{Stdout: g.stdout, Stderr: g.stderr, CloseStdin: closeStdin}
	if in != nil {
		aio.Stdin = in
	}
	if tty {
		fd := int(os.Stdin.Fd())
		old, err := term.MakeRaw(fd)
		if err != nil {
			return err
		}
		defer func() { _ = term.Restore(fd, old) }()
		aio.Stdout, aio.Stderr = os.Stdout, os.Stdout
		resize := make(chan engine.Winsize, 1)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		sendSize := func() {
			if w, h, err := term.GetSize(fd); err == nil {
				select {
				case resize <- engine.Winsize{Rows: uint16(h), Cols: uint16(w)}:
				default:
				}
			}
		}
		sendSize()
		go func() {
			for range winch {
				sendSize()
			}
		}()
		aio.Resize = resize
	}
	return a.engine.Attach(ctx, id, aio)
}
