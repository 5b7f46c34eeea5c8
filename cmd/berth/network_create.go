package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
)

type networkCreateOptions struct {
	driver   string
	subnet   string
	gateway  string
	ipRange  string
	internal bool
	labels   []string
	ipv4     bool
	ipv6     bool
	opts     []string // -o KEY=VALUE: Docker's bridge driver options (netmgr.NetworkConfig.SetDriverOptions)
	aux      []string // --aux-address NAME=ADDRESS: addresses never given to a container
}

// newNetworkCreateCommand is `berth network create NAME`: a bridge network
// for `berth container run --network NAME`, as docker's.
func newNetworkCreateCommand(g *globalOptions) *cobra.Command {
	var o networkCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.ipv4 {
				return fmt.Errorf("--ipv4=false: a network without IPv4 is not supported: %w", errdefs.ErrInvalidArgument)
			}
			cfg, err := o.config(args[0])
			if err != nil {
				return err
			}
			a, err := g.open()
			if err != nil {
				return err
			}
			n, err := a.nets.Create(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, n.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "bridge", "driver to manage the network (only bridge)")
	f.StringVar(&o.subnet, "subnet", "", "subnet in CIDR format; default: one from the pool")
	f.StringVar(&o.gateway, "gateway", "", "gateway of the subnet; default: its first address")
	f.StringVar(&o.ipRange, "ip-range", "", "allocate container addresses from this part of the subnet")
	f.BoolVar(&o.internal, "internal", false, "restrict external access to the network")
	f.StringArrayVar(&o.labels, "label", nil, "set a label on the network (KEY=VALUE)")
	f.BoolVar(&o.ipv4, "ipv4", true, "enable IPv4 networking (berth's networks always have it)")
	f.BoolVar(&o.ipv6, "ipv6", false, "enable IPv6 networking (a subnet of the IPv6 pool unless --subnet names one)")
	f.StringArrayVarP(&o.opts, "opt", "o", nil, "set driver specific options (KEY=VALUE: the bridge's name, mtu, enable_icc, enable_ip_masquerade)")
	f.StringArrayVar(&o.aux, "aux-address", nil, "auxiliary IPv4 or IPv6 addresses used by Network driver (NAME=ADDRESS, in --subnet)")
	return cmd
}

func (o *networkCreateOptions) config(name string) (netmgr.NetworkConfig, error) {
	cfg := netmgr.NetworkConfig{Name: name, Internal: o.internal}
	switch name {
	case engine.DefaultNetwork, "host", "none", "default":
		return cfg, fmt.Errorf("network %q: a pre-defined network's name: %w", name, errdefs.ErrConflict)
	}
	if o.driver != "bridge" {
		return cfg, fmt.Errorf("--driver %q: only bridge is supported: %w", o.driver, errdefs.ErrInvalidArgument)
	}
	cfg.EnableIPv6 = o.ipv6
	var err error
	if o.subnet != "" {
		sub, err := netip.ParsePrefix(o.subnet)
		switch {
		case err != nil:
			return cfg, fmt.Errorf("--subnet %q: not a CIDR subnet: %w", o.subnet, errdefs.ErrInvalidArgument)
		case sub.Addr().Is6() && !o.ipv6:
			return cfg, fmt.Errorf("--subnet %q: an IPv6 subnet needs --ipv6: %w", o.subnet, errdefs.ErrInvalidArgument)
		case sub.Addr().Is6():
			cfg.Subnet6 = sub
		default:
			cfg.Subnet = sub
		}
	}
	if o.gateway != "" {
		if cfg.Gateway, err = netip.ParseAddr(o.gateway); err != nil {
			return cfg, fmt.Errorf("--gateway %q: not an IP address: %w", o.gateway, errdefs.ErrInvalidArgument)
		}
	}
	if o.ipRange != "" {
		if cfg.IPRange, err = netip.ParsePrefix(o.ipRange); err != nil {
			return cfg, fmt.Errorf("--ip-range %q: not a CIDR range: %w", o.ipRange, errdefs.ErrInvalidArgument)
		}
	}
	opts := map[string]string{}
	for _, kv := range o.opts {
		k, v, _ := strings.Cut(kv, "=")
		opts[k] = v
	}
	if err := cfg.SetDriverOptions(opts); err != nil {
		return cfg, fmt.Errorf("--opt %w", err)
	}
	for _, kv := range o.aux {
		name, addr, _ := strings.Cut(kv, "=")
		a, err := netip.ParseAddr(addr)
		switch {
		case name == "" || err != nil:
			return cfg, fmt.Errorf("--aux-address %q: want NAME=ADDRESS: %w", kv, errdefs.ErrInvalidArgument)
		case !cfg.Subnet.Contains(a) && !cfg.Subnet6.Contains(a):
			// Docker's words.
			return cfg, fmt.Errorf("--aux-address %q: no matching subnet for aux-address %s: %w", kv, a, errdefs.ErrInvalidArgument)
		}
		cfg.AuxAddresses = append(cfg.AuxAddresses, a)
	}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return cfg, fmt.Errorf("--label %q: want KEY=VALUE: %w", l, errdefs.ErrInvalidArgument)
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	return cfg, nil
}
