package engine

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/internal/rounds"
	"github.com/berth-dev/berth/internal/smallfile"
)

// recordVersion is the version of container.json this code writes. It
// reads version 1 too (recordV1).
const recordVersion = 2

// defaultStopTimeout is how long Stop waits before SIGKILL when neither the
// caller nor the container says.
const defaultStopTimeout = 10 * time.Second

// validName is what Docker accepts as a container name.
var validName = lazyregexp.New(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// record is container.json: what Create decided, never changed afterwards.
type record struct {
	Version     int             `json:"version"`
	ID          ContainerID     `json:"id"`
	Config      ContainerConfig `json:"config"`
	ImageID     string          `json:"image_id"`
	ImageConfig image.Config    `json:"image_config"` // the image's configuration at Create
	StopSignal  string          `json:"stop_signal"`  // resolved: the config's, the image's, or SIGTERM
	Created     time.Time       `json:"created"`

	// portsErr, not recorded, is why a version 1 record's ports cannot be
	// published; Start returns it. See recordV1.
	portsErr error
}

func (e *Engine) containersDir() string { return filepath.Join(e.opt.Root, "containers") }

func (e *Engine) containerDir(id ContainerID) string {
	return ctrstate.Dir(e.opt.Root, string(id))
}

// readRecord reads dir's container.json, of this version or of version 1.
func readRecord(dir string) (*record, error) {
	p := filepath.Join(dir, ctrstate.RecordFile)
	b, err := smallfile.Read(p)
	if err != nil {
		return nil, err
	}
	// Nearly every record is of the current version: decoded once, as
	// one. Any other, or one that does not decode as one, is told apart
	// by its version alone.
	var r record
	rerr := decodeJSON(p, b, &r)
	if rerr == nil && r.Version == recordVersion {
		return &r, nil
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := decodeJSON(p, b, &head); err != nil {
		return nil, err
	}
	switch head.Version {
	case recordVersion:
		return nil, rerr
	case 1:
		var r recordV1
		if err := decodeJSON(p, b, &r); err != nil {
			return nil, err
		}
		return r.upgrade(), nil
	}
	return nil, fmt.Errorf("%s: unknown version %d: %w", p, head.Version, errdefs.ErrDataLoss)
}

// isID tells whether s looks like a container ID (64 lower-case hex digits).
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	return isLowerHex(s)
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

func newID() ContainerID {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return ContainerID(hex.EncodeToString(b[:]))
}

type recordEntry struct {
	dir string
	rec *record
}

// allRecords reads every container's record. Directories without a record
// (a removal that was interrupted) are passed over; a corrupt record is an
// error naming its path.
func (e *Engine) allRecords() ([]recordEntry, error) {
	dirs, err := e.containerDirs()
	if err != nil {
		return nil, err
	}
	recs, err := readDirs(dirs, readRecord)
	if err != nil {
		return nil, err
	}
	out := make([]recordEntry, 0, len(dirs))
	for i, rec := range recs {
		if rec != nil {
			out = append(out, recordEntry{dir: dirs[i], rec: rec})
		}
	}
	return out, nil
}

// readDirs reads each of dirs with read, a few at a time (eachParallel),
// in dirs' order: nil for a directory whose file is gone (a removal that
// was interrupted), and the first other error.
func readDirs[T any](dirs []string, read func(dir string) (*T, error)) ([]*T, error) {
	out := make([]*T, len(dirs))
	err := eachParallel(len(dirs), func(i int) error {
		v, err := read(dirs[i])
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		out[i] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachParallel calls f(0) … f(n-1), a few at a time (twice as many as
// there are CPUs: reading the small state files is mostly waiting on
// syscalls), and returns the first error; after one, the calls not begun
// are not made. A process reads every container's record and state files
// for a plain `ps` or a no-op `up`; done in sequence that is most of their
// time. The few goroutines take the calls in turn, each growing its stack
// once rather than one goroutine per call growing its own.
func eachParallel(n int, f func(i int) error) error {
	if n <= 1 {
		for i := range n {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	var failed atomic.Bool
	var g errgroup.Group
	for range min(n, 2*runtime.GOMAXPROCS(0)) {
		g.Go(func() error {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return nil
				}
				if err := f(i); err != nil {
					failed.Store(true)
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// containerDirs lists the directories of the containers, records not read.
func (e *Engine) containerDirs() ([]string, error) {
	ents, err := os.ReadDir(e.containersDir())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("containers: %w", err)
	}
	var out []string
	for _, ent := range ents {
		if ent.IsDir() && isID(ent.Name()) {
			out = append(out, filepath.Join(e.containersDir(), ent.Name()))
		}
	}
	return out, nil
}

// lookup finds the container ref names: its ID, its name or a unique prefix
// of its ID. The record is nil for a directory whose removal was
// interrupted (found by full ID only).
func (e *Engine) lookup(ref string) (string, *record, error) {
	if isID(ref) {
		dir := e.containerDir(ContainerID(ref))
		if _, err := os.Stat(dir); err == nil {
			rec, err := readRecord(dir)
			if errors.Is(err, fs.ErrNotExist) {
				return dir, nil, nil
			}
			return dir, rec, err
		}
	}
	all, err := e.allRecords()
	if err != nil {
		return "", nil, err
	}
	for _, ent := range all {
		if ent.rec.Config.Name == ref {
			return ent.dir, ent.rec, nil
		}
	}
	var found []recordEntry
	if isLowerHex(ref) {
		for _, ent := range all {
			if strings.HasPrefix(string(ent.rec.ID), ref) {
				found = append(found, ent)
			}
		}
	}
	switch len(found) {
	case 0:
		return "", nil, fmt.Errorf("container %q: %w", ref, errdefs.ErrNotFound)
	case 1:
		return found[0].dir, found[0].rec, nil
	}
	return "", nil, fmt.Errorf("container %q: the prefix names %d containers: %w", ref, len(found), errdefs.ErrInvalidArgument)
}

// lockContainer finds the container ref names and takes its lock. The
// record is read again once the lock is held.
func (e *Engine) lockContainer(ctx context.Context, ref string) (dir string, rec *record, unlock func(), err error) {
	dir, _, err = e.lookup(ref)
	if err != nil {
		return "", nil, nil, err
	}
	unlock, err = lockDir(ctx, dir)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return "", nil, nil, fmt.Errorf("container %q: %w", ref, errdefs.ErrNotFound)
		}
		return "", nil, nil, err
	}
	rec, err = readRecord(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		unlock()
		return "", nil, nil, err
	}
	return dir, rec, unlock, nil
}

// Create makes a container: its record and directory, not yet mounted or
// started. An empty name becomes the ID's first 12 digits.
// errdefs.ErrConflict if the name is taken; errdefs.ErrNotFound for an
// unknown image; errdefs.ErrInvalidArgument for a configuration that cannot
// run (no command, a relative mount target, …);
// errdefs.ErrFailedPrecondition when the runtime binary is missing.
func (e *Engine) Create(ctx context.Context, cfg ContainerConfig) (*Container, error) {
	id := newID()
	if cfg.Name == "" {
		cfg.Name = string(id[:12])
	}
	made, err := e.createVolumes(ctx, cfg.Mounts)
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", cfg.Name, err)
	}
	c, err := e.create(ctx, id, cfg)
	if errdefs.IsConflict(err) && e.finishAutoRemoveNamed(ctx, cfg.Name) {
		// The name was held by an auto-remove container whose run was
		// over: it is gone now.
		c, err = e.create(ctx, id, cfg)
	}
	if err != nil {
		err = fmt.Errorf("container %q: %w", cfg.Name, err)
		for _, v := range made {
			err = errors.Join(err, e.vols.Remove(context.WithoutCancel(ctx), v))
		}
		return nil, err
	}
	e.events.Record(ctx, e.log, ContainerEvent("create", c.ID, c.Config))
	return c, nil
}

// createVolumes makes the named volumes among mounts that do not exist
// yet, as dockerd does (they stay when the container goes), and returns
// the names of those it made.
func (e *Engine) createVolumes(ctx context.Context, mounts []Mount) (made []string, retErr error) {
	defer func() {
		if retErr != nil {
			for _, v := range made {
				retErr = errors.Join(retErr, e.vols.Remove(context.WithoutCancel(ctx), v))
			}
			made = nil
		}
	}()
	for _, m := range mounts {
		if m.Type != "volume" || m.Source == "" {
			continue
		}
		_, err := e.vols.Create(ctx, m.Source, nil)
		switch {
		case err == nil:
			made = append(made, m.Source)
		case !errdefs.IsAlreadyExists(err):
			return made, fmt.Errorf("volume %q: %w", m.Source, err)
		}
	}
	return made, nil
}

func (e *Engine) create(ctx context.Context, id ContainerID, cfg ContainerConfig) (_ *Container, retErr error) {
	if !validName.MatchString(cfg.Name) {
		return nil, fmt.Errorf("invalid name: want [a-zA-Z0-9][a-zA-Z0-9_.-]*: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := e.runtimePath(cfg.Runtime); err != nil {
		return nil, err
	}
	img, err := e.createImage(ctx, cfg)
	if err != nil {
		return nil, err
	}
	stop, err := stopSignal(cfg, img.Config)
	if err != nil {
		return nil, err
	}
	if err := validateConfig(id, cfg, img.Config); err != nil {
		return nil, err
	}
	for i, l := range cfg.Links {
		name, _ := splitLink(l)
		if _, _, err := e.lookup(name); err != nil {
			return nil, fmt.Errorf("links[%d]: container %q: %w", i, name, err)
		}
	}
	for i, m := range cfg.Mounts {
		if m.Type == "image" {
			if _, err := e.images.Resolve(ctx, m.Source); err != nil {
				return nil, fmt.Errorf("mounts[%d]: image %q: %w", i, m.Source, err)
			}
		}
	}
	rec := &record{
		Version:     recordVersion,
		ID:          id,
		Config:      cfg,
		ImageID:     img.ID,
		ImageConfig: img.Config,
		StopSignal:  stop,
		Created:     time.Now().UTC(),
	}
	rec.Config.Labels = maps.Clone(cfg.Labels)

	if usesDefaultNetwork(cfg) {
		// The network exists from before the record is written; a Create
		// that fails leaves no network behind (defaultnet.go).
		done, err := e.holdDefaultNetwork(ctx)
		if err != nil {
			return nil, err
		}
		defer func() { retErr = errors.Join(retErr, done(retErr != nil)) }()
	}
	// The container's directory is made whole under a temporary name, then
	// renamed into place under the name lock, which is held only to claim
	// the name: Creates side by side write (and fsync) their records at the
	// same time rather than one after another.
	tmp := filepath.Join(e.containersDir(), ".tmp-"+ctrstate.Self()+"-"+string(id))
	defer func() {
		if retErr != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.MkdirAll(e.containersDir(), 0o711); err != nil {
		return nil, err
	}
	// The overlay's root takes the upper directory's mode: it must let
	// every user of the container through.
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"", 0o711}, {ctrstate.BundleDir, 0o711}, {ctrstate.RootfsDir, 0o755}, {"upper", 0o755}, {"work", 0o700}} {
		if err := os.Mkdir(filepath.Join(tmp, d.name), d.mode); err != nil {
			return nil, err
		}
		if err := os.Chmod(filepath.Join(tmp, d.name), d.mode); err != nil { // past the umask
			return nil, err
		}
	}
	if err := atomicfile.WriteJSON(filepath.Join(tmp, ctrstate.RecordFile), rec, 0o600); err != nil {
		return nil, err
	}
	if cfg.Logging.Driver == LogDriverNone {
		// The shim appends to the log as always; nothing is kept.
		if err := os.Symlink(os.DevNull, filepath.Join(tmp, ctrstate.LogFile)); err != nil {
			return nil, err
		}
	}
	sf := stateFile{Version: ctrstate.StateVersion, State: State{Status: StatusCreated}}
	if err := writeState(tmp, sf); err != nil {
		return nil, err
	}
	if err := e.claimName(ctx, cfg.Name, id, tmp); err != nil {
		return nil, err
	}
	e.log.DebugContext(ctx, "container created", "container", cfg.Name, "id", id)
	return newContainer(e.containerDir(id), rec, sf.State), nil
}

// createImage resolves the image a new container is made from; a container
// on RootfsLayers without an image has an empty one.
func (e *Engine) createImage(ctx context.Context, cfg ContainerConfig) (*image.Image, error) {
	if cfg.Image == "" && len(cfg.RootfsLayers) > 0 {
		for _, l := range cfg.RootfsLayers {
			if !filepath.IsAbs(l) {
				return nil, fmt.Errorf("rootfs layer %q: not an absolute path: %w", l, errdefs.ErrInvalidArgument)
			}
		}
		return &image.Image{}, nil
	}
	return e.images.Resolve(ctx, cfg.Image)
}

// UpperDir returns the directory that holds the changes a container made
// to its root filesystem (the overlay's upper directory): valid until the
// container is removed, and stable only while it is not running.
// errdefs.ErrNotFound for an unknown container.
func (e *Engine) UpperDir(ctx context.Context, id ContainerID) (string, error) {
	dir, rec, err := e.lookup(string(id))
	if err != nil {
		return "", err
	}
	if rec == nil {
		return "", fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	return filepath.Join(dir, "upper"), nil
}

// nameClaim is a Create's claim of a name (claimName).
type nameClaim struct {
	ctx  context.Context // the Create's
	name string
	id   ContainerID
	tmp  string // the container's directory, made whole under a temporary name
	err  error  // set by its round
}

// claimName gives the container id the name name, under the name lock:
// errdefs.ErrConflict if a container has it already, else the directory
// tmp is renamed into place. The claims of this Engine's concurrent
// Creates are made together (rounds.Queue): one holding of the lock and
// one reading of every record's name serve every claim queued, rather than
// one each; an up of 100 services read the 100 records a hundred times.
// Each claim is checked against the names of the claims before it in its
// round too. A round waits for the lock until the contexts of all its
// claims are done: one caller's cancellation fails no other's Create.
func (e *Engine) claimName(ctx context.Context, name string, id ContainerID, tmp string) error {
	c := &nameClaim{ctx: ctx, name: name, id: id, tmp: tmp}
	e.claims.Do(c, e.claimNames)
	return c.err
}

// claimNames makes a round of claims under one holding of the name lock.
func (e *Engine) claimNames(batch []*nameClaim) {
	fail := func(err error) {
		for _, c := range batch {
			c.err = err
		}
	}
	ctxs := make([]context.Context, len(batch))
	for i, c := range batch {
		ctxs[i] = c.ctx
	}
	ctx, cancel := rounds.Context(ctxs...)
	defer cancel()
	unlock, err := e.lockNames(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer unlock()
	users, err := e.nameUsers()
	if err != nil {
		fail(err)
		return
	}
	e.sweepTemp(true)
	for _, c := range batch {
		if other, ok := users[c.name]; ok {
			c.err = fmt.Errorf("container name %q is already in use by container %s: %w", c.name, other, errdefs.ErrConflict)
			continue
		}
		if c.err = os.Rename(c.tmp, e.containerDir(c.id)); c.err == nil {
			users[c.name] = c.id
		}
	}
}

// nameUsers returns the containers' IDs by name. It reads only the names
// of the records (readRecordName).
func (e *Engine) nameUsers() (map[string]ContainerID, error) {
	dirs, err := e.containerDirs()
	if err != nil {
		return nil, err
	}
	recs, err := readDirs(dirs, readRecordName)
	if err != nil {
		return nil, err
	}
	users := make(map[string]ContainerID, len(recs))
	for _, r := range recs {
		if r != nil {
			users[r.Name] = r.ID
		}
	}
	return users, nil
}

// sweepTemp removes the temporary directories of Creates that died half-way:
// ".tmp-<owner>-<id>", whose owner (ctrstate.Self) no longer runs, and, when
// the caller holds the name lock (locked), those of berth versions that
// named no owner (".tmp-<id>", made only under that lock).
func (e *Engine) sweepTemp(locked bool) {
	ents, _ := os.ReadDir(e.containersDir())
	for _, ent := range ents {
		rest, ok := strings.CutPrefix(ent.Name(), ".tmp-")
		if !ok {
			continue
		}
		owner, _, named := strings.Cut(rest, "-")
		if named && ctrstate.OwnerAlive(owner) || !named && !locked {
			continue
		}
		_ = os.RemoveAll(filepath.Join(e.containersDir(), ent.Name()))
	}
}

// validateConfig checks at Create what OCISpec would refuse at Start, by
// building the spec with placeholder inputs.
func validateConfig(id ContainerID, cfg ContainerConfig, img image.Config) error {
	in := SpecInputs{ID: id, Rootfs: "/", InitPath: "/", VolumePaths: map[string]string{}}
	placeholderRuntimeInputs(cfg, &in)
	for i, m := range cfg.Mounts {
		if m.Type == "volume" {
			if m.Source == "" {
				return fmt.Errorf("mounts[%d]: volume without a name: %w", i, errdefs.ErrInvalidArgument)
			}
			in.VolumePaths[m.Source] = "/"
		}
		if m.Type == "image" {
			if in.ImageLayers == nil {
				in.ImageLayers = map[int][]string{}
			}
			in.ImageLayers[i] = []string{"/"}
		}
	}
	if _, err := OCISpec(cfg, img, in); err != nil {
		return err
	}
	for i, h := range cfg.ExtraHosts {
		if _, err := parseHostIP(h.IP); err != nil || !oneField(h.IP) || len(h.Names) == 0 {
			return fmt.Errorf("extra_hosts[%d]: %q is not an IP address with names: %w", i, h.IP, errdefs.ErrInvalidArgument)
		}
	}
	if err := checkFileFields(cfg); err != nil {
		return err
	}
	if err := checkEndpointSysctls(cfg.Networks); err != nil {
		return err
	}
	for i, l := range cfg.Links {
		if name, alias := splitLink(l); !validName.MatchString(name) || !oneField(alias) {
			return fmt.Errorf("links[%d]: %q: want CONTAINER[:ALIAS]: %w", i, l, errdefs.ErrInvalidArgument)
		}
	}
	if cfg.StopTimeout != nil && *cfg.StopTimeout < 0 {
		return fmt.Errorf("stop_timeout: negative: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.AutoRemoveOwner != nil && !cfg.AutoRemove {
		return fmt.Errorf("auto_remove_owner without auto_remove: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.AutoRemove && cfg.Restart.Name != "" && cfg.Restart.Name != "no" {
		return fmt.Errorf("auto_remove with restart %q: a container removed when it exits cannot be restarted: %w", cfg.Restart.Name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// checkFileFields refuses the names and resolver settings that /etc/hosts
// and /etc/resolv.conf could not hold as one field each (see oneField): a
// space, a newline or a "#" in them would add names or lines there. Empty
// ones are left out of the files.
func checkFileFields(cfg ContainerConfig) error {
	fields := map[string][]string{"dns": cfg.DNS, "dns_search": cfg.DNSSearch, "dns_opt": cfg.DNSOptions}
	if cfg.Hostname != "" {
		fields["hostname"] = []string{cfg.Hostname}
	}
	for i, n := range cfg.Networks {
		fields[fmt.Sprintf("networks[%d].aliases", i)] = n.Aliases
	}
	for i, h := range cfg.ExtraHosts {
		fields[fmt.Sprintf("extra_hosts[%d]", i)] = h.Names
	}
	for _, field := range slices.Sorted(maps.Keys(fields)) {
		for _, v := range fields[field] {
			if v != "" && !oneField(v) {
				return fmt.Errorf("%s: %q holds a space, a control character or #: %w", field, v, errdefs.ErrInvalidArgument)
			}
		}
	}
	return nil
}

// stopSignal resolves the signal Stop sends: the container's, the image's,
// else SIGTERM, as a name ("SIGTERM") or number that the runtime takes.
func stopSignal(cfg ContainerConfig, img image.Config) (string, error) {
	s := cmp.Or(cfg.StopSignal, img.StopSignal, "SIGTERM")
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return "", fmt.Errorf("stop_signal %q: no such signal: %w", s, errdefs.ErrInvalidArgument)
		}
		return s, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if unix.SignalNum(name) == 0 {
		return "", fmt.Errorf("stop_signal %q: no such signal: %w", s, errdefs.ErrInvalidArgument)
	}
	return name, nil
}

// Get returns the container named by ID, unique ID prefix or name.
// errdefs.ErrNotFound if there is none; errdefs.ErrInvalidArgument for a
// prefix of several IDs.
func (e *Engine) Get(ctx context.Context, ref string) (*Container, error) {
	dir, rec, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("container %q: being removed: %w", ref, errdefs.ErrNotFound)
	}
	return e.container(ctx, dir, rec)
}

// container is the observed container of a record.
func (e *Engine) container(ctx context.Context, dir string, rec *record) (*Container, error) {
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", rec.Config.Name, err)
	}
	c := newContainer(dir, rec, st)
	if st.Status == StatusRunning || st.Status == StatusPaused {
		eps, err := readEndpoints(dir)
		if err != nil {
			return nil, fmt.Errorf("container %q: %w", rec.Config.Name, err)
		}
		for _, ep := range eps {
			c.Networks = append(c.Networks, NetworkStatus{Network: ep.Network, Address: ep.Address, Address6: ep.Address6, MAC: ep.MAC, Ports: ep.Ports})
		}
	}
	return c, nil
}

func newContainer(dir string, rec *record, st State) *Container {
	return &Container{ID: rec.ID, Config: rec.Config, ImageID: rec.ImageID, Created: rec.Created, State: st,
		ImageConfig: rec.ImageConfig, StopSignal: rec.StopSignal, dir: dir}
}

// Args is the container's process as Docker reports it (inspect's Path and
// Args, the command `ps` shows): the container's entrypoint and command,
// else its image's.
func (c *Container) Args() []string {
	args, _ := processArgs(c.Config, c.ImageConfig) // an error only for no command at all: then none
	return args
}

// LogPath is the container's log file (JSON lines), HostsPath and
// ResolvConfPath the files mounted at /etc/hosts and /etc/resolv.conf.
func (c *Container) LogPath() string { return c.path(ctrstate.LogFile) }

// HostsPath: see LogPath.
func (c *Container) HostsPath() string { return c.path("hosts") }

// ResolvConfPath: see LogPath.
func (c *Container) ResolvConfPath() string { return c.path("resolv.conf") }

// HostnamePath: see LogPath.
func (c *Container) HostnamePath() string { return c.path("hostname") }

func (c *Container) path(name string) string {
	if c.dir == "" {
		return ""
	}
	return filepath.Join(c.dir, name)
}

// List returns the containers whose labels include every pair in labels,
// sorted by name. A corrupt record or state file is an error naming it.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]*Container, error) {
	all, err := e.allRecords()
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(ent recordEntry) bool { return !hasLabels(ent.rec.Config.Labels, labels) })
	ctrs := make([]*Container, len(all))
	err = eachParallel(len(all), func(i int) error {
		ent := all[i]
		gone, err := e.finishAutoRemove(ctx, ent.dir, ent.rec.ID, ent.rec.Config.AutoRemove, ent.rec.Config.AutoRemoveOwner)
		if err != nil {
			e.log.WarnContext(ctx, "removing an exited auto-remove container", "container", ent.rec.Config.Name, "err", err)
		}
		if gone {
			return nil
		}
		ctrs[i], err = e.container(ctx, ent.dir, ent.rec)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(ctrs, func(c *Container) bool { return c == nil })
	slices.SortFunc(out, func(a, b *Container) int { return strings.Compare(a.Config.Name, b.Config.Name) })
	return out, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// Remove deletes the container and everything it owns (mounts, sandbox,
// runtime state, cgroup, directory). A running container is refused with
// errdefs.ErrConflict unless force, which kills it first. Idempotent:
// errdefs.ErrNotFound only when the container does not exist; a removal
// that was interrupted is finished.
func (e *Engine) Remove(ctx context.Context, id ContainerID, force bool) error {
	dir, rec, unlock, err := e.lockContainer(ctx, string(id))
	if err != nil {
		return err
	}
	defer unlock()
	name := string(id)
	if rec != nil {
		name = rec.Config.Name
	}
	if err := e.removeLocked(ctx, dir, rec, force); err != nil {
		return fmt.Errorf("container %q: remove: %w", name, err)
	}
	// What a killed Create left goes with the containers, not only with
	// the next Create (a down after a killed up may create nothing).
	e.removeSwept.Do(func() { e.sweepTemp(false) })
	return nil
}

func (e *Engine) removeLocked(ctx context.Context, dir string, rec *record, force bool) error {
	id := ContainerID(filepath.Base(dir))
	if rec != nil {
		sf, st, err := e.readObserved(ctx, dir)
		if err != nil {
			return err
		}
		if active(st.Status) {
			if !force {
				return fmt.Errorf("the container is %s: stop it first or force the removal: %w", st.Status, errdefs.ErrConflict)
			}
			if _, err := e.stopLocked(ctx, dir, rec, 0, ""); err != nil {
				return err
			}
		} else if _, err := e.settleLostLocked(ctx, dir, rec, sf); err != nil {
			return err
		}
	}
	if err := e.releaseRun(ctx, dir, id, rec, true); err != nil {
		return err
	}
	var cfg ContainerConfig
	if rec != nil {
		cfg = rec.Config
	}
	if err := removeCgroups(cfg, id); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, ctrstate.RecordFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// The record is gone: from here on the container no longer exists for
	// Get and List, and a failure is finished by the next Remove of its ID.
	if rec != nil {
		e.containerEvent(ctx, "destroy", rec)
	} else {
		e.events.Record(ctx, e.log, ContainerEvent("destroy", id, ContainerConfig{}))
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	// Volumes mounted with driver options stay mounted while any container
	// uses them; this one no longer does.
	var errs []error
	if rec != nil {
		errs = append(errs, e.ReleaseVolumes(ctx, rec.Config.Mounts))
	}
	// The default network goes with the last container naming it (unknown
	// for an interrupted removal: look).
	if rec == nil || usesDefaultNetwork(rec.Config) {
		errs = append(errs, e.releaseDefaultNetwork(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	e.log.DebugContext(ctx, "container removed", "id", id)
	return nil
}

// removeCgroups removes the container's cgroup leaves the runtime left
// behind (its parent, /berth, is shared and stays).
func removeCgroups(c ContainerConfig, id ContainerID) error {
	leaves, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupsPath(c, id))
	if v2 := "/sys/fs/cgroup" + cgroupsPath(c, id); !slices.Contains(leaves, v2) {
		leaves = append(leaves, v2)
	}
	var errs []error
	for _, p := range leaves {
		err := unix.Rmdir(p)
		if errors.Is(err, unix.EBUSY) {
			// Processes of the container are still in it: killed, but
			// not yet gone (or never killed, when a run was cut short).
			// End them and wait until the leaf is empty.
			err = emptyCgroup(p)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// emptyCgroup kills the processes left in the cgroup leaf dir (thawing it
// first: a frozen process cannot die), waits until none is left, and
// removes the leaf; it gives up after 10 s.
func emptyCgroup(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "freezer.state")); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0o644)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return unix.Rmdir(dir)
		}
		pids := strings.Fields(string(b))
		for _, f := range pids {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		if err := unix.Rmdir(dir); !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
