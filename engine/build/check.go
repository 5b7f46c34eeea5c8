package build

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Warning is one finding of Check: a rule of BuildKit's Dockerfile checks
// (`docker build --check`), with its place in the file.
type Warning struct {
	Rule        string // e.g. "JSONArgsRecommended"
	Description string // the rule's
	URL         string // the rule's documentation
	Detail      string // this finding's message
	Line        int    // first line, 1-based
	EndLine     int
}

// Check runs the checks of BuildKit's Dockerfile linter that need no
// build, with the rules and messages of its linter package, honouring a
// `# check=skip=…` directive as BuildKit does: NoEmptyContinuation,
// MaintainerDeprecated, StageNameCasing, FromAsCasing,
// ConsistentInstructionCasing, ReservedStageName, DuplicateStageName,
// JSONArgsRecommended, MultipleInstructionsDisallowed,
// WorkdirRelativePath, LegacyKeyValueFormat, SecretsUsedInArgOrEnv,
// ExposeProtoCasing and ExposeInvalidFormat. The rules that need the
// build's arguments, base images or context (UndefinedVar,
// UndefinedArgInFrom, CopyIgnoredFile, InvalidBaseImagePlatform …) are
// not run. The findings come sorted by line. A Dockerfile that does not
// parse is an *Error naming the file.
func Check(dockerfile []byte, file string) ([]Warning, error) {
	if file == "" {
		file = "Dockerfile"
	}
	cfg := &linter.Config{}
	if opts, _, _, ok := parser.ParseDirective("check", dockerfile); ok {
		c, err := linter.ParseLintOptions(opts)
		if err != nil {
			return nil, &Error{File: file, Msg: "check directive: " + err.Error()}
		}
		cfg = c
	}
	var out []Warning
	cfg.Warn = func(rule, description, url, detail string, loc []parser.Range) {
		w := Warning{Rule: rule, Description: description, URL: url, Detail: detail}
		if len(loc) > 0 {
			w.Line, w.EndLine = loc[0].Start.Line, max(loc[0].End.Line, loc[0].Start.Line)
		}
		out = append(out, w)
	}
	lint := linter.New(cfg)
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fileError(file, 0, err)
	}
	for _, w := range res.Warnings {
		if w.URL == linter.RuleNoEmptyContinuation.URL && w.Location != nil {
			lint.Run(&linter.RuleNoEmptyContinuation, []parser.Range{*w.Location}, linter.RuleNoEmptyContinuation.Format())
		}
	}
	// Parsing runs MaintainerDeprecated, StageNameCasing and FromAsCasing.
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, fileError(file, 0, err)
	}
	checkCasing(stages, lint)
	checkStageNames(stages, lint)
	for _, a := range metaArgs {
		checkArgNames(&a, lint)
	}
	for _, st := range stages {
		checkStage(st, lint)
	}
	slices.SortStableFunc(out, func(a, b Warning) int { return a.Line - b.Line })
	return out, nil
}

// checkCasing is ConsistentInstructionCasing: every instruction in one
// case, the case most of them have.
func checkCasing(stages []instructions.Stage, lint *linter.Linter) {
	consistent := func(s string) bool { return s == strings.ToLower(s) || s == strings.ToUpper(s) }
	var lower, upper int
	count := func(name string) {
		switch {
		case !consistent(name):
		case name == strings.ToLower(name):
			lower++
		default:
			upper++
		}
	}
	for _, st := range stages {
		count(st.OrigCmd)
		for _, c := range st.Commands {
			count(c.Name())
		}
	}
	check := func(name string, loc []parser.Range) {
		want := ""
		if lower > upper && strings.ToLower(name) != name {
			want = "lowercase"
		} else if lower <= upper && strings.ToUpper(name) != name {
			want = "uppercase"
		}
		if want != "" {
			lint.Run(&linter.RuleConsistentInstructionCasing, loc, linter.RuleConsistentInstructionCasing.Format(name, want))
		}
	}
	for _, st := range stages {
		check(st.OrigCmd, st.Location)
		for _, c := range st.Commands {
			check(c.Name(), c.Location())
		}
	}
}

// checkStageNames is ReservedStageName and DuplicateStageName.
func checkStageNames(stages []instructions.Stage, lint *linter.Linter) {
	seen := map[string]bool{}
	for _, st := range stages {
		if st.Name == "" {
			continue
		}
		if st.Name == "context" || st.Name == "scratch" {
			lint.Run(&linter.RuleReservedStageName, st.Location, linter.RuleReservedStageName.Format(st.Name))
		}
		if seen[st.Name] {
			lint.Run(&linter.RuleDuplicateStageName, st.Location, linter.RuleDuplicateStageName.Format(st.Name))
		}
		seen[st.Name] = true
	}
}

