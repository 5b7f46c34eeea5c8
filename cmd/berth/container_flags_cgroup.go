package main

import (
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
)

// cgroupFlags are docker run's and create's flags for the container's
// cgroups, namespaces, runtime and annotations beyond runtimeFlags' basics.
type cgroupFlags struct {
	annotations      []string
	blkioWeight      uint16
	blkioWeightDev   []string
	cgroupParent     string
	cgroupns         string
	cpuPeriod        int64
	cpuQuota         int64
	cpuRTPeriod      int64
	cpuRTRuntime     int64
	cpusetCpus       string
	cpusetMems       string
	deviceCgroupRule []string
	readBps          []string
	readIOps         []string
	writeBps         []string
	writeIOps        []string
	memSwappiness    optionalInt // -1, as docker's default: the kernel's
	oomKillDisable   bool
	uts              string
	userns           string
	runtime          string
}

func (o *cgroupFlags) bind(f *pflag.FlagSet) {
	f.StringArrayVar(&o.annotations, "annotation", nil, "add an annotation to the container (passed through to the OCI runtime)")
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "block IO (relative weight), between 10 and 1000, or 0 to disable")
	f.StringArrayVar(&o.blkioWeightDev, "blkio-weight-device", nil, "block IO weight (relative device weight): DEVICE:WEIGHT")
	f.StringVar(&o.cgroupParent, "cgroup-parent", "", "optional parent cgroup for the container")
	f.StringVar(&o.cgroupns, "cgroupns", "", `cgroup namespace to use (host|private)`)
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&o.cpuRTPeriod, "cpu-rt-period", 0, "limit CPU real-time period in microseconds")
	f.Int64Var(&o.cpuRTRuntime, "cpu-rt-runtime", 0, "limit CPU real-time runtime in microseconds")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.StringArrayVar(&o.deviceCgroupRule, "device-cgroup-rule", nil, "add a rule to the cgroup allowed devices list")
	f.StringArrayVar(&o.readBps, "device-read-bps", nil, "limit read rate (bytes per second) from a device: DEVICE:RATE")
	f.StringArrayVar(&o.readIOps, "device-read-iops", nil, "limit read rate (IO per second) from a device: DEVICE:RATE")
	f.StringArrayVar(&o.writeBps, "device-write-bps", nil, "limit write rate (bytes per second) to a device: DEVICE:RATE")
	f.StringArrayVar(&o.writeIOps, "device-write-iops", nil, "limit write rate (IO per second) to a device: DEVICE:RATE")
	f.Var(&o.memSwappiness, "memory-swappiness", "tune container memory swappiness (1 to 100; -1: the kernel's)")
	f.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "disable OOM Killer")
	f.StringVar(&o.uts, "uts", "", "UTS namespace to use (host)")
	f.StringVar(&o.userns, "userns", "", "user namespace to use (host: berth never remaps users, so always the host's)")
	f.StringVar(&o.runtime, "runtime", "", "OCI runtime to use for this container (default: berth's --runtime)")
}

// apply sets c's fields from the flags. The engine checks the values
// again when it builds the container's OCI spec.
func (o *cgroupFlags) apply(c *engine.ContainerConfig) error {
	for _, a := range o.annotations {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return badFlag("annotation", a, "want KEY=VALUE")
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[k] = v
	}
	switch o.cgroupns {
	case "", "host", "private":
		c.CgroupnsMode = o.cgroupns
	default:
		return badFlag("cgroupns", o.cgroupns, "want host or private")
	}
	if o.userns != "" && o.userns != "host" {
		// As docker's: the only value is host, which turns off a daemon's
		// remapping; berth has none, containers use the host's user IDs.
		return badFlag("userns", o.userns, "want host")
	}
	switch o.uts {
	case "", "host":
		c.UTSMode = o.uts
	default:
		return badFlag("uts", o.uts, "want host")
	}
	c.CgroupParent, c.Runtime, c.DeviceCgroupRules = o.cgroupParent, o.runtime, o.deviceCgroupRule
	r := &c.Resources
	for _, v := range []struct {
		flag string
		n    int64
		dst  *int64
	}{
		{"cpu-period", o.cpuPeriod, &r.CPUPeriod}, {"cpu-quota", o.cpuQuota, &r.CPUQuota},
		{"cpu-rt-period", o.cpuRTPeriod, &r.CPURTPeriod}, {"cpu-rt-runtime", o.cpuRTRuntime, &r.CPURTRuntime},
	} {
		if v.n < 0 {
			return badFlag(v.flag, strconv.FormatInt(v.n, 10), "must not be negative")
		}
		*v.dst = v.n
	}
	if (o.cpuPeriod != 0 || o.cpuQuota != 0) && r.CPUs != 0 {
		return badFlag("cpus", strconv.FormatFloat(r.CPUs, 'g', -1, 64), "conflicts with --cpu-period and --cpu-quota")
	}
	r.CpusetCpus, r.CpusetMems = o.cpusetCpus, o.cpusetMems
	if n := o.memSwappiness.v; o.memSwappiness.set && n != -1 {
		if n < 1 || n > 100 {
			// 0 is the engine's "the kernel's default", not docker's "no swapping".
			return badFlag("memory-swappiness", strconv.Itoa(n), "want 1-100 (0 is not supported)")
		}
		r.MemSwappiness = int64(n)
	}
	r.OomKillDisable = o.oomKillDisable
	return o.applyBlkio(c)
}

func (o *cgroupFlags) applyBlkio(c *engine.ContainerConfig) error {
	b := engine.Blkio{Weight: o.blkioWeight}
	if b.Weight != 0 && (b.Weight < 10 || b.Weight > 1000) {
		return badFlag("blkio-weight", strconv.Itoa(int(b.Weight)), "want 10-1000")
	}
	for _, v := range o.blkioWeightDev {
		path, w, ok := strings.Cut(v, ":")
		n, err := strconv.ParseUint(w, 10, 16)
		if !ok || !strings.HasPrefix(path, "/dev/") || err != nil || n < 10 || n > 1000 {
			return badFlag("blkio-weight-device", v, "want DEVICE:WEIGHT, a /dev path and 10-1000")
		}
		b.WeightDevice = append(b.WeightDevice, engine.BlkioWeightDevice{Path: path, Weight: uint16(n)})
	}
	for _, t := range []struct {
		flag  string
		in    []string
		bytes bool
		out   *[]engine.BlkioThrottle
	}{
		{"device-read-bps", o.readBps, true, &b.DeviceReadBps},
		{"device-write-bps", o.writeBps, true, &b.DeviceWriteBps},
		{"device-read-iops", o.readIOps, false, &b.DeviceReadIOps},
		{"device-write-iops", o.writeIOps, false, &b.DeviceWriteIOps},
	} {
		for _, v := range t.in {
			path, rate, ok := strings.Cut(v, ":")
			var n int64
			var err error
			if t.bytes {
				n, err = units.RAMInBytes(rate)
			} else {
				n, err = strconv.ParseInt(rate, 10, 64)
			}
			if !ok || !strings.HasPrefix(path, "/dev/") || err != nil || n <= 0 {
				return badFlag(t.flag, v, "want DEVICE:RATE, a /dev path and a rate above 0")
			}
			*t.out = append(*t.out, engine.BlkioThrottle{Path: path, Rate: uint64(n)})
		}
	}
	if b.Weight != 0 || len(b.WeightDevice)+len(b.DeviceReadBps)+len(b.DeviceWriteBps)+len(b.DeviceReadIOps)+len(b.DeviceWriteIOps) > 0 {
		c.Resources.Blkio = &b
	}
	return nil
}
