package spec

import (
	"errors"
	"fmt"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
)

// The actions of a develop.watch rule, as Compose spells them.
const (
	WatchSync        = string(types.WatchActionSync)
	WatchRebuild     = string(types.WatchActionRebuild)
	WatchRestart     = string(types.WatchActionRestart)
	WatchSyncRestart = string(types.WatchActionSyncRestart)
	WatchSyncExec    = string(types.WatchActionSyncExec)
)

// Develop is a service's develop section (also spelled x-develop, which
// Load reads as develop): what `berth watch` does when files change.
type Develop struct {
	Watch []WatchRule // in file order
}

// WatchRule is one entry of develop.watch.
type WatchRule struct {
	Path   string // absolute host path, file or directory
	Action string // WatchSync, WatchRebuild, WatchRestart, WatchSyncRestart or WatchSyncExec
	// Target is the path in the container that Path maps to; empty for
	// rebuild and restart.
	Target      string
	Ignore      []string // patterns (.dockerignore syntax) relative to Path, in file order
	Include     []string // patterns relative to Path; empty: every file
	InitialSync bool
	Exec        *WatchExec // sync+exec's command; nil for the other actions
}

// Syncs reports whether the rule copies files into the container.
func (r WatchRule) Syncs() bool {
	return r.Action == WatchSync || r.Action == WatchSyncRestart || r.Action == WatchSyncExec
}

// WatchExec is the command a sync+exec rule runs in each container.
type WatchExec struct {
	Command     []string
	User        string
	Privileged  bool
	WorkingDir  string
	Environment []string // KEY=VALUE, sorted by key
}

// execCommand converts a command Compose runs in a container: a sync+exec
// rule's, a lifecycle hook.
func execCommand(h types.ServiceHook) WatchExec {
	return WatchExec{
		Command: cloneList(h.Command), User: h.User, Privileged: h.Privileged,
		WorkingDir: h.WorkingDir, Environment: environment(h.Environment),
	}
}

// develop converts a service's develop section; nil when it has no rule.
func develop(d *types.DevelopConfig) *Develop {
	if d == nil || len(d.Watch) == 0 {
		return nil
	}
	out := &Develop{}
	for _, t := range d.Watch {
		r := WatchRule{
			Path: t.Path, Action: string(t.Action), Target: t.Target,
			Ignore: cloneList(t.Ignore), Include: cloneList(t.Include), InitialSync: t.InitialSync,
		}
		if t.Action == types.WatchActionSyncExec {
			x := execCommand(t.Exec)
			r.Exec = &x
		}
		out.Watch = append(out.Watch, r)
	}
	return out
}

// developIssues returns the rules of s that watch cannot act on, as
// Docker Compose refuses them, as FieldErrors without File.
func developIssues(s Service) []FieldError {
	if s.Develop == nil {
		return nil
	}
	var out []FieldError
	for i, r := range s.Develop.Watch {
		at := fmt.Sprintf("services.%s.develop.watch[%d]", s.Name, i)
		switch {
		case r.Action == WatchRebuild && s.Build == nil:
			out = append(out, FieldError{Path: at + ".action", Issue: `"rebuild" needs a build: section to rebuild the image from`, Err: errdefs.ErrInvalidArgument})
		case r.Action == WatchSyncExec && len(r.Exec.Command) == 0:
			out = append(out, FieldError{Path: at + ".exec.command", Issue: `"sync+exec" needs a command`, Err: errdefs.ErrInvalidArgument})
		}
	}
	return out
}

// CheckWatch returns what keeps `berth watch` from acting on the develop
// rules of the named services (all when none is named): a rule Docker
// Compose refuses (rebuild without build:, sync+exec without a command),
// or no selected service having a rule at all. Errors are FieldErrors
// joined with errors.Join, of class errdefs.ErrInvalidArgument. Loading
// does not fail on these, as `up` without watch does not use the rules.
func (p *Project) CheckWatch(services []string) error {
	var errs []error
	watched := 0
	for _, s := range p.Services {
		if len(services) > 0 && !slices.Contains(services, s.Name) {
			continue
		}
		if s.Develop != nil {
			watched++
		}
		for _, fe := range p.developErrs {
			if fe.service == s.Name {
				errs = append(errs, fe.FieldError)
			}
		}
	}
	if watched == 0 && len(errs) == 0 {
		errs = append(errs, FieldError{File: p.mainFile, Issue: "none of the selected services is configured for watch, consider setting a 'develop' section", Err: errdefs.ErrInvalidArgument})
	}
	return errors.Join(errs...)
}

// serviceFieldError is a FieldError about one service.
type serviceFieldError struct {
	FieldError
	service string
}
