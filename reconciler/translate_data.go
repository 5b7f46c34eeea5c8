package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	units "github.com/docker/go-units"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
	"github.com/berth-dev/berth/volmgr"
)

// translateData sets the container's mounts: the service's volumes first,
// in file order (so mounts[i] is volumes[i]), then its tmpfs entries, its
// configs and its secrets; and its volumes_from. An anonymous volume is
// left without a name (Source ""): the plan names it (anonymousVolumes).
func translateData(p *spec.Project, s *spec.Service, c *engine.ContainerConfig) error {
	for i, m := range s.Mounts {
		if !path.IsAbs(m.Target) {
			return fmt.Errorf("service %q: volumes[%d]: target %q is not an absolute path: %w", s.Name, i, m.Target, errdefs.ErrInvalidArgument)
		}
		em := engine.Mount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly,
			NoCopy: m.NoCopy, Subpath: m.Subpath, Propagation: m.Propagation, CreateHostPath: m.CreateHostPath, Recursive: m.Recursive,
			TmpfsSize: m.TmpfsSize, TmpfsMode: m.TmpfsMode}
		switch m.Type {
		case "volume":
			if m.Source == "" {
				if m.Subpath != "" {
					return fmt.Errorf("service %q: volumes[%d]: an anonymous volume has no subpath: %w", s.Name, i, errdefs.ErrInvalidArgument)
				}
				break // named by the plan
			}
			v, ok := projectVolume(p, m.Source)
			if !ok {
				return fmt.Errorf("service %q: volumes[%d]: volume %q is not declared in the project: %w", s.Name, i, m.Source, errdefs.ErrInvalidArgument)
			}
			em.Source = v.Name
		case "bind", "tmpfs":
		case "image":
			if m.Source == "" {
				return fmt.Errorf("service %q: volumes[%d]: an image mount names no image: %w", s.Name, i, errdefs.ErrInvalidArgument)
			}
			em.ReadOnly = true
		default:
			return fmt.Errorf("service %q: volumes[%d]: mount type %q is not supported by berth yet: %w", s.Name, i, m.Type, errdefs.ErrNotImplemented)
		}
		c.Mounts = append(c.Mounts, em)
	}
	for i, t := range s.Tmpfs {
		m, err := parseTmpfs(t)
		if err != nil {
			return fmt.Errorf("service %q: tmpfs[%d]: %w", s.Name, i, err)
		}
		c.Mounts = append(c.Mounts, m)
	}
	for _, f := range []struct {
		kind string
		refs []spec.FileRef
		objs []spec.FileObject
	}{{"configs", s.Configs, p.Configs}, {"secrets", s.Secrets, p.Secrets}} {
		for i, r := range f.refs {
			m, err := fileMount(f.kind, r, f.objs)
			if err != nil {
				return fmt.Errorf("service %q: %s[%d]: %w", s.Name, f.kind, i, err)
			}
			c.Mounts = append(c.Mounts, m)
		}
	}
	// The anonymous volumes the engine makes for the image's VOLUMEs
	// belong to the project, so down -v removes them.
	c.VolumeLabels = map[string]string{
		spec.LabelProject:         p.Name,
		spec.LabelService:         s.Name,
		spec.LabelContainerNumber: c.Labels[spec.LabelContainerNumber],
	}
	for i, vf := range s.VolumesFrom {
		ref, err := volumesFrom(p, vf)
		if err != nil {
			return fmt.Errorf("service %q: volumes_from[%d]: %w", s.Name, i, err)
		}
		c.VolumesFrom = append(c.VolumesFrom, ref)
	}
	return nil
}

