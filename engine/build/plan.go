package build

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-dev/berth/internal/hostplatform"
)

// Error is a mistake in a Dockerfile, at a line (0: the file as a whole).
// It is an errdefs.ErrInvalidArgument error.
type Error struct {
	File string // the Dockerfile's name as the user gave it, e.g. "Dockerfile"
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap classifies the error as errdefs.ErrInvalidArgument.
func (e *Error) Unwrap() error { return errdefs.ErrInvalidArgument }

// fileError turns an error of BuildKit's parser into an Error: the first
// location it carries, and its message without BuildKit's own prefix.
func fileError(file string, line int, err error) *Error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "dockerfile parse error on line "); ok {
		if _, m, ok := strings.Cut(rest, ": "); ok {
			msg = m
		}
	}
	return &Error{File: file, Line: line, Msg: msg}
}

// Plan is a parsed Dockerfile reduced to the stages a target needs, in the
// order they are built.
type Plan struct {
	File   string   // the Dockerfile's name, for messages
	Stages []*Stage // the stages the target needs, each after those it needs
	Target *Stage   // the last of Stages
	// escape is the Dockerfile's escape character, for the shell lexer.
	escape rune
	// global are the ARGs before the first FROM (and the automatic
	// platform ARGs): a stage sees one once it declares it with ARG.
	global *envList
	// buildArgs are the --build-arg values.
	buildArgs map[string]string
	// all are the stages of the Dockerfile, needed or not.
	all []*Stage
	// images are the image stages, by the --from that names them.
	images map[string]*Stage
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	Index int    // position in the Dockerfile, from 0
	Name  string // AS name (lower-case), or "stage-<Index>" when it has none
	Named bool   // it has an AS name
	// Base is the expanded FROM argument: an image reference, "scratch", or
	// the name of an earlier stage (then BaseStage is set).
	Base      string
	BaseStage *Stage
	Line      int    // the FROM line
	From      string // the FROM instruction as written
	Commands  []instructions.Command
	// Image is set on a stage the Dockerfile does not declare: the image a
	// COPY --from names (Base), built as a stage of no instructions of its
	// own, so its ONBUILD triggers run as BuildKit runs them.
	Image bool
	// Deps are the stages this one reads: its base, COPY --from and RUN
	// --mount from=. It starts once they are built.
	Deps []*Stage
	// depsErr is what finding Deps failed on: the build fails with it if
	// the stage is needed.
	depsErr error
}

func (s *Stage) addDep(d *Stage) {
	if !slices.Contains(s.Deps, d) {
		s.Deps = append(s.Deps, d)
	}
}

// Steps is how many steps the stage has, FROM included, as BuildKit counts
// them in "[name k/n]".
func (s *Stage) Steps() int { return len(s.Commands) + 1 }

// PlanOptions are the inputs that choose stages and expand FROM lines.
type PlanOptions struct {
	File      string            // the Dockerfile's name for messages; "" is "Dockerfile"
	BuildArgs map[string]string // --build-arg
	Target    string            // --target; "" is the last stage
	// Contexts are the named build contexts (Options.Contexts): a
	// directory's name is no image to plan.
	Contexts map[string]string
}

// platformArgs are the automatic platform ARGs, with the host's values (a
// build is for the host's platform only).
func platformArgs() map[string]string {
	p := hostplatform.String()
	return map[string]string{
		"TARGETPLATFORM": p, "TARGETOS": "linux", "TARGETARCH": runtime.GOARCH, "TARGETVARIANT": "",
		"BUILDPLATFORM": p, "BUILDOS": "linux", "BUILDARCH": runtime.GOARCH, "BUILDVARIANT": "",
	}
}

