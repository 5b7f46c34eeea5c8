package swarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"

	"github.com/berth-dev/berth/deploy"
	"github.com/berth-dev/berth/spec"
)

// Cluster is a Swarm manager's Engine API; it implements deploy.Target.
// It is safe for concurrent use.
type Cluster struct {
	c *client

	mu    sync.Mutex        // guards nodes
	nodes map[string]string // node ID → hostname, for reports
}

var _ deploy.Target = (*Cluster)(nil)

// Connect reaches the Engine at e and checks that it is a Swarm manager.
func Connect(ctx context.Context, e Endpoint) (*Cluster, error) {
	c, err := dial(ctx, e)
	if err != nil {
		return nil, err
	}
	var info system.Info
	if err := c.do(ctx, "GET", "/info", nil, nil, &info); err != nil {
		return nil, fmt.Errorf("docker host %s: %w", e.Host, err)
	}
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateActive || !info.Swarm.ControlAvailable {
		return nil, fmt.Errorf("docker host %s is not a Swarm manager (node state %q): run `docker swarm init` there, or point --host at a manager: %w",
			e.Host, info.Swarm.LocalNodeState, errdefs.ErrFailedPrecondition)
	}
	return &Cluster{c: c, nodes: map[string]string{}}, nil
}

// APIVersion is the Engine API version spoken with the daemon, "1.41".
func (cl *Cluster) APIVersion() string { return cl.c.version[1:] }

// Observe returns the stack's services, networks, configs and secrets:
// the objects labelled with LabelNamespace=project.
func (cl *Cluster) Observe(ctx context.Context, project string) ([]deploy.Object, error) {
	q := filters("label", LabelNamespace+"="+project)
	var out []deploy.Object
	var svcs []swarm.Service
	if err := cl.c.do(ctx, "GET", "/services", q, nil, &svcs); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var all []network.Summary
	if err := cl.c.do(ctx, "GET", "/networks", nil, nil, &all); err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	netName := make(map[string]string, len(all))
	for _, n := range all {
		netName[n.ID] = n.Name
	}
	for _, s := range svcs {
		stripRefIDs(&s.Spec)
		// The cluster keeps network IDs where the spec named networks.
		for i, n := range s.Spec.TaskTemplate.Networks {
			if name, ok := netName[n.Target]; ok {
				s.Spec.TaskTemplate.Networks[i].Target = name
			}
		}
		out = append(out, deploy.Object{Kind: deploy.KindService, Name: s.Spec.Name, Service: s.Spec.Labels[spec.LabelService],
			Spec: s.Spec, ID: s.ID, Version: s.Version.Index})
	}
	var nets []network.Summary
	if err := cl.c.do(ctx, "GET", "/networks", q, nil, &nets); err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets {
		out = append(out, deploy.Object{Kind: deploy.KindNetwork, Name: n.Name, ID: n.ID, Immutable: true})
	}
	var cfgs []swarm.Config
	if err := cl.c.do(ctx, "GET", "/configs", q, nil, &cfgs); err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}
	for _, c := range cfgs {
		out = append(out, deploy.Object{Kind: deploy.KindConfig, Name: c.Spec.Name, ID: c.ID, Version: c.Version.Index, Immutable: true,
			Lineage: c.Spec.Labels[labelKey(deploy.KindConfig)]})
	}
	var secs []swarm.Secret
	if err := cl.c.do(ctx, "GET", "/secrets", q, nil, &secs); err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	for _, s := range secs {
		out = append(out, deploy.Object{Kind: deploy.KindSecret, Name: s.Spec.Name, ID: s.ID, Version: s.Version.Index, Immutable: true,
			Lineage: s.Spec.Labels[labelKey(deploy.KindSecret)]})
	}
	return out, nil
}

// stripRefIDs clears the IDs of config and secret references: the desired
// spec names them, the cluster's also has IDs.
func stripRefIDs(s *swarm.ServiceSpec) {
	cs := s.TaskTemplate.ContainerSpec
	if cs == nil {
		return
	}
	for _, r := range cs.Configs {
		r.ConfigID = ""
	}
	for _, r := range cs.Secrets {
		r.SecretID = ""
	}
}

