package build

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// defaultShell is the shell of shell-form instructions when SHELL set none.
var defaultShell = []string{"/bin/sh", "-c"}

// stageConfig is what a stage's steps see and change: the image
// configuration being built and the ARGs in scope.
type stageConfig struct {
	Config v1.Config
	Author string
	args   envList // ARGs the stage declared, with their values
	cmdSet bool    // CMD was set in this stage (ENTRYPOINT then keeps it)
}

func (sc *stageConfig) clone() *stageConfig {
	c := &stageConfig{Author: sc.Author, cmdSet: sc.cmdSet}
	sc.Config.DeepCopyInto(&c.Config)
	c.args = envList{keys: slices.Clone(sc.args.keys), vals: maps.Clone(sc.args.vals)}
	return c
}

// expandEnv is what ${VAR} sees in an instruction: the ARGs in scope, then
// the environment, which wins.
func (sc *stageConfig) expandEnv() *envList {
	e := &envList{}
	for _, k := range sc.args.keys {
		e.set(k, sc.args.vals[k])
	}
	for _, kv := range sc.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		e.set(k, v)
	}
	return e
}

// runEnv is a RUN step's environment: the image's, then the ARGs in scope
// that it does not set.
func (sc *stageConfig) runEnv() []string {
	env := slices.Clone(sc.Config.Env)
	for _, k := range sc.args.keys {
		if !slices.ContainsFunc(sc.Config.Env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") }) {
			env = append(env, k+"="+sc.args.vals[k])
		}
	}
	return env
}

func (sc *stageConfig) setEnv(k, v string) {
	for i, kv := range sc.Config.Env {
		if strings.HasPrefix(kv, k+"=") {
			sc.Config.Env[i] = k + "=" + v
			return
		}
	}
	sc.Config.Env = append(sc.Config.Env, k+"="+v)
}

// stepKind tells how a step is carried out.
type stepKind int

const (
	stepConfig stepKind = iota // changes the configuration only
	stepRun                    // a container
	stepCopy                   // a layer from the context or a stage
)

// step is one instruction, expanded, ready to be carried out.
type step struct {
	kind    stepKind
	line    int
	text    string // the instruction as written, on one line
	created string // the history entry's created_by
	run     *runStep
	copy    *copyStep
}

// runStep is an expanded RUN.
type runStep struct {
	Argv    []string  `json:"argv"`
	Env     []string  `json:"env"`
	User    string    `json:"user,omitempty"`
	Workdir string    `json:"workdir,omitempty"`
	Network string    `json:"network,omitempty"`
	Files   []runFile `json:"files,omitempty"` // heredoc scripts mounted for the step
	// Security is "" (the sandbox) or "insecure" (privileged).
	Security string     `json:"security,omitempty"`
	Mounts   []runMount `json:"mounts,omitempty"`
	// binds are the resolved sources of Mounts' bind mounts, in order;
	// set before the cache is looked up, not part of the key.
	binds []*bindSource
}

// copyStep is an expanded COPY or ADD.
type copyStep struct {
	Add      bool         `json:"add,omitempty"`
	From     string       `json:"from,omitempty"` // a stage's name or index, or an image; "" is the context
	Sources  []string     `json:"sources"`
	URLs     []string     `json:"urls,omitempty"`   // ADD: files to download
	Inline   []inlineFile `json:"inline,omitempty"` // heredocs
	Dest     string       `json:"dest"`             // absolute
	DestDir  bool         `json:"dest_dir,omitempty"`
	Chown    string       `json:"chown,omitempty"`
	Chmod    string       `json:"chmod,omitempty"`
	User     string       `json:"user,omitempty"` // the stage's user, for --chown names
	Excludes []string     `json:"exclude,omitempty"`
	Parents  bool         `json:"parents,omitempty"`
	Checksum string       `json:"checksum,omitempty"` // ADD --checksum of a URL
	Unpack   *bool        `json:"unpack,omitempty"`   // ADD --unpack; nil: local archives only
}

// keyText is the expanded instruction as it goes into the cache key.
func (s *step) keyText() string {
	var v any
	switch s.kind {
	case stepRun:
		v = struct {
			Run *runStep `json:"run"`
		}{s.run}
	case stepCopy:
		v = struct {
			Copy *copyStep `json:"copy"`
		}{s.copy}
	default:
		return ""
	}
	b, _ := json.Marshal(v) // plain data: cannot fail
	return string(b)
}

