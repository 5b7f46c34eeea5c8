package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/schema"
)

// The statuses of the support table.
const (
	StatusRuns    = "runs"
	StatusIgnored = "ignored"
	StatusRefused = "refused"
	StatusNotYet  = "not yet"
)

// Support is one attribute of the Compose Specification and what berth does
// with it.
type Support struct {
	Path   string // "services.*.volumes[].type": "*" any key, "[]" any entry
	Status string // StatusRuns, StatusIgnored, StatusRefused or StatusNotYet
	Note   string // the values berth runs, or why it ignores or refuses it
}

// SupportTable lists every attribute of the Compose Specification (from
// the schema compose-go validates with) with its status in berth, sorted
// by path. It is computed from the same tables CheckSupported uses, so the
// two cannot drift.
func SupportTable() ([]Support, error) {
	paths, err := schemaPaths()
	if err != nil {
		return nil, err
	}
	out := make([]Support, 0, len(paths))
	for _, p := range paths {
		out = append(out, supportOf(p))
	}
	return out, nil
}

// supportOf is the status of one schema path.
func supportOf(path string) Support {
	s := Support{Path: path, Status: StatusNotYet}
	r := supportedTree()
	var pattern []string
	for _, part := range splitPath(path) {
		if r.children == nil {
			break // everything below is accepted
		}
		next, key := r.children[part], part
		if next == nil && part != "[]" {
			next, key = r.children["*"], "*"
		}
		if next == nil {
			if part == "*" && len(r.children) > 0 {
				// Some keys run, named in the table; the others do not yet.
				s.Note = "runs: " + strings.Join(slices.Sorted(maps.Keys(r.children)), ", ")
			}
			return s
		}
		r = next
		pattern = append(pattern, key)
	}
	key := joinPattern(pattern)
	sk := serviceKey(key) // a job's container attribute has its service's status
	switch {
	case refusedFields[sk] != "":
		s.Status, s.Note = StatusRefused, refusedFields[sk]
	case refusedByUp[key] != "":
		s.Status, s.Note = StatusRefused, refusedByUp[key]
	case ignoredFields[sk] != "":
		s.Status, s.Note = StatusIgnored, ignoredFields[sk]
	default:
		s.Status = StatusRuns
		if r.check != nil {
			s.Note = checkNote(r.check(invalidProbe{}))
		}
	}
	return s
}

// invalidProbe is a value no check accepts: what a check says of it names
// the values it accepts.
type invalidProbe struct{}

// checkNote turns what a check says of a value it refuses into the note of
// the table: the values it accepts.
func checkNote(msg string) string {
	if _, after, ok := strings.Cut(msg, "(supported: "); ok {
		return "values: " + strings.TrimSuffix(after, ")")
	}
	if strings.Contains(msg, "platform") {
		return "the host's platform only"
	}
	return "some values"
}

func joinPattern(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if p != "[]" && i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// schemaPaths walks the Compose Specification's JSON schema and returns the
// path of every attribute, sorted.
func schemaPaths() ([]string, error) {
	var root map[string]any
	if err := json.Unmarshal([]byte(schema.Schema), &root); err != nil {
		return nil, fmt.Errorf("compose schema: %w", err)
	}
	w := schemaWalker{defs: asMap(root["$defs"]), paths: map[string]bool{}}
	for _, top := range slices.Sorted(maps.Keys(asMap(root["properties"]))) {
		if top == "version" || top == "name" {
			w.paths[top] = true
			continue
		}
		w.walk(asMap(asMap(root["properties"])[top]), top, nil)
	}
	return slices.Sorted(maps.Keys(w.paths)), nil
}

type schemaWalker struct {
	defs  map[string]any
	paths map[string]bool
}

// walk records the attributes below node, at path; refs lists the
// definitions being expanded, so that a recursive one stops.
func (w *schemaWalker) walk(node map[string]any, path string, refs []string) {
	props, keyed, items := map[string]any{}, map[string]any(nil), map[string]any(nil)
	w.collect(node, props, &keyed, &items, &refs)
	switch {
	case len(props) > 0:
		for _, k := range slices.Sorted(maps.Keys(props)) {
			w.walk(asMap(props[k]), path+"."+k, refs)
		}
	case keyed != nil:
		w.walk(keyed, path+".*", refs)
	case items != nil:
		sub := map[string]any{}
		var k, i map[string]any
		w.collect(items, sub, &k, &i, &refs)
		if len(sub) > 0 {
			w.walk(items, path+"[]", refs)
			return
		}
		w.paths[path] = true
	default:
		w.paths[path] = true
	}
}

// collect gathers, through $ref, allOf, oneOf and anyOf, the properties of
// node's object forms, the schema of its map values (patternProperties or
// an object additionalProperties) and of its list entries.
func (w *schemaWalker) collect(node map[string]any, props map[string]any, keyed, items *map[string]any, refs *[]string) {
	if ref, ok := node["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		if slices.Contains(*refs, name) {
			return
		}
		*refs = append(*refs, name)
		w.collect(asMap(w.defs[name]), props, keyed, items, refs)
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		alts, _ := node[k].([]any)
		for _, a := range alts {
			w.collect(asMap(a), props, keyed, items, refs)
		}
	}
	maps.Copy(props, asMap(node["properties"]))
	for _, v := range asMap(node["patternProperties"]) {
		*keyed = asMap(v)
	}
	if ap, ok := node["additionalProperties"].(map[string]any); ok && len(ap) > 0 {
		*keyed = ap
	}
	if it, ok := node["items"].(map[string]any); ok {
		*items = it
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
