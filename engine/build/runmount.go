package build

import (
	"fmt"
	"path"
	"slices"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Entitlements a build may be given (docker buildx build --allow): what a
// RUN step may ask for beyond the sandbox.
const (
	// AllowNetworkHost lets RUN --network=host use the host's network
	// namespace. `--network host` on the build grants it, as Docker's
	// builder does.
	AllowNetworkHost = "network.host"
	// AllowSecurityInsecure lets RUN --security=insecure run privileged.
	AllowSecurityInsecure = "security.insecure"
)

// Secret is a value RUN --mount=type=secret can mount, as --secret
// id=ID,src=PATH or id=ID,env=VAR gives it.
type Secret struct {
	ID string
	// File is a file on the host, read when a step mounts the secret.
	File string
	// Value, when File is "", is the secret itself (from an environment
	// variable). It is never written to the state root.
	Value []byte `json:"-"`
}

// String names the secret without its value, so that printing Options
// (with %v or %+v) never shows it.
func (s Secret) String() string {
	if s.File != "" {
		return fmt.Sprintf("secret %s (file %s)", s.ID, s.File)
	}
	return fmt.Sprintf("secret %s (a value of %d bytes)", s.ID, len(s.Value))
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// runMount is one expanded RUN --mount, as it goes into the step's cache
// key: what is mounted where, never a secret's content.
type runMount struct {
	Type     string  `json:"type"`             // bind, cache, tmpfs, secret, ssh
	Target   string  `json:"target,omitempty"` // absolute; "" for a secret given as an environment variable only
	From     string  `json:"from,omitempty"`   // bind and cache: a stage's or an image's name; "" is the context (bind) or nothing (cache)
	Source   string  `json:"source,omitempty"` // a path in the source (bind, cache with from) or in the cache, relative
	ReadOnly bool    `json:"ro,omitempty"`
	ID       string  `json:"id,omitempty"`      // cache, secret and ssh
	Sharing  string  `json:"sharing,omitempty"` // cache: shared, private or locked
	Size     int64   `json:"size,omitempty"`    // tmpfs: bytes, 0 unbounded
	Required bool    `json:"required,omitempty"`
	Env      string  `json:"env,omitempty"` // secret: the variable that holds it
	Mode     *uint32 `json:"mode,omitempty"`
	UID      *uint32 `json:"uid,omitempty"`
	GID      *uint32 `json:"gid,omitempty"`
}

// mode returns m's mode, or def when it sets none.
func (m *runMount) mode(def uint32) uint32 {
	if m.Mode != nil {
		return *m.Mode
	}
	return def
}

// owner returns m's uid and gid, 0 for those it does not set.
func (m *runMount) owner() (int, int) {
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	return uid, gid
}

// runMounts expands the --mount flags of c with the stage's variables and
// resolves them as BuildKit's Dockerfile frontend does: relative targets
// are below the working directory, a cache's id defaults to its target, a
// secret's id to its target's base name and its target to
// /run/secrets/<id>, an ssh mount's id to "default" and its target to
// /run/buildkit/ssh_agent.<n>. Pure: no I/O.
func (p *Plan) runMounts(sc *stageConfig, c *instructions.RunCommand) ([]runMount, error) {
	lex := shell.NewLex(p.escape)
	env := sc.expandEnv()
	err := c.Expand(func(w string) (string, error) {
		r, _, err := lex.ProcessWord(w, env)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("--mount: %w", err)
	}
	var out []runMount
	targets := map[string]bool{}
	ssh := 0
	for _, m := range instructions.GetMounts(c) {
		rm := runMount{Type: string(m.Type), From: m.From, ReadOnly: m.ReadOnly, Required: m.Required, Size: m.SizeLimit,
			Mode: narrow(m.Mode), UID: narrow(m.UID), GID: narrow(m.GID)}
		if m.Source != "" {
			rm.Source = path.Clean("/" + m.Source)[1:]
		}
		target := m.Target
		switch m.Type {
		case instructions.MountTypeBind, instructions.MountTypeTmpfs:
		case instructions.MountTypeCache:
			rm.Sharing = string(m.CacheSharing)
			if rm.Sharing == "" {
				rm.Sharing = string(instructions.MountSharingShared)
			}
			rm.ID = m.CacheID
			if rm.ID == "" {
				rm.ID = path.Clean(absTarget(sc, target))
			}
		case instructions.MountTypeSecret:
			rm.ID = m.CacheID
			if m.Source != "" {
				rm.ID, rm.Source = m.Source, ""
			}
			if rm.ID == "" {
				if target == "" {
					return nil, fmt.Errorf("--mount=type=secret: one of id, source or target is required: %w", errdefs.ErrInvalidArgument)
				}
				rm.ID = path.Base(target)
			}
			if m.Env != nil {
				rm.Env = *m.Env
				if rm.Env == "" {
					rm.Env = rm.ID
				}
			} else if target == "" {
				target = "/run/secrets/" + path.Base(rm.ID)
			}
		case instructions.MountTypeSSH:
			if m.Source != "" {
				return nil, fmt.Errorf("--mount=type=ssh: ssh does not support source: %w", errdefs.ErrInvalidArgument)
			}
			rm.ID = m.CacheID
			if rm.ID == "" {
				rm.ID = "default"
			}
			if target == "" {
				target = "/run/buildkit/ssh_agent." + strconv.Itoa(ssh)
			}
			ssh++
		default:
			return nil, fmt.Errorf("--mount: unknown mount type %q: %w", m.Type, errdefs.ErrInvalidArgument)
		}
		if m.Type != instructions.MountTypeSecret || target != "" {
			rm.Target = absTarget(sc, target)
			if rm.Target == "/" {
				return nil, fmt.Errorf("--mount: invalid mount target %q: %w", m.Target, errdefs.ErrInvalidArgument)
			}
			if targets[rm.Target] {
				return nil, fmt.Errorf("--mount: target %s is mounted twice: %w", rm.Target, errdefs.ErrInvalidArgument)
			}
			targets[rm.Target] = true
		}
		out = append(out, rm)
	}
	return out, nil
}

// absTarget is target made absolute against the stage's working directory.
func absTarget(sc *stageConfig, target string) string {
	if path.IsAbs(target) {
		return path.Clean(target)
	}
	return path.Join("/", sc.Config.WorkingDir, target)
}

func narrow(v *uint64) *uint32 {
	if v == nil {
		return nil
	}
	n := uint32(*v) //nolint:gosec // BuildKit's parser bounds it to 32 bits
	return &n
}

// runMountFroms are the stages or images the --mount flags of a RUN read
// from (bind mounts' from=), unexpanded; nil for any other instruction.
func runMountFroms(c instructions.Command) []string {
	rc, ok := c.(*instructions.RunCommand)
	if !ok {
		return nil
	}
	var out []string
	for _, m := range instructions.GetMounts(rc) {
		if m.From != "" && !slices.Contains(out, m.From) {
			out = append(out, m.From)
		}
	}
	return out
}