// unsupported is the error for a feature not built yet.
func unsupported(what string) error { return fmt.Errorf("%s is not supported yet", what) }

// apply evaluates c against sc: a configuration instruction changes sc, a
// RUN, COPY or ADD is returned expanded. Pure: no I/O.
func (p *Plan) apply(sc *stageConfig, c instructions.Command) (*step, error) {
	lex := shell.NewLex(p.escape)
	env := sc.expandEnv()
	word := func(w string) (string, error) {
		r, _, err := lex.ProcessWord(w, env)
		return r, err
	}
	st := &step{kind: stepConfig, line: commandLine(c), text: commandText(c)}
	st.created = st.text
	switch c := c.(type) {
	case *instructions.EnvCommand:
		// Later pairs of one ENV see the values from before it, as Docker's.
		if err := pairs(c.Env, word, sc.setEnv); err != nil {
			return nil, err
		}
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			v, given := p.buildArgs[kv.Key]
			switch {
			case given:
			case kv.Value != nil:
				var err error
				if v, err = word(*kv.Value); err != nil {
					return nil, err
				}
			default:
				gv, ok := p.global.Get(kv.Key)
				if !ok {
					continue
				}
				v = gv
			}
			sc.args.set(kv.Key, v)
			env = sc.expandEnv()
		}
	case *instructions.WorkdirCommand:
		w, err := word(c.Path)
		if err != nil {
			return nil, err
		}
		if !path.IsAbs(w) {
			w = path.Join("/", sc.Config.WorkingDir, w)
		}
		sc.Config.WorkingDir = path.Clean(w)
	case *instructions.UserCommand:
		u, err := word(c.User)
		if err != nil {
			return nil, err
		}
		sc.Config.User = u
	case *instructions.ExposeCommand:
		for _, p := range c.Ports {
			ps, err := lex.ProcessWords(p, env)
			if err != nil {
				return nil, err
			}
			for _, port := range ps {
				if !strings.Contains(port, "/") {
					port += "/tcp"
				}
				if sc.Config.ExposedPorts == nil {
					sc.Config.ExposedPorts = map[string]struct{}{}
				}
				sc.Config.ExposedPorts[strings.ToLower(port)] = struct{}{}
			}
		}
	case *instructions.VolumeCommand:
		for _, v := range c.Volumes {
			v, err := word(v)
			if err != nil {
				return nil, err
			}
			if v == "" {
				return nil, fmt.Errorf("VOLUME specified can not be an empty string")
			}
			if sc.Config.Volumes == nil {
				sc.Config.Volumes = map[string]struct{}{}
			}
			sc.Config.Volumes[v] = struct{}{}
		}
	case *instructions.LabelCommand:
		err := pairs(c.Labels, word, func(k, v string) {
			if sc.Config.Labels == nil {
				sc.Config.Labels = map[string]string{}
			}
			sc.Config.Labels[k] = v
		})
		if err != nil {
			return nil, err
		}
	case *instructions.EntrypointCommand:
		sc.Config.Entrypoint = sc.cmdLine(c.ShellDependantCmdLine)
		if !sc.cmdSet {
			sc.Config.Cmd = nil
		}
	case *instructions.CmdCommand:
		sc.Config.Cmd = sc.cmdLine(c.ShellDependantCmdLine)
		sc.cmdSet = true
	case *instructions.HealthCheckCommand:
		h := c.Health
		sc.Config.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	case *instructions.StopSignalCommand:
		s, err := word(c.Signal)
		if err != nil {
			return nil, err
		}
		sc.Config.StopSignal = s
	case *instructions.ShellCommand:
		sc.Config.Shell = slices.Clone(c.Shell)
	case *instructions.MaintainerCommand:
		sc.Author = c.Maintainer
	case *instructions.OnbuildCommand:
		sc.Config.OnBuild = append(sc.Config.OnBuild, c.Expression)
	case *instructions.RunCommand:
		return p.applyRun(sc, c, st)
	case *instructions.CopyCommand:
		cp := &copyStep{From: c.From, Excludes: c.ExcludePatterns, Parents: c.Parents}
		return p.applyCopy(sc, &c.SourcesAndDest, cp, c.Chown, c.Chmod, word, st)
	case *instructions.AddCommand:
		if c.KeepGitDir != nil {
			return nil, unsupported("ADD --keep-git-dir (ADD of a git repository)")
		}
		sum, err := word(c.Checksum)
		if err != nil {
			return nil, err
		}
		cp := &copyStep{Add: true, Excludes: c.ExcludePatterns, Checksum: sum, Unpack: c.Unpack}
		return p.applyCopy(sc, &c.SourcesAndDest, cp, c.Chown, c.Chmod, word, st)
	default:
		return nil, unsupported(strings.ToUpper(c.Name()))
	}
	return st, nil
}