// parseTmpfs reads an entry of the tmpfs key: "/path" or
// "/path:size=64m,mode=1777,…" (other options are passed to the mount).
func parseTmpfs(t string) (engine.Mount, error) {
	target, opts, _ := strings.Cut(t, ":")
	if !path.IsAbs(target) {
		return engine.Mount{}, fmt.Errorf("%q: target is not an absolute path: %w", t, errdefs.ErrInvalidArgument)
	}
	m := engine.Mount{Type: "tmpfs", Target: target}
	for o := range strings.SplitSeq(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "":
		case "size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return engine.Mount{}, fmt.Errorf("%q: size %q is not a size: %w", t, v, errdefs.ErrInvalidArgument)
			}
			m.TmpfsSize = n
		case "mode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil || n > 0o7777 {
				return engine.Mount{}, fmt.Errorf("%q: mode %q is not an octal mode: %w", t, v, errdefs.ErrInvalidArgument)
			}
			m.TmpfsMode = uint32(n)
		case "ro":
			m.ReadOnly = true
		case "rw":
		default:
			m.Options = append(m.Options, o)
		}
	}
	return m, nil
}

// fileMount makes the "file" mount of a config or secret: its content
// from the project (inline, or the environment variable compose-go read),
// or its file read by the engine at start.
func fileMount(kind string, r spec.FileRef, objs []spec.FileObject) (engine.Mount, error) {
	var obj *spec.FileObject
	for i := range objs {
		if objs[i].Key == r.Source {
			obj = &objs[i]
		}
	}
	what := strings.TrimSuffix(kind, "s")
	if obj == nil {
		return engine.Mount{}, fmt.Errorf("%s %q is not declared in the project: %w", what, r.Source, errdefs.ErrInvalidArgument)
	}
	if !path.IsAbs(r.Target) {
		return engine.Mount{}, fmt.Errorf("%s %q: target %q is not an absolute path: %w", what, r.Source, r.Target, errdefs.ErrInvalidArgument)
	}
	m := engine.Mount{Type: "file", Target: r.Target, ReadOnly: true, FileMode: 0o444}
	switch {
	case obj.External:
		return engine.Mount{}, fmt.Errorf("%s %q: external %s are not supported by berth yet: %w", what, r.Source, kind, errdefs.ErrNotImplemented)
	case obj.File != "":
		m.Source = obj.File
	case obj.Environment != "":
		if obj.Content == "" {
			return engine.Mount{}, fmt.Errorf("%s %q: environment variable %s is not set: %w", what, r.Source, obj.Environment, errdefs.ErrInvalidArgument)
		}
		m.Content = []byte(obj.Content)
	default:
		m.Content = []byte(obj.Content)
	}
	var err error
	if m.FileUID, err = fileID(r.UID); err != nil {
		return engine.Mount{}, fmt.Errorf("%s %q: uid: %w", what, r.Source, err)
	}
	if m.FileGID, err = fileID(r.GID); err != nil {
		return engine.Mount{}, fmt.Errorf("%s %q: gid: %w", what, r.Source, err)
	}
	if r.Mode != nil {
		if *r.Mode > 0o7777 {
			return engine.Mount{}, fmt.Errorf("%s %q: mode %o: %w", what, r.Source, *r.Mode, errdefs.ErrInvalidArgument)
		}
		m.FileMode = *r.Mode
	}
	return m, nil
}

func fileID(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("%q is not a numeric ID: %w", s, errdefs.ErrInvalidArgument)
	}
	return int(n), nil
}

// volumesFrom translates "service[:ro|rw]" or "container:name[:ro|rw]"
// into the engine's "container[:ro|rw]"; a service gives its first
// container.
func volumesFrom(p *spec.Project, vf string) (string, error) {
	ref, isContainer := strings.CutPrefix(vf, "container:")
	name, mode, _ := strings.Cut(ref, ":")
	if name == "" || (mode != "" && mode != "ro" && mode != "rw") {
		return "", fmt.Errorf("%q: want SERVICE[:ro|rw] or container:NAME[:ro|rw]: %w", vf, errdefs.ErrInvalidArgument)
	}
	if !isContainer {
		var svc *spec.Service
		for i := range p.Services {
			if p.Services[i].Name == name {
				svc = &p.Services[i]
			}
		}
		if svc == nil {
			return "", fmt.Errorf("%q: no such service: %w", vf, errdefs.ErrInvalidArgument)
		}
		name = ContainerName(p, svc, 1)
	}
	if mode != "" {
		name += ":" + mode
	}
	return name, nil
}

