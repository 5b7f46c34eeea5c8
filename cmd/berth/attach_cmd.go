package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
)

// attachCmdOptions are the flags of container attach and compose attach.
type attachCmdOptions struct {
	noStdin    bool
	sigProxy   bool
	detachKeys string
	index      int
}

func (o *attachCmdOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&o.noStdin, "no-stdin", false, "do not attach STDIN")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "proxy all received signals to the process")
	f.StringVar(&o.detachKeys, "detach-keys", defaultDetachKeys, "override the key sequence for detaching a container")
}

const defaultDetachKeys = "ctrl-p,ctrl-q"

func newContainerAttachCommand(g *globalOptions) *cobra.Command {
	var o attachCmdOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := g.container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return attachContainer(cmd.Context(), g, a, c, o)
		},
	}
	o.bind(cmd)
	return cmd
}

// newComposeAttachCommand is docker compose attach SERVICE.
func newComposeAttachCommand(g *globalOptions) *cobra.Command {
	var o attachCmdOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] SERVICE",
		Short: "Attach local standard input, output, and error streams to a service's running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.index < 0 {
				return fmt.Errorf("--index %d: must be 1 or more: %w", o.index, errdefs.ErrInvalidArgument)
			}
			a, c, err := serviceContainer(cmd.Context(), g, args[0], o.index)
			if err != nil {
				return err
			}
			return attachContainer(cmd.Context(), g, a, c, o)
		},
	}
	o.bind(cmd)
	cmd.Flags().IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas (default: the lowest)")
	return cmd
}

// attachContainer attaches to a running container until it exits (the
// command's exit code is then its), the detach keys are typed, or a
// signal comes: with --sig-proxy (and no terminal) the signal goes to the
// container, else berth detaches. The container is never stopped.
func attachContainer(ctx context.Context, g *globalOptions, a *app, c *engine.Container, o attachCmdOptions) error {
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		return err
	}
	if c.State.Status != engine.StatusRunning {
		return fmt.Errorf("container %q is %s: you cannot attach to a container that is not running: %w", c.Config.Name, c.State.Status, errdefs.ErrFailedPrecondition)
	}
	// The attach outlives the root's signal context: a signal is proxied
	// or detaches, it does not end the container's streams by itself.
	attachCtx, detach := context.WithCancel(context.WithoutCancel(ctx))
	defer detach()
	tty := c.Config.Tty && term.IsTerminal(int(os.Stdin.Fd()))
	var in io.Reader
	var detached *detachReader
	if !o.noStdin && c.Config.OpenStdin {
		detached = &detachReader{r: os.Stdin, keys: keys, detach: detach}
		in = detached
	} else {
		tty = false
	}
	if o.sigProxy && !c.Config.Tty {
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				_ = a.engine.Kill(attachCtx, c.ID, unix.SignalName(s.(syscall.Signal)))
			}
		}()
	} else {
		stop := context.AfterFunc(ctx, detach) // a signal detaches
		defer stop()
	}
	err = attachStreams(attachCtx, a, c.ID, g, in, tty, false)
	switch {
	case detached != nil && detached.seen():
		return nil // the container goes on
	case ctx.Err() != nil && !(o.sigProxy && !c.Config.Tty):
		return context.Cause(ctx)
	case err != nil && !errors.Is(err, context.Canceled) && !errdefs.IsFailedPrecondition(err):
		return err
	}
	waitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	st, err := a.engine.Wait(waitCtx, c.ID)
	if err != nil {
		return err
	}
	if st.ExitCode != 0 {
		return exitError{code: st.ExitCode}
	}
	return nil
}

// parseDetachKeys reads docker's --detach-keys: comma-separated keys, each
// a single character or ctrl-X (X a letter or one of @[\]^_).
func parseDetachKeys(s string) ([]byte, error) {
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				keys = append(keys, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				keys = append(keys, c-'@')
			default:
				return nil, fmt.Errorf("--detach-keys %q: unknown key %q: %w", s, k, errdefs.ErrInvalidArgument)
			}
		default:
			return nil, fmt.Errorf("--detach-keys %q: unknown key %q (want a character or ctrl-X): %w", s, k, errdefs.ErrInvalidArgument)
		}
	}
	return keys, nil
}

// detachReader passes r through until the detach keys come in a row; then
// it calls detach and ends. Keys that begin the sequence are held back
// until it is clear they do not complete it.
type detachReader struct {
	r      io.Reader
	keys   []byte
	detach func()

	matched int    // how many of keys came last
	pending []byte // read, not yet returned

	mu   sync.Mutex // guards done
	done bool
}

var errDetached = errors.New("detach keys typed")

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		buf := make([]byte, len(p))
		n, err := d.r.Read(buf)
		for _, b := range buf[:n] {
			if b == d.keys[d.matched] {
				d.matched++
				if d.matched == len(d.keys) {
					d.mu.Lock()
					d.done = true
					d.mu.Unlock()
					d.detach()
					return copy(p, d.pending), errDetached
				}
				continue
			}
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched = 0
			if b == d.keys[0] {
				d.matched = 1
				continue
			}
			d.pending = append(d.pending, b)
		}
		if err != nil {
			// The input ended: keys held back finish no sequence.
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched = 0
			n := copy(p, d.pending)
			d.pending = d.pending[n:]
			return n, err
		}
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}

func (d *detachReader) seen() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

// startAttachOptions are container start's -a, -i and --detach-keys.
type startAttachOptions struct {
	attach      bool
	interactive bool
	detachKeys  string
}

func (o *startAttachOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVarP(&o.attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "attach container's STDIN")
	f.StringVar(&o.detachKeys, "detach-keys", defaultDetachKeys, "override the key sequence for detaching a container")
}

// startAttached is docker start -a/-i: one container, started and
// attached to; the command ends with its exit code.
func startAttached(ctx context.Context, g *globalOptions, o startAttachOptions, refs []string) error {
	if len(refs) > 1 {
		return fmt.Errorf("start -a/-i: you cannot start and attach multiple containers at once: %w", errdefs.ErrInvalidArgument)
	}
	a, c, err := g.container(ctx, refs[0])
	if err != nil {
		return err
	}
	if _, err := parseDetachKeys(o.detachKeys); err != nil {
		return err
	}
	began := time.Now()
	if err := a.engine.Start(ctx, c.ID); err != nil {
		return err
	}
	if o.interactive {
		if c, err = a.engine.Get(ctx, string(c.ID)); err != nil {
			return err
		}
		if c.State.Status == engine.StatusRunning {
			return attachContainer(ctx, g, a, c, attachCmdOptions{sigProxy: true, detachKeys: o.detachKeys})
		}
	}
	// Its output from this start on, as it comes, until it exits.
	code, err := followToExitSince(ctx, g, a, c, began)
	if err == nil && code != 0 {
		err = exitError{code: code}
	}
	return err
}