// pairs expands the keys and values of kvs and hands them to set.
func pairs(kvs instructions.KeyValuePairs, word func(string) (string, error), set func(k, v string)) error {
	for _, kv := range kvs {
		k, err := word(kv.Key)
		if err != nil {
			return err
		}
		v, err := word(kv.Value)
		if err != nil {
			return err
		}
		set(k, v)
	}
	return nil
}

// cmdLine is the argv of a CMD or ENTRYPOINT: the exec form as written, the
// shell form through the stage's shell.
func (sc *stageConfig) cmdLine(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	return append(sc.shell(), strings.Join(c.CmdLine, " "))
}

func (sc *stageConfig) shell() []string {
	if len(sc.Config.Shell) > 0 {
		return slices.Clone(sc.Config.Shell)
	}
	return slices.Clone(defaultShell)
}

func (p *Plan) applyRun(sc *stageConfig, c *instructions.RunCommand, st *step) (*step, error) {
	mounts, err := p.runMounts(sc, c)
	if err != nil {
		return nil, err
	}
	if slices.Contains(c.FlagsUsed, "device") {
		return nil, fmt.Errorf("RUN --device: berth's builder gives RUN steps no host device: %w", errdefs.ErrNotImplemented)
	}
	network := string(instructions.GetNetwork(c))
	if network == string(instructions.NetworkDefault) {
		network = ""
	}
	security := instructions.GetSecurity(c)
	if security == instructions.SecuritySandbox {
		security = ""
	}
	argv, files, err := sc.runArgv(c)
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("RUN without a command")
	}
	st.kind = stepRun
	st.run = &runStep{Argv: argv, Env: sc.runEnv(), User: sc.Config.User, Workdir: sc.Config.WorkingDir, Network: network, Files: files,
		Security: security, Mounts: mounts}
	st.created = "RUN " + strings.Join(argv, " ") + " # berth"
	return st, nil
}

func (p *Plan) applyCopy(sc *stageConfig, sd *instructions.SourcesAndDest, cp *copyStep, chown, chmod string, word func(string) (string, error), st *step) (*step, error) {
	name := "COPY"
	if cp.Add {
		name = "ADD"
	}
	cp.User = sc.Config.User
	var err error
	if cp.Chown, err = word(chown); err != nil {
		return nil, err
	}
	if cp.Chmod, err = word(chmod); err != nil {
		return nil, err
	}
	if cp.From != "" {
		f, _, err := shell.NewLex(p.escape).ProcessWord(cp.From, p.global)
		if err != nil {
			return nil, err
		}
		cp.From = f
	}
	if cp.Inline, err = sc.inlineFiles(sd.SourceContents); err != nil {
		return nil, err
	}
	for _, s := range sd.SourcePaths {
		s, err := word(s)
		if err != nil {
			return nil, err
		}
		switch {
		case cp.Add && isGitSource(s):
			return nil, fmt.Errorf("ADD of a git repository (%s) is not supported: clone it into the build context, or RUN git clone", s)
		case cp.Add && isURL(s):
			cp.URLs = append(cp.URLs, s)
		case isURL(s):
			return nil, fmt.Errorf("COPY cannot download %s: use ADD", s)
		default:
			cp.Sources = append(cp.Sources, s)
		}
	}
	if cp.Checksum != "" {
		if err := checkChecksum(cp); err != nil {
			return nil, err
		}
	}
	dest, err := word(sd.DestPath)
	if err != nil {
		return nil, err
	}
	cp.DestDir = strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.") || cp.Parents
	if !path.IsAbs(dest) {
		dest = path.Join("/", sc.Config.WorkingDir, dest)
	}
	cp.Dest = path.Clean(dest)
	if len(cp.Sources)+len(cp.URLs)+len(cp.Inline) > 1 && !cp.DestDir {
		return nil, fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /", name)
	}
	st.kind = stepCopy
	st.copy = cp
	st.created = st.text
	return st, nil
}