// Create creates o.
func (cl *Cluster) Create(ctx context.Context, o deploy.Object) error {
	switch o.Kind {
	case deploy.KindNetwork:
		return cl.c.do(ctx, "POST", "/networks/create", nil, o.Spec, nil)
	case deploy.KindConfig:
		return cl.c.do(ctx, "POST", "/configs/create", nil, o.Spec, nil)
	case deploy.KindSecret:
		return cl.c.do(ctx, "POST", "/secrets/create", nil, o.Spec, nil)
	case deploy.KindService:
		s, err := cl.resolve(ctx, o)
		if err != nil {
			return err
		}
		return cl.c.do(ctx, "POST", "/services/create", nil, s, nil)
	}
	return fmt.Errorf("create %s: %w", o.Kind, errdefs.ErrNotImplemented)
}

// Update updates a service at current's version: Swarm rolls it out as
// its update_config says.
func (cl *Cluster) Update(ctx context.Context, current, desired deploy.Object) error {
	if desired.Kind != deploy.KindService {
		return fmt.Errorf("update %s: immutable: %w", desired.Kind, errdefs.ErrNotImplemented)
	}
	s, err := cl.resolve(ctx, desired)
	if err != nil {
		return err
	}
	q := url.Values{"version": {strconv.FormatUint(current.Version, 10)}}
	return cl.c.do(ctx, "POST", "/services/"+current.ID+"/update", q, s, nil)
}

// resolve returns a service's spec with the IDs of its configs and
// secrets filled in, looked up by name.
func (cl *Cluster) resolve(ctx context.Context, o deploy.Object) (swarm.ServiceSpec, error) {
	s, ok := o.Spec.(swarm.ServiceSpec)
	if !ok {
		return s, fmt.Errorf("service %s: spec is %T: %w", o.Name, o.Spec, errdefs.ErrInvalidArgument)
	}
	cs := s.TaskTemplate.ContainerSpec
	if cs == nil {
		return s, nil
	}
	copied := *cs
	s.TaskTemplate.ContainerSpec = &copied
	copied.Configs = nil
	for _, r := range cs.Configs {
		id, err := cl.idByName(ctx, "/configs", r.ConfigName)
		if err != nil {
			return s, fmt.Errorf("config %s: %w", r.ConfigName, err)
		}
		c := *r
		c.ConfigID = id
		copied.Configs = append(copied.Configs, &c)
	}
	copied.Secrets = nil
	for _, r := range cs.Secrets {
		id, err := cl.idByName(ctx, "/secrets", r.SecretName)
		if err != nil {
			return s, fmt.Errorf("secret %s: %w", r.SecretName, err)
		}
		c := *r
		c.SecretID = id
		copied.Secrets = append(copied.Secrets, &c)
	}
	return s, nil
}

func (cl *Cluster) idByName(ctx context.Context, path, name string) (string, error) {
	var objs []struct {
		ID   string
		Spec struct{ Name string }
	}
	if err := cl.c.do(ctx, "GET", path, filters("name", name), nil, &objs); err != nil {
		return "", err
	}
	for _, o := range objs {
		if o.Spec.Name == name {
			return o.ID, nil
		}
	}
	return "", fmt.Errorf("not on the cluster: %w", errdefs.ErrNotFound)
}

