package engine

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setBlkio sets the block I/O weights and throttles; devices are given by
// host path and must be block devices in.BlockDevices knows. Weights are
// dropped when the kernel does not weigh block I/O (BlockIOWarnings says
// so).
func setBlkio(r *specs.LinuxResources, b *Blkio, in SpecInputs) error {
	if b == nil {
		return nil
	}
	if b.Weight != 0 && (b.Weight < 10 || b.Weight > 1000) {
		return invalid("blkio_config.weight %d: want 10-1000", b.Weight)
	}
	dev := func(field, path string) (DeviceInfo, error) {
		d, ok := in.BlockDevices[path]
		if !ok || d.Type != "b" {
			return d, invalid("blkio_config.%s: %q is not a block device of the host", field, path)
		}
		return d, nil
	}
	bio := &specs.LinuxBlockIO{}
	if in.BlkioWeight {
		if b.Weight != 0 {
			bio.Weight = ptr(b.Weight)
		}
		for _, w := range b.WeightDevice {
			d, err := dev("weight_device", w.Path)
			if err != nil {
				return err
			}
			if w.Weight < 10 || w.Weight > 1000 {
				return invalid("blkio_config.weight_device %s: weight %d: want 10-1000", w.Path, w.Weight)
			}
			wd := specs.LinuxWeightDevice{Weight: ptr(w.Weight)}
			wd.Major, wd.Minor = d.Major, d.Minor
			bio.WeightDevice = append(bio.WeightDevice, wd)
		}
	}
	for _, t := range []struct {
		field string
		in    []BlkioThrottle
		out   *[]specs.LinuxThrottleDevice
	}{
		{"device_read_bps", b.DeviceReadBps, &bio.ThrottleReadBpsDevice},
		{"device_write_bps", b.DeviceWriteBps, &bio.ThrottleWriteBpsDevice},
		{"device_read_iops", b.DeviceReadIOps, &bio.ThrottleReadIOPSDevice},
		{"device_write_iops", b.DeviceWriteIOps, &bio.ThrottleWriteIOPSDevice},
	} {
		for _, th := range t.in {
			d, err := dev(t.field, th.Path)
			if err != nil {
				return err
			}
			td := specs.LinuxThrottleDevice{Rate: th.Rate}
			td.Major, td.Minor = d.Major, d.Minor
			*t.out = append(*t.out, td)
		}
	}
	r.BlockIO = bio
	return nil
}

// BlockIOWarnings says what of c's block I/O settings OCISpec drops on a
// kernel that does not weigh block I/O, for Start to log.
func BlockIOWarnings(c ContainerConfig, weighs bool) []string {
	b := c.Resources.Blkio
	if b == nil || weighs || b.Weight == 0 && len(b.WeightDevice) == 0 {
		return nil
	}
	return []string{"the kernel does not weigh block I/O (no blkio.weight): blkio_config weights discarded"}
}

// blkioPaths are the devices c's block I/O settings name.
func blkioPaths(c ContainerConfig) []string {
	b := c.Resources.Blkio
	if b == nil {
		return nil
	}
	var out []string
	for _, w := range b.WeightDevice {
		out = append(out, w.Path)
	}
	for _, l := range [][]BlkioThrottle{b.DeviceReadBps, b.DeviceWriteBps, b.DeviceReadIOps, b.DeviceWriteIOps} {
		for _, t := range l {
			out = append(out, t.Path)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// blkioInputs finds the block devices c names and whether the kernel
// weighs block I/O (cgroups v1 blkio.weight or blkio.bfq.weight, v2
// io.weight or io.bfq.weight).
func blkioInputs(c ContainerConfig, in *SpecInputs) error {
	paths := blkioPaths(c)
	if c.Resources.Blkio == nil {
		return nil
	}
	in.BlockDevices = map[string]DeviceInfo{}
	for _, p := range paths {
		info, ok, err := statDevice(p)
		if err != nil {
			return fmt.Errorf("blkio_config: %s: %w", p, withClass(err, errdefs.ErrInvalidArgument))
		}
		if !ok || info.Type != "b" {
			return fmt.Errorf("blkio_config: %s: not a block device: %w", p, errdefs.ErrInvalidArgument)
		}
		in.BlockDevices[p] = info
	}
	for _, f := range []string{"blkio/blkio.weight", "blkio/blkio.bfq.weight", "io.weight", "io.bfq.weight"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + f); err == nil {
			in.BlkioWeight = true
		}
	}
	return nil
}

// setDeviceCgroupRules allows the devices of Docker's device cgroup rules
// ("c 1:3 mr", "a *:* rwm").
func setDeviceCgroupRules(l *specs.Linux, rules []string) error {
	for _, r := range rules {
		rule, err := ParseDeviceCgroupRule(r)
		if err != nil {
			return err
		}
		l.Resources.Devices = append(l.Resources.Devices, rule)
	}
	return nil
}

// ParseDeviceCgroupRule reads a device cgroup rule as Docker writes it:
// "TYPE MAJOR:MINOR ACCESS", TYPE one of a, b, c, MAJOR and MINOR numbers
// or *, ACCESS some of r, w, m. A malformed rule is
// errdefs.ErrInvalidArgument.
func ParseDeviceCgroupRule(r string) (specs.LinuxDeviceCgroup, error) {
	bad := func(why string) (specs.LinuxDeviceCgroup, error) {
		return specs.LinuxDeviceCgroup{}, invalid("device_cgroup_rules: %q: %s", r, why)
	}
	f := strings.Fields(r)
	if len(f) != 3 {
		return bad(`want "TYPE MAJOR:MINOR ACCESS", e.g. "c 1:3 mr"`)
	}
	if f[0] != "a" && f[0] != "b" && f[0] != "c" {
		return bad("type " + strconv.Quote(f[0]) + ": want a, b or c")
	}
	if f[2] == "" || strings.Trim(f[2], "rwm") != "" {
		return bad("access " + strconv.Quote(f[2]) + ": want some of r, w, m")
	}
	out := specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Access: f[2]}
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad("want MAJOR:MINOR")
	}
	for _, n := range []struct {
		s   string
		dst **int64
	}{{maj, &out.Major}, {min, &out.Minor}} {
		if n.s == "*" {
			continue
		}
		v, err := strconv.ParseInt(n.s, 10, 64)
		if err != nil || v < 0 {
			return bad(strconv.Quote(n.s) + " is not a device number or *")
		}
		*n.dst = ptr(v)
	}
	return out, nil
}

// blkioWarn logs what BlockIOWarnings says.
func (e *Engine) blkioWarn(ctx context.Context, c ContainerConfig, in SpecInputs) {
	for _, w := range BlockIOWarnings(c, in.BlkioWeight) {
		e.log.WarnContext(ctx, w, "container", c.Name)
	}
}
