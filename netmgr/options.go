package netmgr

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// The options of Docker's bridge driver that berth's bridges take
// (docker network create -o, Compose's driver_opts, the API's Options).
const (
	OptBridgeName         = "com.docker.network.bridge.name"
	OptMTU                = "com.docker.network.driver.mtu"
	OptEnableICC          = "com.docker.network.bridge.enable_icc"
	OptEnableIPMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
)

// driverOptions lists them, for the error naming an option berth does not
// take.
var driverOptions = []string{OptBridgeName, OptMTU, OptEnableICC, OptEnableIPMasquerade}

// SetDriverOptions sets in cfg what Docker's bridge driver options opts
// say: the bridge's name, the MTU, enable_icc (false: containers of the
// network cannot reach each other) and enable_ip_masquerade (false: no
// source NAT for connections out of the network). An option berth's
// bridge does not take is errdefs.ErrNotImplemented, a malformed value
// errdefs.ErrInvalidArgument; each names the option.
func (cfg *NetworkConfig) SetDriverOptions(opts map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := opts[k]
		switch k {
		case OptBridgeName:
			cfg.BridgeName = v
		case OptMTU:
			mtu, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s=%q: not a number: %w", k, v, errdefs.ErrInvalidArgument)
			}
			cfg.MTU = mtu
		case OptEnableICC, OptEnableIPMasquerade:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s=%q: not a boolean: %w", k, v, errdefs.ErrInvalidArgument)
			}
			if k == OptEnableICC {
				cfg.NoICC = !b
			} else {
				cfg.NoMasquerade = !b
			}
		default:
			return fmt.Errorf("%s: not supported (%s): %w", k, strings.Join(driverOptions, ", "), errdefs.ErrNotImplemented)
		}
	}
	return nil
}

// DriverOptions are the driver options of n as Docker's inspect shows
// them: the bridge's name, and the others where they are not the default.
func (n *Network) DriverOptions() map[string]string {
	out := map[string]string{OptBridgeName: n.Bridge}
	if n.MTU > 0 {
		out[OptMTU] = strconv.Itoa(n.MTU)
	}
	if n.NoICC {
		out[OptEnableICC] = "false"
	}
	if n.NoMasquerade {
		out[OptEnableIPMasquerade] = "false"
	}
	return out
}
