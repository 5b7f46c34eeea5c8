package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Stats is one sample of a running container's resource use, read from its
// cgroup (v1, or v2 when the host has only that) and its network namespace.
type Stats struct {
	Read time.Time
	// CPUTotal is the CPU time its processes used, in nanoseconds;
	// SystemCPU the host's CPU time, in nanoseconds, at the same moment
	// (the denominator of a CPU share between two samples).
	CPUTotal, SystemCPU uint64
	OnlineCPUs          int
	// MemUsage is its memory use less the page cache, as Docker shows it;
	// MemLimit its limit (the host's memory when it has none).
	MemUsage, MemLimit uint64
	PIDs, PIDsLimit    uint64 // PIDsLimit 0: none
	// BlkRead and BlkWrite are the bytes read from and written to block
	// devices.
	BlkRead, BlkWrite uint64
	// Networks are the counters of its interfaces by name, loopback left out.
	Networks map[string]NetStats
}

// NetTotals are the bytes received and sent on all its interfaces.
func (s Stats) NetTotals() (rx, tx uint64) {
	for _, n := range s.Networks {
		rx += n.RxBytes
		tx += n.TxBytes
	}
	return rx, tx
}

// CPUPercent is the share of one CPU the container used between two
// samples, times the number of CPUs (docker's CPU %: 200% is two CPUs
// busy). 0 when the samples do not tell.
func CPUPercent(prev, cur Stats) float64 {
	if cur.CPUTotal < prev.CPUTotal || cur.SystemCPU <= prev.SystemCPU {
		return 0
	}
	cpu := float64(cur.CPUTotal - prev.CPUTotal)
	sys := float64(cur.SystemCPU - prev.SystemCPU)
	return cpu / sys * float64(cur.OnlineCPUs) * 100
}

// MachineMemory is the host's memory in bytes.
func MachineMemory() (uint64, error) {
	if m := hostMemory(); m > 0 {
		return m, nil
	}
	return 0, errors.New("/proc/meminfo: no MemTotal")
}

// NetStats are the counters of one network interface, as the container sees them.
type NetStats struct {
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// Stats samples the resource use of running container id.
// errdefs.ErrNotFound for an unknown container, ErrFailedPrecondition when
// it is not running.
func (e *Engine) Stats(ctx context.Context, id ContainerID) (Stats, error) {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return Stats{}, err
	}
	if rec == nil {
		return Stats{}, fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return Stats{}, err
	}
	if (st.Status != StatusRunning && st.Status != StatusPaused) || st.Pid == 0 {
		return Stats{}, fmt.Errorf("container %q is %s, not running: %w", rec.Config.Name, st.Status, errdefs.ErrFailedPrecondition)
	}
	cg := cgroupsPath(rec.Config, rec.ID)
	s := Stats{Read: time.Now().UTC(), OnlineCPUs: runtime.NumCPU(), Networks: map[string]NetStats{}}
	if s.SystemCPU, err = systemCPU(); err != nil {
		return s, err
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "memory", cg)); err == nil {
		err = cgroupV1Stats(cg, &s)
	} else {
		err = cgroupV2Stats(cg, &s)
	}
	if err != nil {
		return s, fmt.Errorf("container %q: cgroup: %w", rec.Config.Name, err)
	}
	if s.MemLimit == 0 || s.MemLimit >= 1<<62 {
		s.MemLimit = hostMemory()
	}
	if err := netStats(st.Pid, s.Networks); err != nil {
		return s, fmt.Errorf("container %q: network counters: %w", rec.Config.Name, err)
	}
	return s, nil
}

