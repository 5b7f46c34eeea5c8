package spec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	composeerrdefs "github.com/compose-spec/compose-go/v2/errdefs"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"gopkg.in/yaml.v3"

	"github.com/berth-dev/berth/internal/lazyregexp"
)

// Shapes of compose-go's error messages that loadError turns into a
// FieldError. compose-go returns plain strings, so matching them is the only
// way to find the file and field; anything unmatched still gives one line.
var (
	reValidating    = lazyregexp.New(`(?s)^validating (\S+): (.*)$`)
	reFailedToParse = lazyregexp.New(`(?s)^failed to parse (\S+): (.*)$`)
	reFailedToRead  = lazyregexp.New(`(?s)^failed to read (\S+): (.*)$`)
	reComposeFile   = lazyregexp.New(`(?s)^compose file "([^"]+)"[^:]* is invalid: (.*)$`)
	reInterpolating = lazyregexp.New(`(?s)^error while interpolating (\S+): (.*)$`)
	reDecoding      = lazyregexp.New(`(?s)^decoding failed due to the following error\(s\):\s*'([^']+)' (.*)$`)
	reService       = lazyregexp.New(`(?s)^service "?([^"\s]+)"? (.*)$`)
	rePathFirst     = lazyregexp.New(`(?s)^((?:services|networks|volumes|configs|secrets|models|jobs|include)(?:\.[^\s:]+)?):? (.*)$`)
	reYAML          = lazyregexp.New(`(?s)^yaml: (.*)$`)
	reFalseSchema   = lazyregexp.New(`^(\S*) false schema$`)
	reAdditional    = lazyregexp.New(`^(\S*) +additional propert(?:y|ies) (.*) not allowed$`)
	reSchemaIssue   = lazyregexp.New(`^(\S*) +(.*)$`)
	reDecodePath    = lazyregexp.New(`\[([^\]]*[^\d\]][^\]]*)\]`) // services[web] but not ports[0]
	reNewlines      = lazyregexp.New(`\s*\n\s*`)
	reCast          = lazyregexp.New(`failed to cast to expected type: strconv\.Parse(Bool|Float): parsing "(.*)": invalid syntax$|failed to cast to expected type: strconv\.(Atoi|ParseInt|ParseUint): parsing "(.*)": invalid syntax$`)
)

// castIssue rewrites compose-go's report of a value of the wrong type after
// interpolation.
func castIssue(issue string) string {
	m := reCast.FindStringSubmatch(issue)
	switch {
	case m == nil:
		return issue
	case m[1] == "Bool":
		return strconv.Quote(m[2]) + " is not a boolean"
	case m[1] == "Float":
		return strconv.Quote(m[2]) + " is not a number"
	default:
		return strconv.Quote(m[4]) + " is not an integer"
	}
}

// loadError turns an error from compose-go into one line naming the file
// and, when it can be found, the field. It wraps errdefs.ErrNotFound when no
// Compose file was found and errdefs.ErrInvalidArgument otherwise.
func (l *loader) loadError(err error) error {
	var fe FieldError
	if errors.As(err, &fe) {
		return fe
	}
	if errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) {
		return err
	}
	msg := strings.TrimSpace(err.Error())
	if composeerrdefs.IsNotFoundError(err) && strings.HasPrefix(msg, "no configuration file provided") {
		return fmt.Errorf("no configuration file provided: %w", errdefs.ErrNotFound)
	}
	msg = strings.TrimSuffix(msg, ": "+composeerrdefs.ErrInvalid.Error())

	var file, path, issue string
	if m := reValidating.FindStringSubmatch(msg); m != nil {
		file = m[1]
		path, issue = schemaIssue(m[2])
	} else if m := reFailedToParse.FindStringSubmatch(msg); m != nil {
		file, issue = m[1], strings.TrimPrefix(m[2], "yaml: ")
	} else if m := reFailedToRead.FindStringSubmatch(msg); m != nil {
		file, issue = m[1], m[2]
	} else if m := reComposeFile.FindStringSubmatch(msg); m != nil {
		file, issue = m[1], m[2]
	} else if m := reInterpolating.FindStringSubmatch(msg); m != nil {
		path, issue = m[1], castIssue(m[2])
		file = l.sources().find(path, false)
	} else if m := reDecoding.FindStringSubmatch(msg); m != nil {
		path = reDecodePath.ReplaceAllString(m[1], ".$1")
		issue = m[2]
		file = l.sources().find(path, true)
	} else if m := reService.FindStringSubmatch(msg); m != nil {
		path = "services." + m[1]
		issue = m[2]
		file = l.sources().find(path, true)
	} else if m := rePathFirst.FindStringSubmatch(msg); m != nil {
		path, issue = m[1], m[2]
		file = l.sources().find(path, true)
	} else if m := reYAML.FindStringSubmatch(msg); m != nil {
		file, issue = l.sources().unparsable(), m[1]
	} else if d, ok := l.sources().diagnosePorts(); ok {
		file, path, issue = d.File, d.Path, d.Issue
	} else {
		issue = msg
	}
	if file == "" {
		file = l.primaryFile()
	}
	return FieldError{
		File:  l.display(file),
		Path:  path,
		Issue: l.oneLine(issue),
		Err:   errdefs.ErrInvalidArgument,
	}
}