// secretName is BuildKit's pattern of a name that holds a secret, and
// allowedName of one that does not though it looks so.
var (
	secretName  = regexp.MustCompile(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`)
	allowedName = regexp.MustCompile(`(?i)(?:_|^)(?:public)(?:_|$)`)
)

func checkSecretName(instruction, key string, loc []parser.Range, lint *linter.Linter) {
	if secretName.MatchString(key) && !allowedName.MatchString(key) {
		lint.Run(&linter.RuleSecretsUsedInArgOrEnv, loc, linter.RuleSecretsUsedInArgOrEnv.Format(instruction, key))
	}
}

func checkArgNames(c *instructions.ArgCommand, lint *linter.Linter) {
	for _, a := range c.Args {
		checkSecretName("ARG", a.Key, c.Location(), lint)
	}
}

// checkStage runs the checks of one stage's instructions, in order.
func checkStage(st instructions.Stage, lint *linter.Linter) {
	type once struct {
		set bool
		loc []parser.Range
	}
	var cmd, entrypoint, health once
	usedOnce := func(name string, u *once, loc []parser.Range) {
		if u.set { // the earlier one is ignored: it is the one reported
			lint.Run(&linter.RuleMultipleInstructionsDisallowed, u.loc, linter.RuleMultipleInstructionsDisallowed.Format(name))
		}
		u.set, u.loc = true, loc
	}
	shell, workdirSet := false, false
	jsonArgs := func(name string, prependShell bool, loc []parser.Range) {
		if prependShell && !shell {
			lint.Run(&linter.RuleJSONArgsRecommended, loc, linter.RuleJSONArgsRecommended.Format(name))
		}
	}
	legacy := func(name string, noDelim bool, loc []parser.Range) {
		if noDelim {
			lint.Run(&linter.RuleLegacyKeyValueFormat, loc, linter.RuleLegacyKeyValueFormat.Format(name))
		}
	}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.CmdCommand:
			usedOnce(c.Name(), &cmd, c.Location())
			jsonArgs(c.Name(), c.PrependShell, c.Location())
		case *instructions.EntrypointCommand:
			usedOnce(c.Name(), &entrypoint, c.Location())
			jsonArgs(c.Name(), c.PrependShell, c.Location())
		case *instructions.HealthCheckCommand:
			usedOnce(c.Name(), &health, c.Location())
		case *instructions.ShellCommand:
			shell = true
		case *instructions.WorkdirCommand:
			if !workdirSet && !path.IsAbs(c.Path) && !strings.HasPrefix(c.Path, "$") {
				lint.Run(&linter.RuleWorkdirRelativePath, c.Location(), linter.RuleWorkdirRelativePath.Format(c.Path))
			}
			workdirSet = true
		case *instructions.EnvCommand:
			for _, e := range c.Env {
				legacy(c.Name(), e.NoDelim, c.Location())
				checkSecretName("ENV", e.Key, c.Location(), lint)
			}
		case *instructions.LabelCommand:
			for _, l := range c.Labels {
				legacy(c.Name(), l.NoDelim, c.Location())
			}
		case *instructions.ArgCommand:
			checkArgNames(c, lint)
		case *instructions.ExposeCommand:
			for _, p := range c.Ports {
				checkExpose(p, c.Location(), lint)
			}
		}
	}
}

// checkExpose is ExposeProtoCasing and ExposeInvalidFormat for one port of
// EXPOSE ([IP:][HOSTPORT:]PORT[/PROTO]).
func checkExpose(raw string, loc []parser.Range, lint *linter.Linter) {
	port, proto, _ := strings.Cut(raw, "/")
	if proto != strings.ToLower(proto) {
		lint.Run(&linter.RuleExposeProtoCasing, loc, linter.RuleExposeProtoCasing.Format(raw))
	}
	if strings.Contains(port, ":") {
		lint.Run(&linter.RuleExposeInvalidFormat, loc, linter.RuleExposeInvalidFormat.Format(raw))
	}
}

// PrintWarnings writes the findings of Check as BuildKit prints a check's
// results: the rule and its URL, the message, then the lines around the
// place, the Dockerfile (dockerfile, named file) quoted.
func PrintWarnings(w io.Writer, file string, dockerfile []byte, ws []Warning) {
	lines := strings.Split(string(dockerfile), "\n")
	for _, wa := range ws {
		fmt.Fprintf(w, "\nWARNING: %s", wa.Rule)
		if wa.URL != "" {
			fmt.Fprintf(w, " - %s", wa.URL)
		}
		fmt.Fprintf(w, "\n%s\n", wa.Detail)
		start, end := wa.Line, max(wa.EndLine, wa.Line)
		if start < 1 || start > len(lines) {
			continue
		}
		end = min(end, len(lines))
		pad := 2
		if end == start {
			pad = 4
		}
		first := start
		for p := 0; p < pad; p++ {
			if start > 1 {
				start--
				p++
			}
			if end != len(lines) {
				end++
				p++
			}
		}
		fmt.Fprintf(w, "%s:%d\n--------------------\n", file, first)
		for i := start; i <= end; i++ {
			mark := "   "
			if i >= wa.Line && i <= max(wa.EndLine, wa.Line) {
				mark = ">>>"
			}
			fmt.Fprintf(w, " %3d | %s %s\n", i, mark, lines[i-1])
		}
		fmt.Fprintf(w, "--------------------\n")
	}
}
