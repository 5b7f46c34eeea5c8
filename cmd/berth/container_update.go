package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
)

func newContainerRenameCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			return a.engine.Rename(cmd.Context(), args[0], strings.TrimPrefix(args[1], "/"))
		},
	}
}

// containerUpdateOptions are docker update's flags, as given: only those
// set change the container.
type containerUpdateOptions struct {
	memory, memReservation, memSwap string
	cpus                            float64
	cpuShares, cpuQuota, cpuPeriod  int64
	cpuRTRuntime, cpuRTPeriod       int64
	cpusetCpus, cpusetMems          string
	pidsLimit                       int64
	blkioWeight                     uint16
	restart                         string
}

func newContainerUpdateCommand(g *globalOptions) *cobra.Command {
	var o containerUpdateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Long: "Update changes the resources and restart policy of containers. A running\n" +
			"container's cgroups get the new limits at once; every later start keeps them.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := o.update(cmd.Flags())
			if err != nil {
				return err
			}
			a, err := g.open()
			if err != nil {
				return err
			}
			var failed []string
			for _, ref := range args {
				if err := a.engine.Update(cmd.Context(), ref, u); err != nil {
					if len(args) == 1 {
						return err
					}
					fmt.Fprintln(g.stderr, "Error:", err)
					failed = append(failed, ref)
					continue
				}
				fmt.Fprintln(g.stdout, ref)
			}
			if len(failed) > 0 {
				return fmt.Errorf("updating %s failed", strings.Join(failed, ", "))
			}
			return nil
		},
	}
	o.bind(cmd.Flags())
	return cmd
}

func (o *containerUpdateOptions) bind(f *pflag.FlagSet) {
	f.StringVarP(&o.memory, "memory", "m", "", "memory limit")
	f.StringVar(&o.memReservation, "memory-reservation", "", "memory soft limit")
	f.StringVar(&o.memSwap, "memory-swap", "", "swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.Float64Var(&o.cpus, "cpus", 0, "number of CPUs")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuRTRuntime, "cpu-rt-runtime", 0, "limit the CPU real-time runtime in microseconds")
	f.Int64Var(&o.cpuRTPeriod, "cpu-rt-period", 0, "limit the CPU real-time period in microseconds")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "block IO (relative weight), between 10 and 1000, or 0 to disable")
	f.StringVar(&o.restart, "restart", "", "restart policy to apply when a container exits")
}

// update turns the flags that were set into an engine.ResourceUpdate; no
// flag at all is an error, as with docker.
func (o *containerUpdateOptions) update(fs *pflag.FlagSet) (engine.ResourceUpdate, error) {
	var u engine.ResourceUpdate
	changed := fs.Changed
	size := func(flag, v string, dst **int64) error {
		if !changed(flag) {
			return nil
		}
		n, err := units.RAMInBytes(v)
		if err != nil || n <= 0 {
			return badFlag(flag, v, "not a size (e.g. 512m, 1g)")
		}
		*dst = &n
		return nil
	}
	if err := size("memory", o.memory, &u.MemLimit); err != nil {
		return u, err
	}
	if err := size("memory-reservation", o.memReservation, &u.MemReservation); err != nil {
		return u, err
	}
	if changed("memory-swap") {
		n := int64(-1)
		if o.memSwap != "-1" {
			var err error
			if n, err = units.RAMInBytes(o.memSwap); err != nil || n <= 0 {
				return u, badFlag("memory-swap", o.memSwap, "not a size, or -1")
			}
		}
		u.MemSwapLimit = &n
	}
	if changed("cpus") {
		if o.cpus <= 0 {
			return u, badFlag("cpus", strconv.FormatFloat(o.cpus, 'g', -1, 64), "must be more than 0")
		}
		u.CPUs = &o.cpus
	}
	for _, v := range []struct {
		flag string
		src  int64
		dst  **int64
	}{
		{"cpu-shares", o.cpuShares, &u.CPUShares},
		{"cpu-quota", o.cpuQuota, &u.CPUQuota},
		{"cpu-period", o.cpuPeriod, &u.CPUPeriod},
		{"cpu-rt-runtime", o.cpuRTRuntime, &u.CPURTRuntime},
		{"cpu-rt-period", o.cpuRTPeriod, &u.CPURTPeriod},
	} {
		if !changed(v.flag) {
			continue
		}
		if v.src < 0 {
			return u, badFlag(v.flag, strconv.FormatInt(v.src, 10), "must not be negative")
		}
		n := v.src
		*v.dst = &n
	}
	if changed("pids-limit") {
		n := o.pidsLimit
		if n <= 0 { // 0 and -1: unlimited, as docker update
			n = -1
		}
		u.PidsLimit = &n
	}
	if changed("cpuset-cpus") {
		u.CpusetCpus = &o.cpusetCpus
	}
	if changed("cpuset-mems") {
		u.CpusetMems = &o.cpusetMems
	}
	if changed("blkio-weight") {
		if o.blkioWeight != 0 && (o.blkioWeight < 10 || o.blkioWeight > 1000) {
			return u, badFlag("blkio-weight", strconv.Itoa(int(o.blkioWeight)), "want 10-1000")
		}
		u.BlkioWeight = &o.blkioWeight
	}
	if changed("restart") {
		p, err := parseRestartPolicy(o.restart)
		if err != nil {
			return u, err
		}
		u.Restart = &p
	}
	if u == (engine.ResourceUpdate{}) {
		return u, fmt.Errorf("you must provide one or more flags when using this command: %w", errdefs.ErrInvalidArgument)
	}
	return u, nil
}

// parseRestartPolicy reads --restart: no, always, unless-stopped or
// on-failure[:N].
func parseRestartPolicy(v string) (engine.RestartPolicy, error) {
	var p engine.RestartPolicy
	name, n, hasN := strings.Cut(v, ":")
	p.Name = name
	if hasN {
		m, err := strconv.Atoi(n)
		if err != nil {
			return p, fmt.Errorf("--restart %q: %q is not a retry count: %w", v, n, errdefs.ErrInvalidArgument)
		}
		p.MaxRetries = m
	}
	switch p.Name {
	case "", "no", "always", "unless-stopped":
		if p.MaxRetries != 0 || hasN {
			return p, fmt.Errorf("--restart %q: maximum retry count is valid only with on-failure: %w", v, errdefs.ErrInvalidArgument)
		}
	case "on-failure":
		if p.MaxRetries < 0 {
			return p, fmt.Errorf("--restart %q: maximum retry count must not be negative: %w", v, errdefs.ErrInvalidArgument)
		}
	default:
		return p, fmt.Errorf("--restart %q: want no, always, on-failure[:N] or unless-stopped: %w", v, errdefs.ErrInvalidArgument)
	}
	return p, nil
}