// schemaIssue splits a JSON-schema message of compose-go ("services.web.ports
// must be a array") into the field path and the problem.
func schemaIssue(s string) (path, issue string) {
	if m := reFalseSchema.FindStringSubmatch(s); m != nil {
		return m[1], "unknown attribute"
	}
	if m := reAdditional.FindStringSubmatch(s); m != nil {
		props := m[2]
		if name, ok := strings.CutPrefix(props, "'"); ok && strings.Count(props, "'") == 2 {
			return joinPath(m[1], strings.TrimSuffix(name, "'")), "unknown attribute"
		}
		// The schema lists them in map order: sorted, the message is the
		// same on every load.
		names := strings.Split(props, ", ")
		slices.Sort(names)
		return m[1], "unknown attributes " + strings.Join(names, ", ")
	}
	if m := reSchemaIssue.FindStringSubmatch(s); m != nil {
		issue := strings.NewReplacer(" a array", " an array", " a integer", " an integer", " a object", " an object").Replace(" " + m[2])
		return m[1], strings.TrimSpace(issue)
	}
	return "", s
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// oneLine puts msg on one line and names the known files as the user sees
// them rather than by absolute path.
func (l *loader) oneLine(msg string) string {
	msg = reNewlines.ReplaceAllString(strings.TrimSpace(msg), "; ")
	var known []string
	known = append(known, l.composeFiles...)
	known = append(known, l.envRead...)
	for _, f := range l.sources().files {
		known = append(known, f.path)
	}
	// longest first, so that a path is not replaced by a prefix of it
	slices.SortFunc(known, func(a, b string) int { return len(b) - len(a) })
	for _, f := range known {
		if filepath.IsAbs(f) {
			msg = strings.ReplaceAll(msg, f, l.display(f))
		}
	}
	return msg
}

// primaryFile is the first Compose file, or "compose" when not known.
func (l *loader) primaryFile() string {
	for _, files := range [][]string{l.composeFiles, l.configs} {
		for _, f := range files {
			if f != "-" {
				return f
			}
		}
	}
	return "compose"
}

// fileSetting names, as display does, the file that sets the field at path
// of the loaded project (the last one: an override wins), else the first
// Compose file.
func (l *loader) fileSetting(path string) string {
	file := l.sources().find(path, true)
	if file == "" {
		file = l.primaryFile()
	}
	return l.display(file)
}

// display names file as the user sees it: relative to the working
// directory when inside it or in one of its parents, else absolute.
func (l *loader) display(file string) string {
	if !filepath.IsAbs(file) {
		return file
	}
	rel, err := filepath.Rel(l.cwd, file)
	if err != nil {
		return file
	}
	if filepath.IsLocal(rel) {
		return rel
	}
	dir := filepath.Dir(file)
	if strings.HasPrefix(l.cwd+string(filepath.Separator), dir+string(filepath.Separator)) {
		return rel
	}
	return file
}

// sources are the project's Compose files, with the files they include or
// extend from, parsed again as plain YAML to find which file sets a field.
type sources struct {
	files []sourceFile // in load order
}

type sourceFile struct {
	path string // absolute
	tree any    // nil when the file does not parse
	err  error  // the YAML error when it does not
}

// sources parses the project's files once, on the first error that needs it.
func (l *loader) sources() *sources {
	if l.sourceSet != nil {
		return l.sourceSet
	}
	s := &sources{}
	files := l.composeFiles
	if len(files) == 0 {
		files = l.configs
	}
	for _, f := range files {
		if f != "-" {
			s.add(f, 0)
		}
	}
	l.sourceSet = s
	return s
}

// maxSourceDepth bounds include chains followed to place an error; cycles
// are compose-go's to report.
const maxSourceDepth = 8

func (s *sources) add(path string, depth int) {
	if depth > maxSourceDepth || slices.ContainsFunc(s.files, func(f sourceFile) bool { return f.path == path }) {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	sf := sourceFile{path: path}
	if err := yaml.Unmarshal(b, &sf.tree); err != nil {
		sf.err = err
		sf.tree = nil
	}
	s.files = append(s.files, sf)
	dir := filepath.Dir(path)
	for _, ref := range referencedFiles(sf.tree) {
		if !filepath.IsAbs(ref) {
			ref = filepath.Join(dir, ref)
		}
		s.add(ref, depth+1)
	}
}

// referencedFiles lists the local files a Compose file includes or extends
// from, as written.
func referencedFiles(tree any) []string {
	var refs []string
	addPaths := func(v any) {
		switch v := v.(type) {
		case string:
			refs = append(refs, v)
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					refs = append(refs, s)
				}
			}
		}
	}
	includes, _ := lookup(tree, []string{"include"})
	if list, ok := includes.([]any); ok {
		for _, inc := range list {
			if m, ok := inc.(map[string]any); ok {
				addPaths(m["path"])
			} else {
				addPaths(inc)
			}
		}
	}
	services, _ := lookup(tree, []string{"services"})
	if m, ok := services.(map[string]any); ok {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if f, ok := lookup(m[name], []string{"extends", "file"}); ok {
				addPaths(f)
			}
		}
	}
	return refs
}

