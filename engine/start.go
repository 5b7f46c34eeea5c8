package engine

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/atomicfile"
)

// readyTimeout bounds the wait for the shim's readiness report; the runtime
// takes tens of milliseconds.
const readyTimeout = 2 * time.Minute

// Start starts a created or exited container and returns once its process
// runs, or with the runtime's error in one line (`container "x": start:
// exec: "nope": executable file not found in $PATH`), having undone what it
// did: no mount, sandbox or runtime state is left. The error is also
// recorded in the container's State. Starting a running container is a
// no-op.
func (e *Engine) Start(ctx context.Context, id ContainerID) error {
	if e.starts != nil { // see startSlots
		select {
		case e.starts <- struct{}{}:
			defer func() { <-e.starts }()
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	dir, rec, unlock, err := e.lockContainer(ctx, string(id))
	if err != nil {
		return err
	}
	defer unlock()
	if rec == nil {
		return fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	if err := e.startLocked(ctx, dir, rec); err != nil {
		return fmt.Errorf("container %q: start: %w", rec.Config.Name, err)
	}
	return nil
}

func (e *Engine) startLocked(ctx context.Context, dir string, rec *record) (retErr error) {
	if rec.portsErr != nil {
		return rec.portsErr
	}
	sf, st, err := e.readObserved(ctx, dir)
	if err != nil {
		return err
	}
	if active(st.Status) {
		return nil
	}
	if sf, err = e.settleLostLocked(ctx, dir, rec, sf); err != nil {
		return err
	}
	// The shim records the start event (it knows it before an exit can
	// be reaped; the engine would record it after a fast exit's die).
	began := time.Now()
	rtPath, err := e.runtimePath(rec.Config.Runtime)
	if err != nil {
		return err
	}
	if e.opt.Shim == "" {
		return withClass(errors.New("this berth carries no shim and cannot start containers: build it with `make build`"), errdefs.ErrFailedPrecondition)
	}
	if rec.Config.Init {
		if err := checkStatic(e.opt.Shim); err != nil {
			return err
		}
	}
	// What an earlier run left behind (it ended on its own, or its shim died).
	if err := e.releaseRun(ctx, dir, rec.ID, rec, !shimFinished(sf)); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			e.recordStartError(dir, sf, st, retErr)
		}
	}()

	layers, err := e.rootfsLayers(ctx, rec)
	if err != nil {
		return err
	}
	rootfs := filepath.Join(dir, ctrstate.RootfsDir)
	var extra []string
	if len(rec.Config.RootfsLayers) > 0 {
		extra = fullUpperOptions
	}
	if err := mountOverlay(layers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), rootfs, extra...); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, unmount(rootfs))
		}
	}()

	if usesDefaultNetwork(rec.Config) {
		if err := e.ensureDefaultNetwork(ctx); err != nil {
			return err
		}
	}
	netns, eps, err := e.connect(ctx, dir, rec)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil && len(rec.Config.Networks) > 0 {
			_ = os.Remove(filepath.Join(dir, ctrstate.EndpointsFile))
			retErr = errors.Join(retErr, e.nets.RemoveSandbox(context.WithoutCancel(ctx), string(rec.ID)))
		}
	}()

	in, err := e.specInputs(ctx, dir, rec, netns, eps)
	if err != nil {
		return err
	}
	spec, err := OCISpec(rec.Config, rec.ImageConfig, in)
	if err != nil {
		return err
	}
	// Made again at every start: not synced to disk (atomicfile.Replace).
	b, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	if err := atomicfile.Replace(filepath.Join(dir, ctrstate.BundleDir, "config.json"), b, 0o600); err != nil {
		return err
	}
	if err := clearStopping(dir); err != nil {
		return err
	}
	// Joined and mounted before the start, as Docker reports them; a
	// start that fails from here leaves them again.
	var own []endpointRecord
	if _, shared := strings.CutPrefix(rec.Config.NetworkMode, "container:"); !shared {
		own = eps
	}
	e.runEvents(ctx, true, rec.ID, own, rec.volumeMounts())
	defer func() {
		if retErr != nil {
			e.runEvents(ctx, false, rec.ID, own, rec.volumeMounts())
		}
	}()
	if err := e.startShim(ctx, dir, rec.ID, rtPath, append(shimArgs(rec), runcDeleteArgs(rtPath, rec)...)...); err != nil {
		return err
	}
	if len(eps) > 0 {
		if err := e.syncHosts(ctx); err != nil {
			// The container runs; only its peers' hosts files lag behind
			// until the next start or stop brings them up to date.
			e.log.WarnContext(ctx, "updating the hosts files of peers failed", "container", rec.Config.Name, "err", err)
		}
	}
	e.log.DebugContext(ctx, "container started", "container", rec.Config.Name, "took", time.Since(began))
	return nil
}

