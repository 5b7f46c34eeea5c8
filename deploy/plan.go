package deploy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Op is what an action does to an object.
type Op string

// The operations of a plan.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpRemove Op = "remove"
)

// Change is one field of an object's spec that an update changes, as
// "Path: From → To" with the values in compact JSON ("" when unset).
type Change struct {
	Path string
	From string
	To   string
}

func (c Change) String() string {
	return fmt.Sprintf("%s: %s → %s", c.Path, orUnset(c.From), orUnset(c.To))
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// Action is one step of a plan.
type Action struct {
	Op Op
	// Object is the desired object for create and update, the observed one
	// for remove.
	Object Object
	// Current is the observed object an update replaces.
	Current *Object
	// Changes are the fields an update changes, sorted by path.
	Changes []Change
}

// Target is the action's object as "kind name", e.g. "service shop_web".
func (a Action) Target() string { return string(a.Object.Kind) + " " + a.Object.Name }

// String is the action on one line, e.g. "update service shop_web (2
// changes)". Plan.String adds the changes.
func (a Action) String() string {
	s := string(a.Op) + " " + a.Target()
	if a.Op == OpUpdate {
		s += fmt.Sprintf(" (%d change%s)", len(a.Changes), plural(len(a.Changes)))
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Plan is what a deploy changes, in the order Apply does it: networks,
// configs and secrets are created first, services are created or updated
// after those they depend on, and removals come last, services before
// what they used.
type Plan struct {
	Actions []Action
	// Unchanged are the desired objects the cluster already runs as
	// desired, "kind name", sorted.
	Unchanged []string
	// Kept are observed objects that left the file and stay because
	// pruning was not asked for, "kind name", sorted.
	Kept []string
}

// String renders the plan for --dry-run, one action a line, each change of
// an update indented below it.
func (p Plan) String() string {
	var b strings.Builder
	for _, a := range p.Actions {
		b.WriteString(a.String())
		b.WriteByte('\n')
		for _, c := range a.Changes {
			b.WriteString("  " + c.String() + "\n")
		}
	}
	for _, u := range p.Unchanged {
		b.WriteString("unchanged " + u + "\n")
	}
	for _, k := range p.Kept {
		b.WriteString("keep " + k + " (not in the file; --prune removes it)\n")
	}
	if len(p.Actions) == 0 {
		b.WriteString("nothing to change\n")
	}
	return b.String()
}

// PlanOptions steer Compute.
type PlanOptions struct {
	// Prune removes observed objects of the project that are not desired.
	// It is ignored when Services is set.
	Prune bool
	// Down removes every observed object and creates nothing.
	Down bool
	// Services restricts the plan to these Compose services: other desired
	// services are left out, and nothing is removed.
	Services []string
}

// Compute compares desired with observed objects and returns the plan that
// makes the cluster hold the desired ones. It is pure and deterministic.
// An error means the desired objects are inconsistent (a dependency
// cycle, or a service depending on one that is not deployed).
func Compute(desired, observed []Object, opt PlanOptions) (Plan, error) {
	byName := make(map[string]Object, len(observed))
	for _, o := range observed {
		byName[key(o)] = o
	}
	var plan Plan
	if opt.Down {
		plan.Actions = removals(observed, func(Object) bool { return true })
		return plan, nil
	}
	if len(opt.Services) > 0 {
		desired = slices.DeleteFunc(slices.Clone(desired), func(o Object) bool {
			return o.Kind == KindService && !slices.Contains(opt.Services, o.Service)
		})
		opt.Prune = false
	}
	ordered, err := order(desired)
	if err != nil {
		return Plan{}, err
	}
	want := make(map[string]bool, len(ordered))
	for _, d := range ordered {
		want[key(d)] = true
		cur, ok := byName[key(d)]
		switch {
		case !ok:
			plan.Actions = append(plan.Actions, Action{Op: OpCreate, Object: d})
		case d.Immutable:
			plan.Unchanged = append(plan.Unchanged, key(d))
		default:
			changes, err := Diff(d.Spec, cur.Spec)
			if err != nil {
				return Plan{}, fmt.Errorf("%s: %w", key(d), err)
			}
			if len(changes) == 0 {
				plan.Unchanged = append(plan.Unchanged, key(d))
				continue
			}
			c := cur
			plan.Actions = append(plan.Actions, Action{Op: OpUpdate, Object: d, Current: &c, Changes: changes})
		}
	}
	stale := func(o Object) bool { return !want[key(o)] }
	// The earlier versions of a config or secret the file still has: once
	// every service was moved to the new one, nothing uses them. Not when
	// only some services are deployed: the others may still use them.
	lineage := map[string]bool{}
	for _, d := range desired {
		if d.Lineage != "" {
			lineage[string(d.Kind)+" "+d.Lineage] = true
		}
	}
	superseded := func(o Object) bool {
		return stale(o) && o.Lineage != "" && lineage[string(o.Kind)+" "+o.Lineage] && len(opt.Services) == 0
	}
	if opt.Prune {
		plan.Actions = append(plan.Actions, removals(observed, stale)...)
	} else {
		plan.Actions = append(plan.Actions, removals(observed, superseded)...)
		if len(opt.Services) == 0 {
			for _, o := range observed {
				if stale(o) && !superseded(o) {
					plan.Kept = append(plan.Kept, key(o))
				}
			}
		}
	}
	slices.Sort(plan.Unchanged)
	slices.Sort(plan.Kept)
	return plan, nil
}

func key(o Object) string { return string(o.Kind) + " " + o.Name }

// removals returns remove actions for the observed objects keep selects:
// services first, then secrets, configs and networks, each sorted by name.
func removals(observed []Object, sel func(Object) bool) []Action {
	var out []Action
	for _, o := range observed {
		if sel(o) {
			out = append(out, Action{Op: OpRemove, Object: o})
		}
	}
	slices.SortFunc(out, func(a, b Action) int {
		return cmp.Or(cmp.Compare(b.Object.Kind.rank(), a.Object.Kind.rank()), cmp.Compare(a.Object.Name, b.Object.Name))
	})
	return out
}

// order sorts desired objects by kind, services after the services they
// depend on, otherwise by name.
func order(desired []Object) ([]Object, error) {
	var rest, services []Object
	for _, o := range desired {
		if o.Kind == KindService {
			services = append(services, o)
		} else {
			rest = append(rest, o)
		}
	}
	slices.SortFunc(rest, func(a, b Object) int {
		return cmp.Or(cmp.Compare(a.Kind.rank(), b.Kind.rank()), cmp.Compare(a.Name, b.Name))
	})
	slices.SortFunc(services, func(a, b Object) int { return cmp.Compare(a.Name, b.Name) })
	bySvc := make(map[string]Object, len(services))
	for _, s := range services {
		bySvc[s.Service] = s
	}
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(s Object, path []string) error
	visit = func(s Object, path []string) error {
		switch state[s.Service] {
		case 1:
			return fmt.Errorf("service %q: depends_on cycle: %s", s.Service, strings.Join(append(path, s.Service), " → "))
		case 2:
			return nil
		}
		state[s.Service] = 1
		for _, dep := range slices.Sorted(slices.Values(s.After)) {
			d, ok := bySvc[dep]
			if !ok {
				continue // not deployed in this run (deploy SERVICE…): not waited for
			}
			if err := visit(d, append(path, s.Service)); err != nil {
				return err
			}
		}
		state[s.Service] = 2
		rest = append(rest, s)
		return nil
	}
	for _, s := range services {
		if err := visit(s, nil); err != nil {
			return nil, err
		}
	}
	return rest, nil
}

// Diff returns the fields in which current differs from desired, compared
// as JSON with empty values (null, "", 0, false, {} and []) left out on
// both sides: a cluster filling in an empty default is no change. Lists
// are compared whole.
func Diff(desired, current any) ([]Change, error) {
	d, err := normalise(desired)
	if err != nil {
		return nil, err
	}
	c, err := normalise(current)
	if err != nil {
		return nil, err
	}
	var out []Change
	diffValue("", d, c, &out)
	slices.SortFunc(out, func(a, b Change) int { return cmp.Compare(a.Path, b.Path) })
	return out, nil
}

func normalise(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	out, _ = prune(out)
	return out, nil
}

// prune drops empty values; ok is false when v itself is empty.
func prune(v any) (any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, false
	case bool:
		return t, t
	case string:
		return t, t != ""
	case json.Number:
		return t, t.String() != "0"
	case map[string]any:
		for k, e := range t {
			if p, ok := prune(e); ok {
				t[k] = p
			} else {
				delete(t, k)
			}
		}
		return t, len(t) > 0
	case []any:
		for i, e := range t {
			t[i], _ = prune(e)
		}
		return t, len(t) > 0
	}
	return v, true
}

func diffValue(path string, d, c any, out *[]Change) {
	dm, dok := d.(map[string]any)
	cm, cok := c.(map[string]any)
	if dok && cok {
		keys := slices.Sorted(maps.Keys(dm))
		for k := range cm {
			if _, ok := dm[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValue(p, dm[k], cm[k], out)
		}
		return
	}
	if reflect.DeepEqual(d, c) {
		return
	}
	*out = append(*out, Change{Path: path, From: compact(c), To: compact(d)})
}

// compact renders a value for a Change: compact JSON, at most 80 bytes.
func compact(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