// Parse parses a Dockerfile and plans the stages opt.Target needs.
// Syntax errors, unknown instructions and an unknown target or stage are
// *Error values naming the line.
func Parse(dockerfile []byte, opt PlanOptions) (*Plan, error) {
	file := opt.File
	if file == "" {
		file = "Dockerfile"
	}
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fileError(file, 0, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fileError(file, 0, err)
	}
	if len(stages) == 0 {
		return nil, &Error{File: file, Msg: "the Dockerfile has no FROM instruction"}
	}
	lex := shell.NewLex(res.EscapeToken)
	global, err := evalMetaArgs(file, lex, metaArgs, opt.BuildArgs)
	if err != nil {
		return nil, err
	}
	p := &Plan{File: file, escape: res.EscapeToken, global: global, buildArgs: opt.BuildArgs, images: map[string]*Stage{}}
	all := make([]*Stage, len(stages))
	for i, st := range stages {
		s := &Stage{Index: i, Name: strings.ToLower(st.Name), Named: st.Name != "", From: st.SourceCode, Commands: st.Commands}
		if !s.Named {
			s.Name = "stage-" + strconv.Itoa(i)
		}
		if len(st.Location) > 0 {
			s.Line = st.Location[0].Start.Line
		}
		base, _, err := lex.ProcessWord(st.BaseName, global)
		if err != nil {
			return nil, &Error{File: file, Line: s.Line, Msg: err.Error()}
		}
		if base == "" {
			return nil, &Error{File: file, Line: s.Line, Msg: fmt.Sprintf("base name (%s) should not be blank", st.BaseName)}
		}
		s.Base = base
		if st.Platform != "" {
			pl, _, err := lex.ProcessWord(st.Platform, global)
			if err != nil {
				return nil, &Error{File: file, Line: s.Line, Msg: err.Error()}
			}
			if !hostplatform.Is(pl) {
				return nil, &Error{File: file, Line: s.Line, Msg: fmt.Sprintf("FROM --platform=%s: not this host's platform (%s): berth builds for the host only, with no emulation", pl, hostplatform.String())}
			}
		}
		if b := findStage(all[:i], base); b != nil {
			s.BaseStage = b
		} else if v := opt.Contexts[base]; v != "" && !strings.HasPrefix(v, ImageContextPrefix) {
			return nil, &Error{File: file, Line: s.Line, Msg: fmt.Sprintf("FROM %s: the build context %q is a directory, not an image", base, base)}
		}
		all[i] = s
	}
	target := all[len(all)-1]
	if opt.Target != "" {
		target = findStage(all, opt.Target)
		if target == nil || !target.Named {
			return nil, &Error{File: file, Msg: fmt.Sprintf("target stage %q could not be found", opt.Target)}
		}
	}
	for _, s := range all {
		s.depsErr = p.findDeps(s, all, lex, opt.Contexts)
	}
	// The stages the target needs, each after what it reads; the images
	// COPY --from names first, as they are found.
	needed := map[*Stage]bool{}
	var visit func(s *Stage) error
	visit = func(s *Stage) error {
		if needed[s] {
			return nil
		}
		needed[s] = true
		if s.depsErr != nil {
			return s.depsErr
		}
		for _, d := range s.Deps {
			if d.Image {
				if !needed[d] {
					needed[d] = true
					p.Stages = append(p.Stages, d)
				}
			} else if err := visit(d); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return nil, err
	}
	for _, s := range all {
		if needed[s] {
			p.Stages = append(p.Stages, s)
		}
	}
	p.all = all
	p.Target = target
	return p, nil
}

// findDeps sets s.Deps: its base stage, and the stages and images its
// COPY --from and RUN --mount from= read (a named context that is a
// directory is read when the step runs). The image stages it makes are
// kept in p.images, once per name. An error is an *Error naming the line;
// it matters only if s is built.
func (p *Plan) findDeps(s *Stage, all []*Stage, lex *shell.Lex, contexts map[string]string) error {
	if s.BaseStage != nil {
		s.addDep(s.BaseStage)
	}
	for _, c := range s.Commands {
		for _, from := range append(runMountFroms(c), copyFrom(c)) {
			if from == "" {
				continue
			}
			from, _, err := lex.ProcessWord(from, p.global)
			if err != nil {
				return &Error{File: p.File, Line: commandLine(c), Msg: err.Error()}
			}
			if dep := findStage(all[:s.Index], from); dep != nil {
				s.addDep(dep)
			} else if findStage(all, from) != nil {
				return &Error{File: p.File, Line: commandLine(c), Msg: fmt.Sprintf("--from=%s names this stage or a later one", from)}
			} else if from == "" {
				return &Error{File: p.File, Line: commandLine(c), Msg: "--from names no stage or image"}
			} else if v := contexts[from]; v != "" && !strings.HasPrefix(v, ImageContextPrefix) {
				continue // a directory: read when the step runs
			} else if copyFrom(c) != "" { // RUN --mount from= an image reads it when it runs
				if p.images[from] == nil {
					p.images[from] = &Stage{Index: -1, Name: from, Base: from, Line: commandLine(c), From: "FROM " + from, Image: true}
				}
				s.addDep(p.images[from])
			}
		}
	}
	return nil
}

// copyFrom returns the --from of a COPY, "" for any other instruction.
func copyFrom(c instructions.Command) string {
	if cc, ok := c.(*instructions.CopyCommand); ok {
		return cc.From
	}
	return ""
}

// findStage finds the stage name names among stages: by AS name
// (case-insensitive) or by index.
func findStage(stages []*Stage, name string) *Stage {
	for _, s := range stages {
		if s.Named && strings.EqualFold(s.Name, name) {
			return s
		}
	}
	if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < len(stages) && stages[i].Index == i {
		return stages[i]
	}
	return nil
}

// fromStage is the stage a COPY --from (expanded) names: a stage of the
// Dockerfile by name or index, or the image stage Parse made for it; nil
// when there is none.
func (p *Plan) fromStage(from string) *Stage {
	if s := findStage(p.all, from); s != nil {
		return s
	}
	return p.images[from]
}

// commandLine is the first line of c in the Dockerfile.
func commandLine(c instructions.Command) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// commandText is c as written, on one line.
func commandText(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		text := strings.Join(strings.Fields(s.String()), " ")
		if r, ok := c.(*instructions.RunCommand); ok && len(r.Files) > 0 && len(r.CmdLine) == 1 && parser.MustParseHeredoc(r.CmdLine[0]) != nil {
			text += " (" + heredocSummary(r.Files[0].Data) + ")"
		}
		return text
	}
	return strings.ToUpper(c.Name())
}

