package main

import (
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

type networkConnectOptions struct {
	aliases    []string
	ip, ip6    string
	gwPriority int
}

// newNetworkConnectCommand is docker network connect.
func newNetworkConnectCommand(g *globalOptions) *cobra.Command {
	var o networkConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc := engine.EndpointConfig{Network: args[0], Aliases: o.aliases, GwPriority: o.gwPriority}
			for _, a := range []struct {
				flag, val string
				to        *netip.Addr
				v6        bool
			}{{"--ip", o.ip, &nc.Address, false}, {"--ip6", o.ip6, &nc.Address6, true}} {
				if a.val == "" {
					continue
				}
				addr, err := netip.ParseAddr(a.val)
				if err != nil || addr.Is6() != a.v6 {
					return fmt.Errorf("%s %q: not an IPv%s address: %w", a.flag, a.val, map[bool]string{false: "4", true: "6"}[a.v6], errdefs.ErrInvalidArgument)
				}
				*a.to = addr
			}
			a, c, err := g.container(cmd.Context(), args[1])
			if err != nil {
				return err
			}
			return a.engine.ConnectNetwork(cmd.Context(), c.ID, nc)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.aliases, "alias", nil, "add network-scoped alias for the container")
	f.StringVar(&o.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	f.StringVar(&o.ip6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	f.IntVar(&o.gwPriority, "gw-priority", 0, "highest gw-priority provides the default gateway; accepts positive and negative values")
	return cmd
}

// newNetworkDisconnectCommand is docker network disconnect.
func newNetworkDisconnectCommand(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := g.container(cmd.Context(), args[1])
			if err != nil {
				return err
			}
			err = a.engine.DisconnectNetwork(cmd.Context(), c.ID, args[0])
			if force && errdefs.IsNotFound(err) {
				return nil // -f: not connected is done
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the container to disconnect from a network (no error when it is not connected)")
	return cmd
}
