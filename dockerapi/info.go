package dockerapi

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
)

// InfoOptions are what Info reports of berth itself.
type InfoOptions struct {
	Version string // berth's version
	Root    string // the state root
	Runtime string // the OCI runtime's name or path
}

// Info is docker info's document (GET /info) for the machine and the
// engine eng: its containers by state, its images, and the machine's
// kernel, operating system, CPUs, memory and cgroup version.
func Info(ctx context.Context, eng *engine.Engine, o InfoOptions) (system.Info, error) {
	ctrs, err := eng.List(ctx, nil)
	if err != nil {
		return system.Info{}, err
	}
	imgs, err := eng.Images().List(ctx)
	if err != nil {
		return system.Info{}, err
	}
	host, _ := os.Hostname()
	runtimeName := o.Runtime
	if runtimeName == "" {
		runtimeName = "runc"
	}
	info := system.Info{
		ID:                 "berth",
		Containers:         len(ctrs),
		Images:             len(imgs),
		Driver:             "overlay2",
		DriverStatus:       [][2]string{{"Backing Filesystem", "overlayfs"}},
		DockerRootDir:      o.Root,
		OperatingSystem:    operatingSystem(),
		OSType:             runtime.GOOS,
		Architecture:       machine(),
		KernelVersion:      kernelVersion(),
		NCPU:               runtime.NumCPU(),
		Name:               host,
		ServerVersion:      o.Version,
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      cgroupVersion(),
		LoggingDriver:      "json-file",
		DefaultRuntime:     runtimeName,
		Runtimes:           map[string]system.RuntimeWithStatus{runtimeName: {Runtime: system.Runtime{Path: runtimeName}}},
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		InitBinary:         "berth-shim",
		SecurityOptions:    []string{"name=seccomp,profile=builtin"},
		LiveRestoreEnabled: true, // containers outlive berth: there is no daemon to stop
	}
	if mem, err := engine.MachineMemory(); err == nil {
		info.MemTotal = int64(mem)
	}
	for _, c := range ctrs {
		switch c.State.Status {
		case engine.StatusRunning, engine.StatusRestarting:
			info.ContainersRunning++
		case engine.StatusPaused:
			info.ContainersPaused++
		default:
			info.ContainersStopped++
		}
	}
	return info, nil
}

// cgroupVersion is "2" on a machine with the unified hierarchy alone,
// else "1" (cgroup v1, or the hybrid layout).
func cgroupVersion() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "2"
	}
	return "1"
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func machine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return runtime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

// operatingSystem is PRETTY_NAME of /etc/os-release, as docker reports it.
func operatingSystem() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			if s, err := strconv.Unquote(v); err == nil {
				return s
			}
			return v
		}
	}
	return runtime.GOOS
}
