package build

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// heredocDir is where a RUN heredoc with a shebang is mounted, as BuildKit
// mounts it.
const heredocDir = "/dev/pipes"

// runFile is a file mounted read-only into a RUN step's container.
type runFile struct {
	Path string `json:"path"`
	Data string `json:"data"`
}

// runArgv is the argv of a RUN, with its heredocs as BuildKit runs them: a
// RUN that is a single heredoc runs its text in the shell, or, when the
// text starts with "#!", runs it as a script file of its own (returned to
// be mounted); any other RUN with heredocs is handed to the shell whole, the
// heredocs after the command line, and the shell reads them (expanding
// them unless their delimiter is quoted).
func (sc *stageConfig) runArgv(c *instructions.RunCommand) ([]string, []runFile, error) {
	if len(c.Files) == 0 {
		return sc.cmdLine(c.ShellDependantCmdLine), nil, nil
	}
	if len(c.CmdLine) != 1 || !c.PrependShell {
		return nil, nil, fmt.Errorf("a RUN with heredocs must be in shell form")
	}
	line := c.ShellDependantCmdLine
	line.CmdLine = []string{c.CmdLine[0]}
	var files []runFile
	if parser.MustParseHeredoc(c.CmdLine[0]) != nil {
		f := c.Files[0]
		data := f.Data
		if f.Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			p := path.Join(heredocDir, path.Base("/"+f.Name))
			files = append(files, runFile{Path: p, Data: data})
			data = p
		}
		line.CmdLine[0] = data
	} else {
		full := c.CmdLine[0]
		for _, f := range c.Files {
			full += "\n" + f.Data + f.Name
		}
		line.CmdLine[0] = full
	}
	return sc.cmdLine(line), files, nil
}

// inlineFile is a file a COPY or ADD heredoc writes.
type inlineFile struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// inlineFiles are the heredocs of a COPY or ADD with their content, which
// is expanded (ARGs and ENV as BuildKit expands it, quotes kept) unless the
// delimiter was quoted.
func (sc *stageConfig) inlineFiles(contents []instructions.SourceContent) ([]inlineFile, error) {
	lex := shell.NewLex('\\')
	lex.SkipProcessQuotes = true
	var out []inlineFile
	for _, c := range contents {
		data := c.Data
		if c.Expand {
			var err error
			if data, _, err = lex.ProcessWord(data, sc.expandEnv()); err != nil {
				return nil, fmt.Errorf("heredoc %s: %w", c.Path, err)
			}
		}
		out = append(out, inlineFile{Name: c.Path, Data: data})
	}
	return out, nil
}

// writeScripts writes the heredoc scripts of a RUN step, executable, under
// a new scratch directory at their paths in the container, and returns the
// directory ("" when there are none; removing "" is a no-op).
func (c *cache) writeScripts(files []runFile) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	dir := c.tempName()
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", errors.Join(err, os.RemoveAll(dir))
		}
		if err := os.WriteFile(p, []byte(f.Data), 0o755); err != nil {
			return "", errors.Join(err, os.RemoveAll(dir))
		}
	}
	return dir, nil
}

// heredocSummary is a RUN heredoc's first line, "..." when it has more, as
// BuildKit names the step.
func heredocSummary(doc string) string {
	first, rest, _ := strings.Cut(strings.TrimSpace(strings.ReplaceAll(doc, "\r\n", "\n")), "\n")
	if rest != "" {
		first += "..."
	}
	return first
}