// evalMetaArgs evaluates the ARGs before the first FROM: a build argument
// overrides a default, a default may use earlier ones.
func evalMetaArgs(file string, lex *shell.Lex, metaArgs []instructions.ArgCommand, buildArgs map[string]string) (*envList, error) {
	env := &envList{}
	for k, v := range platformArgs() {
		env.set(k, v)
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			v, given := buildArgs[kv.Key]
			if !given {
				if kv.Value == nil {
					continue
				}
				var err error
				v, _, err = lex.ProcessWord(*kv.Value, env)
				if err != nil {
					return nil, &Error{File: file, Line: commandLine(&a), Msg: err.Error()}
				}
			}
			env.set(kv.Key, v)
		}
	}
	return env, nil
}

// envList is an ordered KEY=VALUE list, a shell.EnvGetter.
type envList struct {
	keys []string
	vals map[string]string
}

func (e *envList) set(k, v string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

// Get implements shell.EnvGetter.
func (e *envList) Get(k string) (string, bool) {
	v, ok := e.vals[k]
	return v, ok
}

// Keys implements shell.EnvGetter.
func (e *envList) Keys() []string { return slices.Clone(e.keys) }

// String renders the plan, one line per step as BuildKit names them
// ("[build 2/3] RUN make"), for tests and --dry-run style output.
func (p *Plan) String() string {
	var b strings.Builder
	for _, s := range p.Stages {
		// The triggers of a stage's base stage are known here; an image's
		// only once it is pulled. A bad one is reported by the build.
		triggers, _ := p.onBuild(s, &stageConfig{})
		n := len(triggers) + len(s.Commands) + 1
		fmt.Fprintf(&b, "%s\n", stepNameOf(s, 0, n, "FROM "+s.Base+fromSuffix(s)))
		for i, c := range append(triggers, s.Commands...) {
			text := commandText(c)
			if i < len(triggers) {
				text = "ONBUILD " + text
			}
			fmt.Fprintf(&b, "%s\n", stepNameOf(s, i+1, n, text))
		}
	}
	return b.String()
}

func fromSuffix(s *Stage) string {
	if s.Named {
		return " AS " + s.Name
	}
	return ""
}

// stepName is "[stage k/n] TEXT" for step i (0: FROM) of s.
func stepName(s *Stage, i int, text string) string {
	return stepNameOf(s, i, s.Steps(), text)
}

// stepNameOf is "[stage k/n] TEXT" for step i of n (a stage with ONBUILD
// triggers has more steps than its instructions).
func stepNameOf(s *Stage, i, n int, text string) string {
	return fmt.Sprintf("[%s %d/%d] %s", s.Name, i+1, n, text)
}