func cgroupV1Stats(cg string, s *Stats) error {
	v1 := func(ctrl, file string) string { return filepath.Join(cgroupRoot, ctrl, cg, file) }
	var err error
	if s.CPUTotal, err = readUint(v1("cpuacct", "cpuacct.usage")); err != nil {
		return err
	}
	if s.MemUsage, err = readUint(v1("memory", "memory.usage_in_bytes")); err != nil {
		return err
	}
	if s.MemLimit, err = readUint(v1("memory", "memory.limit_in_bytes")); err != nil {
		return err
	}
	stat, err := readKeyed(v1("memory", "memory.stat"))
	if err != nil {
		return err
	}
	if cache := stat["total_inactive_file"]; cache < s.MemUsage {
		s.MemUsage -= cache
	}
	if s.PIDs, err = readUint(v1("pids", "pids.current")); err != nil {
		return err
	}
	s.PIDsLimit, _ = readUint(v1("pids", "pids.max")) // "max": none
	return blkioV1(v1("blkio", "blkio.throttle.io_service_bytes_recursive"), s)
}

func blkioV1(p string, s *Stats) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text()) // MAJ:MIN Op bytes
		if len(fs) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(fs[2], 10, 64)
		switch fs[1] {
		case "Read":
			s.BlkRead += n
		case "Write":
			s.BlkWrite += n
		}
	}
	return sc.Err()
}

func cgroupV2Stats(cg string, s *Stats) error {
	v2 := func(file string) string { return filepath.Join(cgroupRoot, cg, file) }
	cpu, err := readKeyed(v2("cpu.stat"))
	if err != nil {
		return err
	}
	s.CPUTotal = cpu["usage_usec"] * 1000
	if s.MemUsage, err = readUint(v2("memory.current")); err != nil {
		return err
	}
	s.MemLimit, _ = readUint(v2("memory.max"))
	if mem, err := readKeyed(v2("memory.stat")); err == nil && mem["inactive_file"] < s.MemUsage {
		s.MemUsage -= mem["inactive_file"]
	}
	s.PIDs, _ = readUint(v2("pids.current"))
	s.PIDsLimit, _ = readUint(v2("pids.max"))
	return nil
}

// systemCPU is the host's CPU time in nanoseconds from /proc/stat, as
// Docker counts it.
func systemCPU() (uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fs := strings.Fields(line)
	if len(fs) < 8 || fs[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var ticks uint64
	for _, f := range fs[1:8] {
		n, _ := strconv.ParseUint(f, 10, 64)
		ticks += n
	}
	const clockTicks = 100 // USER_HZ on Linux
	return ticks * (uint64(time.Second) / clockTicks), nil
}

// hostMemory is the host's memory in bytes.
func hostMemory() uint64 {
	m, err := readKeyed("/proc/meminfo")
	if err != nil {
		return 0
	}
	return m["MemTotal:"] * 1024
}

// netStats reads /proc/PID/net/dev: the counters of the interfaces of
// PID's network namespace.
func netStats(pid int, out map[string]NetStats) error {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if errors.Is(err, fs.ErrNotExist) {
		return nil // it exited meanwhile
	}
	if err != nil {
		return err
	}
	parseNetDev(b, out)
	return nil
}

// parseNetDev reads the counters of a /proc/net/dev, loopback left out.
func parseNetDev(b []byte, out map[string]NetStats) {
	lines := strings.Split(string(b), "\n")
	for _, l := range lines[min(2, len(lines)):] {
		name, rest, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" {
			continue
		}
		var v [16]uint64
		for i, f := range strings.Fields(rest) {
			if i < len(v) {
				v[i], _ = strconv.ParseUint(f, 10, 64)
			}
		}
		out[name] = NetStats{RxBytes: v[0], RxPackets: v[1], RxErrors: v[2], RxDropped: v[3],
			TxBytes: v[8], TxPackets: v[9], TxErrors: v[10], TxDropped: v[11]}
	}
}

// readUint reads a file holding one number.
func readUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// readKeyed reads a file of "key value" lines (memory.stat, cpu.stat,
// meminfo).
func readKeyed(p string) (map[string]uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		if len(fs) >= 2 {
			out[fs[0]], _ = strconv.ParseUint(fs[1], 10, 64)
		}
	}
	return out, nil
}
