package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// placeholderRuntimeInputs fills in what Start would find on the machine,
// so that Create can check a configuration with OCISpec.
func placeholderRuntimeInputs(c ContainerConfig, in *SpecInputs) {
	in.Devices = map[string]DeviceInfo{}
	for _, d := range c.Devices {
		if host, _, _, err := ParseDevice(d); err == nil {
			in.Devices[host] = DeviceInfo{Type: "c"}
		}
	}
	if c.Resources.Blkio != nil {
		in.BlockDevices, in.BlkioWeight = map[string]DeviceInfo{}, true
		for _, p := range blkioPaths(c) {
			in.BlockDevices[p] = DeviceInfo{Type: "b"}
		}
	}
	if strings.HasPrefix(c.PidMode, "container:") {
		in.PidNSPath = "/proc/1/ns/pid"
	}
	if strings.HasPrefix(c.IpcMode, "container:") {
		in.IpcNSPath, in.IpcShmPath = "/proc/1/ns/ipc", "/dev/shm"
	}
}

// rlimitResource maps the runtime's rlimit names to the kernel's numbers.
var rlimitResource = map[string]int{
	"RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_AS": unix.RLIMIT_AS,
}

// runtimeInputs gathers from the machine what the runtime settings of the
// container need: the host's hard rlimits (and warns of those clamped),
// the devices, the group_add names, the namespaces of pid and ipc modes
// "container:…", and a seccomp profile file.
func (e *Engine) runtimeInputs(ctx context.Context, rootfs string, rec *record, in *SpecInputs) error {
	c := rec.Config
	for typ, res := range rlimitResource {
		var rl unix.Rlimit
		if err := unix.Getrlimit(res, &rl); err == nil {
			in.HostRlimits[typ] = rl.Max
		}
	}
	for _, w := range RlimitWarnings(c, in.HostRlimits) {
		e.log.WarnContext(ctx, w, "container", c.Name)
	}
	in.Devices = map[string]DeviceInfo{}
	for _, d := range c.Devices {
		host, _, _, err := ParseDevice(d)
		if err != nil {
			return err
		}
		info, ok, err := statDevice(host)
		if err != nil {
			return fmt.Errorf("devices: %s: %w", host, withClass(err, errdefs.ErrInvalidArgument))
		}
		if !ok {
			return fmt.Errorf("devices: %s: not a device node: %w", host, errdefs.ErrInvalidArgument)
		}
		in.Devices[host] = info
	}
	if err := blkioInputs(c, in); err != nil {
		return err
	}
	e.blkioWarn(ctx, c, *in)
	in.HostCapabilities = hostCapabilities()
	if c.Privileged {
		devs, err := hostDevices()
		if err != nil {
			return err
		}
		in.HostDevices = devs
	}
	if err := addGroups(rootfs, c.GroupAdd, &in.User); err != nil {
		return err
	}
	for _, m := range []struct {
		field, mode string
		ns          *string
		shm         *string
	}{{"pid", c.PidMode, &in.PidNSPath, nil}, {"ipc", c.IpcMode, &in.IpcNSPath, &in.IpcShmPath}} {
		ref, ok := strings.CutPrefix(m.mode, "container:")
		if !ok {
			continue
		}
		pid, err := e.runningPid(ctx, ref)
		if err != nil {
			return fmt.Errorf("%s %q: %w", m.field, m.mode, err)
		}
		*m.ns = fmt.Sprintf("/proc/%d/ns/%s", pid, m.field)
		if m.shm != nil {
			*m.shm = fmt.Sprintf("/proc/%d/root/dev/shm", pid)
		}
	}
	if f := SeccompFile(c); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("security_opt seccomp: %w", withClass(err, errdefs.ErrInvalidArgument))
		}
		in.SeccompProfile = b
	}
	return nil
}

// hostCapabilities is the bounding set of this process (CapBnd), by name;
// nil if unknown.
func hostCapabilities() []string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bits, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil
			}
			caps := []string{}
			for i, n := range allCapabilities { // in the kernel's order
				if bits&(1<<i) != 0 {
					caps = append(caps, n)
				}
			}
			return caps
		}
	}
	return nil
}

func statDevice(p string) (DeviceInfo, bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return DeviceInfo{}, false, err
	}
	info := DeviceInfo{Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)), Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		info.Type = "c"
	case unix.S_IFBLK:
		info.Type = "b"
	default:
		return info, false, nil
	}
	return info, true, nil
}

// hostDevices are the device nodes under /dev, as Docker gives a
// privileged container: all but the terminals of /dev/pts, /dev/console
// and what the container has its own of.
func hostDevices() (map[string]DeviceInfo, error) {
	out := map[string]DeviceInfo{}
	err := filepath.WalkDir("/dev", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a node that went away, a directory we cannot read
		}
		if d.IsDir() {
			switch p {
			case "/dev/pts", "/dev/shm", "/dev/mqueue":
				return filepath.SkipDir
			}
			return nil
		}
		if p == "/dev/console" || p == "/dev/ptmx" {
			return nil
		}
		if info, ok, err := statDevice(p); err == nil && ok {
			out[p] = info
		}
		return nil
	})
	return out, err
}

// runningPid is the init PID of the running container ref names.
func (e *Engine) runningPid(ctx context.Context, ref string) (int, error) {
	dir, rec, err := e.lookup(ref)
	if err != nil {
		return 0, err
	}
	if rec == nil {
		return 0, fmt.Errorf("container %q: being removed: %w", ref, errdefs.ErrNotFound)
	}
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return 0, err
	}
	if st.Status != StatusRunning || st.Pid == 0 {
		return 0, fmt.Errorf("container %q is %s, not running: %w", ref, st.Status, errdefs.ErrFailedPrecondition)
	}
	return st.Pid, nil
}

// addGroups adds the group_add groups, names looked up in the image's
// /etc/group, to the user's supplementary groups.
func addGroups(rootfs string, groups []string, u *ExecUser) error {
	var entries []groupEntry
	loaded := false
	for _, g := range groups {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			if !loaded {
				loaded = true
				p, err := securejoin.SecureJoin(rootfs, "/etc/group")
				if err != nil {
					return err
				}
				f, err := os.Open(p)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				if f != nil {
					entries, err = parseGroup(f)
					_ = f.Close()
					if err != nil {
						return fmt.Errorf("%s: %w", filepath.Join("/etc/group"), err)
					}
				}
			}
			i := slices.IndexFunc(entries, func(e groupEntry) bool { return e.name == g })
			if i < 0 {
				return fmt.Errorf("group_add: no group %q in the image's /etc/group: %w", g, errdefs.ErrInvalidArgument)
			}
			gid = uint64(entries[i].gid)
		}
		if !slices.Contains(u.AdditionalGIDs, uint32(gid)) {
			u.AdditionalGIDs = append(u.AdditionalGIDs, uint32(gid))
		}
	}
	return nil
}