// fullUpperOptions make an overlay's upper directory hold every change in
// full: no renamed directory as a redirect to its lower, no file copied up
// as metadata only.
var fullUpperOptions = []string{"redirect_dir=off", "metacopy=off"}

// rootfsLayers returns the overlay lower directories of a container: its
// RootfsLayers, else its image's layers.
func (e *Engine) rootfsLayers(ctx context.Context, rec *record) ([]string, error) {
	if len(rec.Config.RootfsLayers) > 0 {
		return rec.Config.RootfsLayers, nil
	}
	img, err := e.images.Resolve(ctx, rec.ImageID)
	if err != nil {
		return nil, err
	}
	return e.images.LayerDirs(ctx, img)
}

// connect makes the container's network sandbox and attaches it to its
// networks (eth0, eth1, … in order), recording the endpoints. No networks:
// no sandbox; the runtime makes a namespace with loopback only.
func (e *Engine) connect(ctx context.Context, dir string, rec *record) (netns string, eps []endpointRecord, retErr error) {
	if ns, shared, ok, err := e.sharedNetns(ctx, rec.Config); ok || err != nil {
		return ns, shared, err
	}
	if len(rec.Config.Networks) == 0 {
		return "", nil, nil
	}
	if e.nets == nil {
		return "", nil, fmt.Errorf("networks: the engine has no network manager: %w", errdefs.ErrFailedPrecondition)
	}
	id := string(rec.ID)
	netns, err := e.nets.CreateSandbox(ctx, id)
	if err != nil {
		return "", nil, fmt.Errorf("network sandbox: %w", err)
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, e.nets.RemoveSandbox(context.WithoutCancel(ctx), id))
		}
	}()
	for i, nc := range attachOrder(rec.Config.Networks) {
		ifname := fmt.Sprintf("eth%d", i)
		if nc.InterfaceName != "" {
			ifname = nc.InterfaceName
		}
		ep, err := e.nets.ConnectWith(ctx, nc.Network, id, e.connectOptions(rec, nc, ifname, i == 0))
		if err != nil {
			return "", nil, fmt.Errorf("network %q: %w", nc.Network, err)
		}
		eps = append(eps, endpointRecordOf(nc, ifname, ep))
	}
	f := endpointsFile{Version: endpointsVersion, Endpoints: eps}
	if err := atomicfile.WriteJSON(filepath.Join(dir, ctrstate.EndpointsFile), f, 0o644); err != nil {
		return "", nil, err
	}
	return netns, eps, nil
}

// specInputs gathers what OCISpec needs from the machine and writes the
// files bind-mounted at /etc/hosts, /etc/resolv.conf and /etc/hostname.
func (e *Engine) specInputs(ctx context.Context, dir string, rec *record, netns string, eps []endpointRecord) (SpecInputs, error) {
	rootfs := filepath.Join(dir, ctrstate.RootfsDir)
	in := SpecInputs{
		ID:                rec.ID,
		Rootfs:            rootfs,
		NetNS:             netns,
		HostRlimits:       map[string]uint64{},
		RecursiveReadOnly: kernelAtLeast(5, 12),
		HostsPath:         filepath.Join(dir, "hosts"),
		ResolvConfPath:    filepath.Join(dir, "resolv.conf"),
		HostnamePath:      filepath.Join(dir, "hostname"),
		InitPath:          e.opt.Shim,
		VolumePaths:       map[string]string{},
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
		in.HostRlimits["RLIMIT_NOFILE"] = rl.Max
	}
	user, err := resolveUserInRootfs(rootfs, userSpec(rec))
	if err != nil {
		return in, err
	}
	in.User = user
	if err := e.runtimeInputs(ctx, rootfs, rec, &in); err != nil {
		return in, err
	}
	in.EndpointSysctls = endpointSysctls(rec.Config.Networks, eps)
	if err := e.prepareMounts(ctx, dir, rec, rootfs, &in); err != nil {
		return in, err
	}
	hostname := containerHostname(rec.Config, rec.ID)
	if err := writeInPlace(in.HostnamePath, []byte(hostname+"\n")); err != nil {
		return in, err
	}
	host, err := os.ReadFile(e.hostResolvConf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return in, fmt.Errorf("resolv.conf: %w", err)
	}
	if err := writeInPlace(in.ResolvConfPath, resolvConfFor(host, rec.Config, eps)); err != nil {
		return in, err
	}
	if err := e.writeOwnHosts(ctx, memberOf(dir, rec, eps)); err != nil {
		return in, fmt.Errorf("hosts: %w", err)
	}
	return in, nil
}

