package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// runtimePath finds the OCI runtime binary of a container whose
// configuration names runtime (ContainerConfig.Runtime): that one, else
// the engine's. A missing one is errdefs.ErrFailedPrecondition: `runtime
// "runc": not found in PATH`.
func (e *Engine) runtimePath(runtime string) (string, error) {
	if runtime == "" {
		runtime = e.opt.Runtime
	}
	p, err := exec.LookPath(runtime)
	if err != nil {
		where := "not found in PATH"
		if strings.Contains(runtime, "/") {
			where = "not found"
		}
		return "", withClass(fmt.Errorf("runtime %q: %s", runtime, where), errdefs.ErrFailedPrecondition)
	}
	return p, nil
}

// runtimeCmd runs the OCI runtime binary (runc's command line) on the
// engine's side: kill, delete, state, pause, resume. The shim runs create
// and start itself.
type runtimeCmd struct {
	e    *Engine
	path string
}

func (e *Engine) runtime(runtime string) (runtimeCmd, error) {
	p, err := e.runtimePath(runtime)
	if err != nil {
		return runtimeCmd{}, err
	}
	return runtimeCmd{e: e, path: p}, nil
}

// run runs the runtime with args after its global options and returns its
// standard output. Its error message is the runtime's own (the msg of its
// last logged error); "container does not exist" is errdefs.ErrNotFound,
// "not running" / "not paused" errdefs.ErrFailedPrecondition.
func (r runtimeCmd) run(ctx context.Context, args ...string) ([]byte, error) {
	argv := ctrstate.RuntimeArgs(ctrstate.RuntimeRoot(r.e.opt.RunDir), args...)
	r.e.log.DebugContext(ctx, "exec runtime", "cmd", r.path+" "+strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, r.path, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := ctrstate.LastErrorMessage(stderr.Bytes())
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		verb := args[0]
		if msg == "" {
			return nil, fmt.Errorf("runtime %s: %w", verb, err)
		}
		e := fmt.Errorf("runtime %s: %s", verb, msg)
		switch {
		case strings.Contains(msg, "does not exist"):
			return nil, withClass(e, errdefs.ErrNotFound)
		case strings.Contains(msg, "not running"), strings.Contains(msg, "not paused"), strings.Contains(msg, "is stopped"):
			return nil, withClass(e, errdefs.ErrFailedPrecondition)
		}
		return nil, e
	}
	return stdout.Bytes(), nil
}

func (r runtimeCmd) kill(ctx context.Context, id ContainerID, sig string) error {
	_, err := r.run(ctx, "kill", string(id), sig)
	return err
}

// delete removes the container's runtime state; a container the runtime
// does not know is no error.
func (r runtimeCmd) delete(ctx context.Context, id ContainerID, force bool) error {
	args := []string{"delete", string(id)}
	if force {
		args = []string{"delete", "--force", string(id)}
	}
	_, err := r.run(ctx, args...)
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// state returns the runtime's status of the container ("created",
// "running", "paused", "stopped"); errdefs.ErrNotFound if it has none.
func (r runtimeCmd) state(ctx context.Context, id ContainerID) (string, error) {
	out, err := r.run(ctx, "state", string(id))
	if err != nil {
		return "", err
	}
	var s struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		return "", fmt.Errorf("runtime state: %w", err)
	}
	return s.Status, nil
}

func (r runtimeCmd) pause(ctx context.Context, id ContainerID) error {
	_, err := r.run(ctx, "pause", string(id))
	return err
}

func (r runtimeCmd) resume(ctx context.Context, id ContainerID) error {
	_, err := r.run(ctx, "resume", string(id))
	return err
}

// ignoreGone drops the errors of a runtime command that only say the
// container's process is already gone.
func ignoreGone(err error) error {
	if errdefs.IsNotFound(err) || errdefs.IsFailedPrecondition(err) {
		return nil
	}
	return err
}
