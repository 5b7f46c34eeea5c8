package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
)

type containerRunOptions struct {
	containerCreateOptions
	detach     bool
	sigProxy   bool
	detachKeys string
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
	cmd.Flags().BoolVar(&o.sigProxy, "sig-proxy", true, "proxy received signals to the process (without -t); false: a signal leaves the container running")
	cmd.Flags().StringVar(&o.detachKeys, "detach-keys", defaultDetachKeys, "override the key sequence for detaching a container (with -i)")
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
	keys, err := parseDetachKeys(o.detachKeys)
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
	left := false // detached from a running container: it stays
	if o.rm && !o.detach {
		defer func() {
			if left {
				return // removed once it exits: see AutoRemoveOwner
			}
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
	code, detached, err := runForeground(ctx, g, a, c, o, keys)
	left = detached
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// runForeground shows a started container's output (attached to the
// caller's stdin with -i, its terminal with -t) until it exits, and returns
// its exit code, as docker run does:
//   - without -t and with --sig-proxy, the signals berth receives go to the
//     container, which decides whether to exit;
//   - with --sig-proxy=false, a signal leaves berth (130) and the container
//     running (detached);
//   - with -t, keys go to the container through the terminal, and a signal
//     to berth stops the container (130);
//   - with -i, the detach keys leave the container running (detached, 0).
func runForeground(ctx context.Context, g *globalOptions, a *app, c *engine.Container, o containerRunOptions, keys []byte) (code int, detached bool, err error) {
	// The streams outlive the root's signal context: what a signal does
	// is decided here.
	live, detach := context.WithCancel(context.WithoutCancel(ctx))
	defer detach()
	proxy := o.sigProxy && !o.tty
	if proxy {
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				_ = a.engine.Kill(live, c.ID, unix.SignalName(s.(syscall.Signal)))
			}
		}()
	} else {
		stop := context.AfterFunc(ctx, detach)
		defer stop()
	}
	var dr *detachReader
	var st engine.State
	if o.interactive || o.tty {
		var in io.Reader
		if o.interactive {
			dr = &detachReader{r: os.Stdin, keys: keys, detach: detach}
			in = dr
		}
		err = attachStreams(live, a, c.ID, g, in, o.tty, !o.tty)
		if err == nil || errdefs.IsFailedPrecondition(err) || errors.Is(err, context.Canceled) {
			err = nil
			if live.Err() == nil {
				st, err = a.engine.Wait(live, c.ID)
			}
		}
	} else {
		st, err = followUntil(live, g, a, c)
	}
	switch {
	case dr != nil && dr.seen():
		return 0, true, nil
	case ctx.Err() != nil && !proxy && o.tty:
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return 130, false, a.engine.Stop(stopCtx, c.ID, -1)
	case ctx.Err() != nil && !proxy:
		return 130, true, nil
	case err != nil:
		return 1, false, err
	}
	return st.ExitCode, false, nil
}

// followUntil prints the container's output until it exits (its state
// then) or ctx ends.
func followUntil(ctx context.Context, g *globalOptions, a *app, c *engine.Container) (engine.State, error) {
	logCtx, cancel := context.WithCancel(ctx)
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
	if err != nil {
		cancel()
		<-logDone
		return st, err
	}
	return st, <-logDone
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