// anonymousVolumeName is the name of the anonymous volume at target of
// container n of service s, generation gen: 64 hex digits, as Docker's.
func anonymousVolumeName(project, service string, n int, target string, gen int) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{"anon", project, service, strconv.Itoa(n), path.Clean(target), strconv.Itoa(gen)}, "\x00")))
	return hex.EncodeToString(sum[:])
}

// anonymousVolumes names the anonymous volumes of cfg (container n of
// service s) and returns those to create. As Docker Compose does, a
// container that replaces one (reuse) takes its anonymous volumes, the
// latest generation observed; a new container gets new ones, so a volume
// left by `down` is not handed to the next `up`.
func anonymousVolumes(project string, s *spec.Service, n int, cfg *engine.ContainerConfig, observed map[string]*volmgr.Volume, reuse bool) []CreateVolume {
	var out []CreateVolume
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if m.Type != "volume" || m.Source != "" {
			continue
		}
		gen := 0
		for observed[anonymousVolumeName(project, s.Name, n, m.Target, gen)] != nil {
			gen++
		}
		if reuse && gen > 0 {
			gen-- // the latest: the old container's
		}
		m.Source = anonymousVolumeName(project, s.Name, n, m.Target, gen)
		if observed[m.Source] != nil {
			continue
		}
		labels := map[string]string{}
		for _, sm := range s.Mounts {
			if sm.Type == "volume" && sm.Source == "" && sm.Target == m.Target {
				maps.Copy(labels, sm.VolumeLabels) // volume.labels; berth's own come last
			}
		}
		maps.Copy(labels, map[string]string{
			spec.LabelProject:         project,
			spec.LabelService:         s.Name,
			spec.LabelContainerNumber: strconv.Itoa(n),
			volmgr.LabelAnonymous:     "",
		})
		out = append(out, CreateVolume{Name: m.Source, Labels: labels})
	}
	return out
}

// checkHostPaths checks, before a container is made, what its mounts need
// from the host and the engine would only find missing at start: bind
// sources that must exist and the files of configs and secrets.
func checkHostPaths(service string, cfg engine.ContainerConfig) error {
	var errs []error
	for i, m := range cfg.Mounts {
		switch {
		case m.Type == "bind" && !m.CreateHostPath:
			if _, err := os.Lstat(m.Source); errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("service %q: volumes[%d]: bind source %s does not exist: %w", service, i, m.Source, errdefs.ErrInvalidArgument))
			}
		case m.Type == "file" && m.Content == nil:
			if _, err := os.Stat(m.Source); errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("service %q: %s: file %s does not exist: %w", service, m.Target, m.Source, errdefs.ErrInvalidArgument))
			}
		}
	}
	return errors.Join(errs...)
}

// volumeCreator is implemented by volume stores that take driver options
// (volmgr.Store).
type volumeCreator interface {
	CreateWithOptions(ctx context.Context, name string, opt volmgr.CreateOptions) (*volmgr.Volume, error)
}

// createVolume makes the volume of a CreateVolume step.
func createVolume(ctx context.Context, vols Volumes, a CreateVolume) error {
	var err error
	if vc, ok := vols.(volumeCreator); ok {
		_, err = vc.CreateWithOptions(ctx, a.Name, volmgr.CreateOptions{Labels: a.Labels, Driver: a.Driver, Opts: a.DriverOpts})
	} else if len(a.DriverOpts) > 0 {
		err = fmt.Errorf("volume %q: the volume store takes no driver options: %w", a.Name, errdefs.ErrNotImplemented)
	} else {
		_, err = vols.Create(ctx, a.Name, a.Labels)
	}
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	return err
}
