package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
)

// newContainerPortCommand is `berth container port CONTAINER
// [PRIVATE_PORT[/PROTO]]`, docker's: every published port as
// "80/tcp -> 127.0.0.1:49153", or the host addresses of one.
func newContainerPortCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			port, proto := 0, ""
			if len(args) == 2 {
				p, pr, hasProto := strings.Cut(args[1], "/")
				n, err := strconv.Atoi(p)
				if err != nil || n <= 0 || n > 65535 || hasProto && pr != "tcp" && pr != "udp" {
					return fmt.Errorf("port %q: want PRIVATE_PORT[/tcp|/udp]: %w", args[1], errdefs.ErrInvalidArgument)
				}
				port, proto = n, pr
				if proto == "" {
					proto = "tcp"
				}
			}
			_, c, err := g.container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			found := false
			for _, p := range c.Publishers() {
				switch {
				case port == 0:
					fmt.Fprintf(g.stdout, "%d/%s -> %s:%d\n", p.TargetPort, p.Protocol, p.URL, p.PublishedPort)
				case p.TargetPort == port && p.Protocol == proto:
					fmt.Fprintf(g.stdout, "%s:%d\n", p.URL, p.PublishedPort)
					found = true
				}
			}
			if port != 0 && !found {
				return fmt.Errorf("container %q: no public port %d/%s published: %w", args[0], port, proto, errdefs.ErrNotFound)
			}
			return nil
		},
	}
}
