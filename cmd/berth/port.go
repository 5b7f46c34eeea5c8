package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

type portOptions struct {
	index    int
	protocol string
}

func newPortCommand(g *globalOptions) *cobra.Command {
	var o portOptions
	cmd := &cobra.Command{
		Use:   "port [OPTIONS] SERVICE PRIVATE_PORT",
		Short: "Print the public port for a port binding",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPort(cmd.Context(), g, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.index, "index", 0, "index of the container if the service has several replicas")
	f.StringVar(&o.protocol, "protocol", "tcp", "tcp or udp")
	return cmd
}

func runPort(ctx context.Context, g *globalOptions, o portOptions, service, private string) error {
	port, err := strconv.Atoi(private)
	if err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("port %q: not a port number: %w", private, errdefs.ErrInvalidArgument)
	}
	if o.protocol != "tcp" && o.protocol != "udp" {
		return fmt.Errorf("--protocol %q: must be tcp or udp: %w", o.protocol, errdefs.ErrInvalidArgument)
	}
	a, name, err := g.openProject(ctx)
	if err != nil {
		return err
	}
	ctrs, err := a.engine.List(ctx, map[string]string{spec.LabelProject: name, spec.LabelService: service})
	if err != nil {
		return err
	}
	var c *engine.Container
	for _, x := range ctrs {
		if x.Config.Labels[spec.LabelOneOff] == spec.LabelTrue {
			continue
		}
		n, _ := strconv.Atoi(x.Config.Labels[spec.LabelContainerNumber])
		if o.index == 0 && (c == nil || n < containerNumber(c)) || o.index != 0 && n == o.index {
			c = x
		}
	}
	if c == nil {
		return fmt.Errorf("service %q: no container: %w", service, errdefs.ErrNotFound)
	}
	for _, p := range c.Publishers() {
		if p.TargetPort == port && p.Protocol == o.protocol {
			fmt.Fprintf(g.stdout, "%s:%d\n", p.URL, p.PublishedPort)
			return nil
		}
	}
	return fmt.Errorf("service %q: no port %d/%s is published: %w", service, port, o.protocol, errdefs.ErrNotFound)
}

func containerNumber(c *engine.Container) int {
	n, _ := strconv.Atoi(c.Config.Labels[spec.LabelContainerNumber])
	return n
}