func userSpec(rec *record) string {
	if rec.Config.User != "" {
		return rec.Config.User
	}
	return rec.ImageConfig.User
}

func parseHostIP(s string) (netip.Addr, error) { return netip.ParseAddr(s) }

// checkStatic refuses a shim binary that needs a dynamic loader: mounted
// into a container as its init, it would find no libc there.
func checkStatic(exe string) error {
	f, err := elf.Open(exe)
	if err != nil {
		return fmt.Errorf("init: %s: %w", exe, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return withClass(fmt.Errorf("init: %s is dynamically linked and cannot run inside the container (build it with `make build`, which links it statically)", exe), errdefs.ErrFailedPrecondition)
		}
	}
	return nil
}

// startShim starts the shim and waits for its readiness report: nil when
// the container runs, else the shim's one-line error. If ctx ends first,
// the shim is killed and the runtime's state removed.
func (e *Engine) startShim(ctx context.Context, dir string, id ContainerID, rtPath string, extra ...string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	// --berth: for what only berth does (auto-removal).
	args := []string{"shim", "--root", e.opt.Root, "--run-dir", e.opt.RunDir, "--runtime", rtPath, "--id", string(id), "--berth", e.opt.Exe}
	args = append(args, extra...)
	if e.log.Enabled(ctx, slog.LevelDebug) {
		args = append(args, "--debug")
	}
	shimLog, err := os.OpenFile(filepath.Join(dir, ctrstate.ShimLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		_ = w.Close()
		return err
	}
	defer shimLog.Close()
	cmd := exec.Command(e.opt.Shim, args...)
	cmd.Dir = "/"
	cmd.Stderr = shimLog
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	e.log.DebugContext(ctx, "exec shim", "cmd", e.opt.Shim+" "+strings.Join(args, " "))
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		return fmt.Errorf("shim: %w", err)
	}
	// Reap the shim when it exits while this process still runs; once this
	// process is gone it is reparented and reaped by init.
	go func() { _ = cmd.Wait() }()

	type result struct {
		msg []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(r, 64<<10))
		done <- result{b, err}
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		res.err = context.Cause(ctx)
	case <-timer.C:
		res.err = fmt.Errorf("shim: not ready after %s", readyTimeout)
	}
	if res.err == nil && len(res.msg) == 0 {
		// Closed without a word: started, unless the shim died (a crash
		// also closes the pipe); then it recorded no state of its own.
		sf, err := readState(dir)
		if err == nil && sf.ShimPid == cmd.Process.Pid && sf.Status != StatusCreated {
			return nil
		}
		res.err = fmt.Errorf("shim: exited without starting the container (see %s)", filepath.Join(dir, ctrstate.ShimLogFile))
	}
	if res.err == nil && len(res.msg) > 0 {
		return errors.New(strings.Join(strings.Fields(string(res.msg)), " "))
	}
	// Killed half-way: take down what it may have made.
	_ = cmd.Process.Kill()
	<-done
	rt := runtimeCmd{e: e, path: rtPath}
	res.err = errors.Join(res.err, rt.delete(context.WithoutCancel(ctx), id, true))
	return res.err
}

// recordStartError keeps the failed start in the state, as Docker does:
// the status stays what it was, Error says why, and the exit code is 127
// for a command not found, 126 for one that cannot be run, else 128.
func (e *Engine) recordStartError(dir string, sf stateFile, st State, err error) {
	msg := err.Error()
	code := 128
	switch {
	case strings.Contains(msg, "not found"), strings.Contains(msg, "no such file"):
		code = 127
	case strings.Contains(msg, "permission denied"):
		code = 126
	}
	sf.State = State{Status: StatusCreated, ExitCode: code, Error: msg, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt}
	if st.Status == StatusExited {
		sf.Status = StatusExited
	}
	sf.Pid, sf.InitStart, sf.ShimPid, sf.ShimStart = 0, 0, 0, 0
	if werr := writeState(dir, sf); werr != nil {
		e.log.Warn("recording a failed start failed", "dir", dir, "err", werr)
	}
}

// kernelAtLeast reports whether the running kernel's version is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
