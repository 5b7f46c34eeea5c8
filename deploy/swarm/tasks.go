package swarm

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"

	"github.com/berth-dev/berth/spec"
)

// Task is one task of a deployed service, as `docker stack ps` lists it.
type Task struct {
	ID           string
	Name         string // <stack>_<service>.<slot>, or .<node ID> for a global service
	Service      string // the Compose service
	Image        string
	Node         string // hostname
	DesiredState string
	CurrentState string
	Since        time.Time
	Error        string
}

// stackServices lists the stack's services, those of the Compose services
// named (all when none), sorted by name. Naming one the stack does not
// have is an error.
func (cl *Cluster) stackServices(ctx context.Context, project string, services []string) ([]swarm.Service, error) {
	var svcs []swarm.Service
	if err := cl.c.do(ctx, "GET", "/services", filters("label", LabelNamespace+"="+project), nil, &svcs); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	have := map[string]bool{}
	svcs = slices.DeleteFunc(svcs, func(s swarm.Service) bool {
		name := s.Spec.Labels[spec.LabelService]
		have[name] = true
		return len(services) > 0 && !slices.Contains(services, name)
	})
	for _, s := range services {
		if !have[s] {
			return nil, fmt.Errorf("service %q: not deployed in stack %s: %w", s, project, errdefs.ErrNotFound)
		}
	}
	slices.SortFunc(svcs, func(a, b swarm.Service) int { return cmp.Compare(a.Spec.Name, b.Spec.Name) })
	return svcs, nil
}

// Tasks lists the tasks of the stack's services (of those named, or all),
// by task name, the newest first within a name: what runs now, then the
// tasks it replaced.
func (cl *Cluster) Tasks(ctx context.Context, project string, services []string) ([]Task, error) {
	svcs, err := cl.stackServices(ctx, project, services)
	if err != nil {
		return nil, err
	}
	var out []Task
	for _, s := range svcs {
		var tasks []swarm.Task
		if err := cl.c.do(ctx, "GET", "/tasks", filters("service", s.ID), nil, &tasks); err != nil {
			return nil, fmt.Errorf("tasks of %s: %w", s.Spec.Name, err)
		}
		for _, t := range tasks {
			out = append(out, Task{
				ID: t.ID, Name: taskName(s.Spec.Name, t), Service: s.Spec.Labels[spec.LabelService],
				Image: imageName(t.Spec.ContainerSpec), Node: cl.nodeName(ctx, t.NodeID),
				DesiredState: string(t.DesiredState), CurrentState: string(t.Status.State), Since: t.Status.Timestamp,
				Error: t.Status.Err,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b Task) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), b.Since.Compare(a.Since))
	})
	return out, nil
}

func taskName(service string, t swarm.Task) string {
	if t.Slot > 0 {
		return service + "." + strconv.Itoa(t.Slot)
	}
	return service + "." + t.NodeID
}

// imageName is the task's image without the digest Swarm pinned.
func imageName(c *swarm.ContainerSpec) string {
	if c == nil {
		return ""
	}
	name, _, _ := strings.Cut(c.Image, "@sha256:")
	return name
}

// LogOptions steer Logs, as `docker service logs`.
type LogOptions struct {
	Follow     bool
	Tail       string // "all" or a number of lines per task
	Timestamps bool
	Since      string
}

// Logs writes the output of the stack's services (those named, or all) to
// w, each line prefixed with its task as `docker service logs` does:
// "<stack>_<service>.<slot>@<node> | ". With Follow it returns when ctx
// ends or every service's stream has ended.
func (cl *Cluster) Logs(ctx context.Context, project string, services []string, o LogOptions, w io.Writer) error {
	svcs, err := cl.stackServices(ctx, project, services)
	if err != nil {
		return err
	}
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "details": {"true"}}
	if o.Follow {
		q.Set("follow", "1")
	}
	if o.Tail != "" {
		q.Set("tail", o.Tail)
	}
	if o.Timestamps {
		q.Set("timestamps", "1")
	}
	if o.Since != "" {
		q.Set("since", o.Since)
	}
	var (
		mu   sync.Mutex // one line at a time to w
		wg   sync.WaitGroup
		errs = make([]error, len(svcs))
	)
	for i, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cl.serviceLogs(ctx, s, q, func(line string) {
				mu.Lock()
				defer mu.Unlock()
				_, _ = io.WriteString(w, line)
			})
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil // the caller stopped following
	}
	return errors.Join(errs...)
}

// serviceLogs reads one service's multiplexed log stream and hands each
// line, prefixed, to emit.
func (cl *Cluster) serviceLogs(ctx context.Context, s swarm.Service, q url.Values, emit func(string)) error {
	body, err := cl.c.stream(ctx, "/services/"+s.ID+"/logs", q)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", s.Spec.Name, err)
	}
	defer body.Close()
	slots := map[string]string{} // task ID → task name
	r := bufio.NewReader(body)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return readEnd(ctx, err)
		}
		frame := make([]byte, binary.BigEndian.Uint32(hdr[4:]))
		if _, err := io.ReadFull(r, frame); err != nil {
			return readEnd(ctx, err)
		}
		emit(cl.logLine(ctx, s, slots, string(frame)))
	}
}

func readEnd(ctx context.Context, err error) error {
	if errors.Is(err, io.EOF) || ctx.Err() != nil {
		return nil
	}
	return err
}

// logLine turns one frame of a details=true stream ("[TIMESTAMP ]k=v,k=v
// message") into "<task>@<node> | [TIMESTAMP ]message".
func (cl *Cluster) logLine(ctx context.Context, s swarm.Service, slots map[string]string, frame string) string {
	ts := ""
	if t, rest, ok := strings.Cut(frame, " "); ok && len(t) > 20 && t[4] == '-' && t[10] == 'T' {
		ts, frame = t+" ", rest
	}
	details, msg, _ := strings.Cut(frame, " ")
	attrs := map[string]string{}
	for _, kv := range strings.Split(details, ",") {
		k, v, _ := strings.Cut(kv, "=")
		attrs[k] = v
	}
	task, node := attrs["com.docker.swarm.task.id"], attrs["com.docker.swarm.node.id"]
	name, ok := slots[task]
	if !ok {
		var t swarm.Task
		name = s.Spec.Name + "." + task
		if err := cl.c.do(ctx, "GET", "/tasks/"+task, nil, nil, &t); err == nil {
			name = taskName(s.Spec.Name, t)
		}
		slots[task] = name
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	return name + "@" + cl.nodeName(ctx, node) + " | " + ts + msg
}
