package build

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// onBuild returns the ONBUILD triggers stage s runs before its own
// instructions, parsed, and clears them from cfg, as BuildKit does: a stage
// on an image runs the triggers of the image's configuration (cfg as its
// base left it); a stage on an earlier stage runs the ONBUILD instructions
// of that stage. Neither is passed on to the stage's image. Pure: no I/O.
func (p *Plan) onBuild(s *Stage, cfg *stageConfig) ([]instructions.Command, error) {
	var exprs []string
	if s.BaseStage == nil {
		exprs = cfg.Config.OnBuild
	} else {
		for _, c := range s.BaseStage.Commands {
			if ob, ok := c.(*instructions.OnbuildCommand); ok {
				exprs = append(exprs, ob.Expression)
			}
		}
	}
	cfg.Config.OnBuild = nil
	var cmds []instructions.Command
	for _, e := range exprs {
		c, err := parseTrigger(e)
		if err != nil {
			return nil, &Error{File: p.File, Line: s.Line, Msg: fmt.Sprintf("ONBUILD trigger %q of %s: %v", e, s.Base, err)}
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// parseTrigger parses one ONBUILD trigger: a single instruction.
func parseTrigger(expr string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("a trigger must be a single instruction")
	}
	c, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, err
	}
	switch c.(type) {
	case *instructions.OnbuildCommand, *instructions.MaintainerCommand:
		return nil, fmt.Errorf("%s is not allowed as a trigger", strings.ToUpper(c.Name()))
	}
	return c, nil
}