// find returns the file that sets path, or its closest parent: the last
// such file when last is set (an override wins), else the first. Empty when
// no file does.
func (s *sources) find(path string, last bool) string {
	parts := splitPath(path)
	for n := len(parts); n >= min(2, len(parts)) && n > 0; n-- {
		for i := range s.files {
			f := s.files[i]
			if last {
				f = s.files[len(s.files)-1-i]
			}
			if _, ok := lookup(f.tree, parts[:n]); ok {
				return f.path
			}
		}
	}
	return ""
}

// unparsable returns the first file that is not valid YAML.
func (s *sources) unparsable() string {
	for _, f := range s.files {
		if f.err != nil {
			return f.path
		}
	}
	return ""
}

// diagnosePorts finds a short-syntax port mapping that does not parse.
// compose-go reports those without saying where.
func (s *sources) diagnosePorts() (FieldError, bool) {
	for _, f := range s.files {
		services, _ := lookup(f.tree, []string{"services"})
		m, ok := services.(map[string]any)
		if !ok {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			ports, _ := lookup(m[name], []string{"ports"})
			list, _ := ports.([]any)
			for i, p := range list {
				spec, ok := p.(string)
				if !ok || strings.Contains(spec, "$") {
					continue
				}
				if _, err := types.ParsePortConfig(spec); err != nil {
					return FieldError{
						File:  f.path,
						Path:  fmt.Sprintf("services.%s.ports[%d]", name, i),
						Issue: fmt.Sprintf("%q is not a valid port mapping: %v", spec, err),
					}, true
				}
			}
		}
	}
	return FieldError{}, false
}

// lookup follows path (as splitPath returns it) into a YAML tree.
func lookup(tree any, path []string) (any, bool) {
	v := tree
	for _, key := range path {
		if idx, ok := strings.CutPrefix(key, "["); ok {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			list, isList := v.([]any)
			if err != nil || !isList || i < 0 || i >= len(list) {
				return nil, false
			}
			v = list[i]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// splitPath splits a field path such as `services.web.ports[0]` into
// `services`, `web`, `ports`, `[0]`.
func splitPath(path string) []string {
	var out []string
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			j := strings.IndexByte(part, ']')
			switch {
			case i < 0 || j < i:
				out = append(out, part)
				part = ""
			case i > 0:
				out = append(out, part[:i])
				part = part[i:]
			default:
				out = append(out, part[:j+1])
				part = part[j+1:]
			}
		}
	}
	return out
}