// Remove removes o; one already gone is no error. A network or config
// still held by a task that is shutting down is retried for up to 30s.
func (cl *Cluster) Remove(ctx context.Context, o deploy.Object) error {
	path := map[deploy.Kind]string{deploy.KindService: "/services/", deploy.KindNetwork: "/networks/",
		deploy.KindConfig: "/configs/", deploy.KindSecret: "/secrets/"}[o.Kind]
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cl.c.do(ctx, "DELETE", path+o.ID, nil, nil, nil)
		if err == nil && o.Kind == deploy.KindNetwork {
			// The manager forgets the network at once, the node once its
			// last endpoint is gone: wait for that, so that the stack is
			// empty when Remove returns.
			err = cl.c.do(ctx, "GET", path+o.ID, nil, nil, nil)
			if err == nil {
				err = fmt.Errorf("network %s: still on the node: %w", o.Name, errdefs.ErrConflict)
			}
		}
		switch {
		case err == nil, errdefs.IsNotFound(err):
			return nil
		case o.Kind == deploy.KindService || time.Now().After(deadline):
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// failedTasks is how many failed tasks since the service's last change
// make its rollout a failure rather than a retry in progress.
const failedTasks = 3

// Status reports each service's tasks.
func (cl *Cluster) Status(ctx context.Context, services []string) ([]deploy.ServiceStatus, error) {
	// Two requests a poll, however many services: their specs (the name
	// filter matches prefixes, so exact names are picked here), then all
	// their tasks.
	q := url.Values{}
	f, _ := json.Marshal(map[string][]string{"name": services})
	q.Set("filters", string(f))
	var svcs []swarm.Service
	if err := cl.c.do(ctx, "GET", "/services", q, nil, &svcs); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	byName := make(map[string]*swarm.Service, len(svcs))
	var ids []string
	for i, s := range svcs {
		if slices.Contains(services, s.Spec.Name) {
			byName[s.Spec.Name] = &svcs[i]
			ids = append(ids, s.ID)
		}
	}
	tasksOf := map[string][]swarm.Task{}
	if len(ids) > 0 {
		f, _ := json.Marshal(map[string][]string{"service": ids})
		var tasks []swarm.Task
		if err := cl.c.do(ctx, "GET", "/tasks", url.Values{"filters": {string(f)}}, nil, &tasks); err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		for _, t := range tasks {
			tasksOf[t.ServiceID] = append(tasksOf[t.ServiceID], t)
		}
	}
	out := make([]deploy.ServiceStatus, 0, len(services))
	for _, name := range services {
		svc, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("service %s: not on the cluster: %w", name, errdefs.ErrNotFound)
		}
		out = append(out, cl.status(ctx, svc, tasksOf[svc.ID]))
	}
	return out, nil
}

// status is how far the service's rollout came, from its tasks.
func (cl *Cluster) status(ctx context.Context, svc *swarm.Service, tasks []swarm.Task) deploy.ServiceStatus {
	st := deploy.ServiceStatus{Name: svc.Spec.Name}
	if u := svc.UpdateStatus; u != nil {
		switch u.State {
		case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
			st.Updating = true
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
			st.Failed = fmt.Sprintf("update %s: %s", u.State, u.Message)
		}
	}
	failed := 0
	var latest *swarm.Task
	for i, t := range tasks {
		if t.DesiredState == swarm.TaskStateRunning {
			st.Desired++
			if t.Status.State == swarm.TaskStateRunning && sameJSON(t.Spec.ContainerSpec, svc.Spec.TaskTemplate.ContainerSpec) {
				st.Running++
			} else if latest == nil || t.Status.Timestamp.After(latest.Status.Timestamp) {
				latest = &tasks[i]
			}
		}
		if (t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected) && t.Status.Timestamp.After(svc.UpdatedAt) {
			failed++
			if failed >= failedTasks && st.Failed == "" {
				st.Failed = fmt.Sprintf("task %s on node %s: %s: %s", t.ID, cl.nodeName(ctx, t.NodeID), t.Status.State, cmpOr(t.Status.Err, t.Status.Message))
			}
		}
	}
	if r := svc.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		st.Desired = int(*r.Replicas)
	} else if st.Desired == 0 {
		st.Desired, st.Note = 1, "no task scheduled yet" // a global service waits for its first task
	}
	if latest != nil {
		st.Note = string(latest.Status.State) + ": " + cmpOr(latest.Status.Err, latest.Status.Message)
	}
	return st
}

func (cl *Cluster) nodeName(ctx context.Context, id string) string {
	if id == "" {
		return "(none)"
	}
	cl.mu.Lock()
	name, ok := cl.nodes[id]
	cl.mu.Unlock()
	if ok {
		return name
	}
	var n swarm.Node
	if err := cl.c.do(ctx, "GET", "/nodes/"+id, nil, nil, &n); err != nil || n.Description.Hostname == "" {
		return id
	}
	cl.mu.Lock()
	cl.nodes[id] = n.Description.Hostname
	cl.mu.Unlock()
	return n.Description.Hostname
}

// sameJSON says whether a task runs the service's current task template:
// a task's spec is a copy of the template it was made from.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
