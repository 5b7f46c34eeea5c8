package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
)

// serveOptions are the flags of `berth serve`.
type serveOptions struct {
	hosts []string
}

// newServeCommand is `berth serve`: the Docker Engine API on a socket, over
// this state root's engine, until interrupted.
func newServeCommand(g *globalOptions) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [OPTIONS]",
		Short: "Serve the Docker Engine API on a socket (for the docker CLI, docker compose, testcontainers)",
		Long: "Serve the Docker Engine API on a unix socket, by default <run-dir>/docker.sock " +
			"(/run/berth/docker.sock), in the foreground until interrupted. Point clients at it with " +
			"DOCKER_HOST=unix:///run/berth/docker.sock. Objects made through it are berth's own; " +
			"stopping the server stops no container.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.hosts, "host", "H", nil, "address to listen on: unix:///PATH or tcp://127.0.0.1:PORT (loopback only)")
	return cmd
}

// newSystemCommand is `berth system service`, podman's name for serve.
func newSystemCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage berth", Args: cobra.NoArgs}
	svc := newServeCommand(g)
	svc.Use, svc.Short = "service [OPTIONS]", "Serve the Docker Engine API on a socket (as berth serve)"
	cmd.AddCommand(svc, newSystemDfCommand(g), newSystemInfoCommand(g), newSystemPruneCommand(g), newSystemEventsCommand(g))
	return cmd
}

// listenAddr is where the server listens: a unix socket path or a
// loopback TCP address.
type listenAddr struct {
	network, addr string
}

// parseHost reads -H: unix:///path, or tcp://HOST:PORT with a loopback
// HOST (the API has no authentication: anyone who reaches it is root).
func parseHost(h string) (listenAddr, error) {
	u, err := url.Parse(h)
	if err != nil {
		return listenAddr{}, fmt.Errorf("-H %q: %w", h, errdefs.ErrInvalidArgument)
	}
	switch u.Scheme {
	case "unix":
		p := u.Path
		if p == "" || !filepath.IsAbs(p) {
			return listenAddr{}, fmt.Errorf("-H %q: want unix:///ABSOLUTE/PATH: %w", h, errdefs.ErrInvalidArgument)
		}
		return listenAddr{"unix", p}, nil
	case "tcp":
		host, _, err := net.SplitHostPort(u.Host)
		if err != nil {
			return listenAddr{}, fmt.Errorf("-H %q: want tcp://127.0.0.1:PORT: %w", h, errdefs.ErrInvalidArgument)
		}
		if host != "localhost" {
			ip, err := netip.ParseAddr(host)
			if err != nil || !ip.IsLoopback() {
				return listenAddr{}, fmt.Errorf("-H %q: %q is not a loopback address; berth serves TCP on loopback only (no TLS): %w", h, host, errdefs.ErrInvalidArgument)
			}
		}
		return listenAddr{"tcp", u.Host}, nil
	}
	return listenAddr{}, fmt.Errorf("-H %q: want unix:// or tcp://: %w", h, errdefs.ErrInvalidArgument)
}

// listen opens a's listener; a unix socket gets mode 0660 (root's), and a
// stale socket file nobody answers on is replaced.
func listen(ctx context.Context, a listenAddr) (net.Listener, error) {
	if a.network == "tcp" {
		var lc net.ListenConfig
		return lc.Listen(ctx, "tcp", a.addr)
	}
	if err := os.MkdirAll(filepath.Dir(a.addr), 0o711); err != nil {
		return nil, err
	}
	if _, err := os.Stat(a.addr); err == nil {
		var d net.Dialer
		if c, err := d.DialContext(ctx, "unix", a.addr); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another server is listening there: %w", a.addr, errdefs.ErrConflict)
		}
		if err := os.Remove(a.addr); err != nil {
			return nil, err
		}
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "unix", a.addr)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(a.addr, 0o660); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func runServe(ctx context.Context, g *globalOptions, o serveOptions) (retErr error) {
	// A long-lived process: the default collector keeps its heap small
	// (main raises GOGC for short CLI runs).
	debug.SetGCPercent(100)
	a, err := g.open()
	if err != nil {
		return err
	}
	hosts := o.hosts
	if len(hosts) == 0 {
		hosts = []string{"unix://" + filepath.Join(a.runDir, "docker.sock")}
	}
	var addrs []listenAddr
	for _, h := range hosts {
		la, err := parseHost(h)
		if err != nil {
			return err
		}
		addrs = append(addrs, la)
	}
	// Containers an earlier server was to remove (--rm) and could not.
	if _, err := a.engine.SweepAutoRemove(ctx); err != nil {
		a.log.Warn("sweep auto-removed containers", "err", err)
	}
	api := dockerapi.New(ctx, dockerapi.Options{Engine: a.engine, Networks: a.nets, Builder: a.builder, Version: berthVersion(),
		Logger: a.log, Root: a.root, RunDir: a.runDir})
	srv := &http.Server{
		Handler:           newIdleReleaser(ctx, api, idleAfter, releaseMemory),
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Runs whose shim is killed end with a die at once, not at the next
	// reading of the container: event clients see them as dockerd's.
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if err := a.engine.WatchRuns(watchCtx); err != nil {
			a.log.Warn("waiting on the containers' runs", "err", err)
		}
	}()
	defer func() { stopWatch(); <-watched }()
	// Before the first client: what it sees is the server as it idles.
	releaseStartupMemory()
	errc := make(chan error, len(addrs))
	for _, la := range addrs {
		l, err := listen(ctx, la)
		if err != nil {
			return err
		}
		if la.network == "unix" {
			defer func() { retErr = errors.Join(retErr, ignoreNotExist(os.Remove(la.addr))) }()
		}
		fmt.Fprintf(g.stderr, "berth: serving the Docker API on %s://%s\n", la.network, l.Addr())
		go func() { errc <- srv.Serve(l) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	// Stopping the server stops no container: requests in flight get a
	// moment to finish, streams (logs -f, attach) are cut.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = api.Close() // event streams end
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
