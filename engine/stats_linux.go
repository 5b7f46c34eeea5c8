package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// ContainerStats is one reading of a running container's use of the
// machine, as docker stats reads it: counters only; rates (CPU %) come from
// two readings (see CPUPercent).
type ContainerStats struct {
	Read       time.Time
	CPUUsage   uint64 // nanoseconds of CPU time the container's processes used, in all
	SystemCPU  uint64 // nanoseconds of CPU time the machine has had, in all (every CPU)
	OnlineCPUs int
	MemUsage   uint64 // bytes of memory in use, less the inactive page cache
	MemLimit   uint64 // the container's memory limit; the machine's memory when it has none
	NetRx      uint64 // bytes received on its network interfaces (loopback left out)
	NetTx      uint64
	BlockRead  uint64 // bytes read from and written to block devices
	BlockWrite uint64
	Pids       uint64 // processes and threads
}

// CPUPercent is the share of one CPU the container used between two
// readings, times the number of CPUs (docker's CPU %: 200% is two CPUs
// busy). 0 when the readings do not tell.
func CPUPercent(prev, cur ContainerStats) float64 {
	if cur.CPUUsage < prev.CPUUsage || cur.SystemCPU <= prev.SystemCPU {
		return 0
	}
	cpu := float64(cur.CPUUsage - prev.CPUUsage)
	sys := float64(cur.SystemCPU - prev.SystemCPU)
	return cpu / sys * float64(cur.OnlineCPUs) * 100
}

// Stats reads the resource use of the running container id from its
// control groups (cgroup v1) and its network namespace.
// errdefs.ErrNotFound for an unknown container; errdefs.ErrFailedPrecondition
// when it is not running, or on a machine with cgroup v2 only.
func (e *Engine) Stats(ctx context.Context, id ContainerID) (ContainerStats, error) {
	var st ContainerStats
	pid, err := e.runningPid(string(id))
	if err != nil {
		return st, err
	}
	groups, err := readCgroups(pid)
	if err != nil {
		return st, fmt.Errorf("container %q: %w", id, err)
	}
	v1 := func(ctrl, file string) string {
		return filepath.Join("/sys/fs/cgroup", ctrl, groups[ctrl], file)
	}
	if _, ok := groups["memory"]; !ok {
		return st, fmt.Errorf("container %q: stats need cgroup v1 (memory, cpuacct, blkio, pids): %w", id, errdefs.ErrFailedPrecondition)
	}
	st.Read = time.Now()
	if st.SystemCPU, st.OnlineCPUs, err = systemCPU(); err != nil {
		return st, err
	}
	if st.CPUUsage, err = readUint(v1("cpuacct", "cpuacct.usage")); err != nil {
		return st, err
	}
	usage, err := readUint(v1("memory", "memory.usage_in_bytes"))
	if err != nil {
		return st, err
	}
	memStat, err := readKeyed(v1("memory", "memory.stat"))
	if err != nil {
		return st, err
	}
	// As docker's CLI: the inactive page cache can be reclaimed at once.
	if inactive := memStat["total_inactive_file"]; inactive < usage {
		usage -= inactive
	}
	st.MemUsage = usage
	if st.MemLimit, err = readUint(v1("memory", "memory.limit_in_bytes")); err != nil {
		return st, err
	}
	if total, err := MachineMemory(); err == nil && (st.MemLimit == 0 || st.MemLimit > total) {
		st.MemLimit = total
	}
	if st.BlockRead, st.BlockWrite, err = blkioBytes(v1("blkio", "blkio.throttle.io_service_bytes_recursive")); err != nil {
		return st, err
	}
	if st.Pids, err = readUint(v1("pids", "pids.current")); err != nil {
		return st, err
	}
	if st.NetRx, st.NetTx, err = netBytes(pid); err != nil {
		return st, err
	}
	return st, ctx.Err()
}

// readCgroups reads /proc/PID/cgroup: the cgroup v1 path of each
// controller (a line "N:cpu,cpuacct:/path" names both).
func readCgroups(pid int) (map[string]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil, withClass(err, errdefs.ErrFailedPrecondition)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

func readUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return n, nil
}

// readKeyed reads a file of "key value" lines.
func readKeyed(p string) (map[string]uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on Linux.
const clockTicks = 100

// systemCPU reads the machine's CPU time, in nanoseconds, from the "cpu"
// line of /proc/stat (as docker does), and counts the CPUs it lists.
func systemCPU() (total uint64, cpus int, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(line)
		switch {
		case len(fields) > 0 && fields[0] == "cpu":
			for _, f := range fields[1:min(len(fields), 8)] { // user … softirq, steal: not guest time
				n, err := strconv.ParseUint(f, 10, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("/proc/stat: %w", err)
				}
				total += n
			}
		case len(fields) > 0 && strings.HasPrefix(fields[0], "cpu"):
			cpus++
		}
	}
	return total * (uint64(time.Second) / clockTicks), cpus, nil
}

// MachineMemory is the machine's memory in bytes (MemTotal of /proc/meminfo).
func MachineMemory() (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/meminfo: no MemTotal")
}

// blkioBytes sums the Read and Write lines of a blkio io_service_bytes file.
func blkioBytes(p string) (read, write uint64, err error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write, nil
}

// netBytes sums what the interfaces of the network namespace of pid,
// loopback left out, received and sent (/proc/PID/net/dev).
func netBytes(pid int) (rx, tx uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return 0, 0, err
	}
	return parseNetDev(b)
}

func parseNetDev(b []byte) (rx, tx uint64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, counters, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(counters)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("net/dev: %q: bad counters", strings.TrimSpace(name))
		}
		rx += r
		tx += t
	}
	return rx, tx, sc.Err()
}
