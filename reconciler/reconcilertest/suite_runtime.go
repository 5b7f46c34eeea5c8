package reconcilertest

import (
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
)

// stopTimeout is what the suite passes to Stop; its containers die on their
// stop signal.
const stopTimeout = 10 * time.Second

// RunRuntimeSuite checks the Runtime contract (reconciler.Runtime): one
// subtest per clause, each on a fresh Runtime from newRuntime, which holds
// no container and the image SuiteImage, and removes what the subtest left
// in t's cleanup.
func RunRuntimeSuite(t *testing.T, newRuntime func(t *testing.T) Runtime) {
	runClauses(t, newRuntime, []clause[Runtime]{
		{"Exec runs a command in a running container; in one not running it is FailedPrecondition", func(t *testing.T, rt Runtime) {
			c, err := rt.Create(t.Context(), sleeper("conformance-a", nil))
			must(t, err, "Create")
			_, err = rt.Exec(t.Context(), c.ID, engine.ExecConfig{Cmd: []string{"true"}}, engine.ExecIO{})
			wantClass(t, err, errdefs.ErrFailedPrecondition, "Exec in a created container")
			must(t, rt.Start(t.Context(), c.ID), "Start")
			code, err := rt.Exec(t.Context(), c.ID, engine.ExecConfig{Cmd: []string{"true"}}, engine.ExecIO{})
			if err != nil || code != 0 {
				t.Errorf("Exec true = %d, %v; want 0, nil", code, err)
			}
			_, err = rt.Exec(t.Context(), missingID, engine.ExecConfig{Cmd: []string{"true"}}, engine.ExecIO{})
			wantClass(t, err, errdefs.ErrNotFound, "Exec in a missing container")
			must(t, rt.Stop(t.Context(), c.ID, stopTimeout), "Stop")
		}},
		{"Create makes a created container", func(t *testing.T, rt Runtime) {
			c, err := rt.Create(t.Context(), sleeper("conformance-a", map[string]string{"tier": "web"}))
			must(t, err, "Create")
			if c.ID == "" || c.Config.Name != "conformance-a" || c.State.Status != engine.StatusCreated {
				t.Errorf("Create returned %s %q %s, want an ID, the name, created", c.ID, c.Config.Name, c.State.Status)
			}
			if got := status(t, rt, c.ID); got != engine.StatusCreated {
				t.Errorf("listed as %q, want created", got)
			}
		}},
		{"Create and List copy: the caller's maps are its own", func(t *testing.T, rt Runtime) {
			labels := map[string]string{"tier": "web"}
			c, err := rt.Create(t.Context(), sleeper("conformance-a", labels))
			must(t, err, "Create")
			labels["tier"] = "changed"
			c.Config.Labels["tier"] = "changed"
			listed, err := rt.List(t.Context(), map[string]string{"tier": "web"})
			must(t, err, "List")
			if len(listed) != 1 {
				t.Fatalf("List(tier=web) = %d containers after the caller changed its maps, want 1", len(listed))
			}
			listed[0].Config.Labels["tier"] = "changed"
			if again, _ := rt.List(t.Context(), map[string]string{"tier": "web"}); len(again) != 1 {
				t.Errorf("changing a listed container changed the runtime")
			}
		}},
		{"Create of a name in use is Conflict and leaves the holder alone", func(t *testing.T, rt Runtime) {
			first, err := rt.Create(t.Context(), sleeper("conformance-a", map[string]string{"n": "1"}))
			must(t, err, "first Create")
			_, err = rt.Create(t.Context(), sleeper("conformance-a", map[string]string{"n": "2"}))
			wantClass(t, err, errdefs.ErrConflict, "second Create")
			all, err := rt.List(t.Context(), nil)
			must(t, err, "List")
			if len(all) != 1 || all[0].ID != first.ID || all[0].Config.Labels["n"] != "1" {
				t.Errorf("after the refused Create the runtime holds %v, want the first container only", names(all))
			}
		}},
		{"concurrent Creates of one name: one wins, the others are Conflict", func(t *testing.T, rt Runtime) {
			errs := concurrently(8, func(int) error {
				_, err := rt.Create(t.Context(), sleeper("conformance-a", nil))
				return err
			})
			oneWins(t, errs, errdefs.ErrConflict)
			if all, _ := rt.List(t.Context(), nil); len(all) != 1 {
				t.Errorf("%d containers, want 1", len(all))
			}
		}},
		{"Create of a missing image is NotFound and leaves nothing", func(t *testing.T, rt Runtime) {
			cfg := sleeper("conformance-a", nil)
			cfg.Image = "conformance/missing:none"
			_, err := rt.Create(t.Context(), cfg)
			wantClass(t, err, errdefs.ErrNotFound, "Create")
			if all, _ := rt.List(t.Context(), nil); len(all) != 0 {
				t.Errorf("a failed Create left %v", names(all))
			}
			_, err = rt.Create(t.Context(), sleeper("conformance-a", nil))
			must(t, err, "Create of the name a failed Create asked for")
		}},
		{"Create of a bad name is InvalidArgument and leaves nothing", func(t *testing.T, rt Runtime) {
			for _, name := range []string{"-conformance", "conformance/a", "conformance a"} {
				_, err := rt.Create(t.Context(), sleeper(name, nil))
				wantClass(t, err, errdefs.ErrInvalidArgument, "Create "+name)
			}
			if all, _ := rt.List(t.Context(), nil); len(all) != 0 {
				t.Errorf("failed Creates left %v", names(all))
			}
		}},
		{"Start runs a created container", func(t *testing.T, rt Runtime) {
			id := created(t, rt, "conformance-a")
			must(t, rt.Start(t.Context(), id), "Start")
			if got := status(t, rt, id); got != engine.StatusRunning {
				t.Errorf("after Start: %q, want running", got)
			}
		}},
		{"Start of a running container is a no-op", func(t *testing.T, rt Runtime) {
			id := running(t, rt, "conformance-a")
			before := state(t, rt, id)
			must(t, rt.Start(t.Context(), id), "second Start")
			if after := state(t, rt, id); after.Status != engine.StatusRunning || !after.StartedAt.Equal(before.StartedAt) {
				t.Errorf("second Start: %s started at %v, want running since %v", after.Status, after.StartedAt, before.StartedAt)
			}
		}},
		{"Stop of a running container returns once it has exited", func(t *testing.T, rt Runtime) {
			id := running(t, rt, "conformance-a")
			must(t, rt.Stop(t.Context(), id, stopTimeout), "Stop")
			if got := status(t, rt, id); got != engine.StatusExited {
				t.Errorf("after Stop: %q, want exited", got)
			}
		}},
		{"Stop of a created container is a no-op", func(t *testing.T, rt Runtime) {
			id := created(t, rt, "conformance-a")
			must(t, rt.Stop(t.Context(), id, stopTimeout), "Stop")
			if got := status(t, rt, id); got != engine.StatusCreated {
				t.Errorf("after Stop: %q, want still created", got)
			}
		}},
		{"Stop of an exited container is a no-op", func(t *testing.T, rt Runtime) {
			id := running(t, rt, "conformance-a")
			must(t, rt.Stop(t.Context(), id, stopTimeout), "first Stop")
			must(t, rt.Stop(t.Context(), id, stopTimeout), "second Stop")
			if got := status(t, rt, id); got != engine.StatusExited {
				t.Errorf("after two Stops: %q, want exited", got)
			}
		}},
		{"Start of an exited container runs it again", func(t *testing.T, rt Runtime) {
			id := running(t, rt, "conformance-a")
			must(t, rt.Stop(t.Context(), id, stopTimeout), "Stop")
			must(t, rt.Start(t.Context(), id), "Start again")
			if got := status(t, rt, id); got != engine.StatusRunning {
				t.Errorf("after Start: %q, want running", got)
			}
		}},
		{"Remove of a running container is Conflict without force and leaves it running", func(t *testing.T, rt Runtime) {
			id := running(t, rt, "conformance-a")
			wantClass(t, rt.Remove(t.Context(), id, false), errdefs.ErrConflict, "Remove")
			if got := status(t, rt, id); got != engine.StatusRunning {
				t.Errorf("after the refused Remove: %q, want running", got)
			}
		}},
		{"Remove with force takes a running container", func(t *testing.T, rt Runtime) {
			id := running(t, rt, "conformance-a")
			must(t, rt.Remove(t.Context(), id, true), "Remove")
			if got := status(t, rt, id); got != "" {
				t.Errorf("after Remove: %q, want gone", got)
			}
		}},
		{"Remove takes a stopped container; a second Remove is NotFound", func(t *testing.T, rt Runtime) {
			id := running(t, rt, "conformance-a")
			must(t, rt.Stop(t.Context(), id, stopTimeout), "Stop")
			must(t, rt.Remove(t.Context(), id, false), "Remove")
			wantClass(t, rt.Remove(t.Context(), id, false), errdefs.ErrNotFound, "second Remove")
			wantClass(t, rt.Stop(t.Context(), id, stopTimeout), errdefs.ErrNotFound, "Stop after Remove")
			_, err := rt.Create(t.Context(), sleeper("conformance-a", nil))
			must(t, err, "Create of the removed container's name")
		}},
		{"Start, Stop and Remove of a missing container are NotFound", func(t *testing.T, rt Runtime) {
			wantClass(t, rt.Start(t.Context(), missingID), errdefs.ErrNotFound, "Start")
			wantClass(t, rt.Stop(t.Context(), missingID, stopTimeout), errdefs.ErrNotFound, "Stop")
			wantClass(t, rt.Remove(t.Context(), missingID, true), errdefs.ErrNotFound, "Remove")
		}},
		{"List filters by every label, exact values, sorted by name", func(t *testing.T, rt Runtime) {
			for i := len(labelled) - 1; i >= 0; i-- {
				_, err := rt.Create(t.Context(), sleeper(labelled[i].name, labelled[i].labels))
				must(t, err, "Create")
			}
			checkList(t, func(filter map[string]string) ([]string, error) {
				all, err := rt.List(t.Context(), filter)
				return names(all), err
			})
		}},
		{"ListBrief is List in brief: the same containers, order and fields", func(t *testing.T, rt Runtime) {
			for i, l := range labelled {
				cfg := sleeper(l.name, l.labels)
				cfg.Mounts = []engine.Mount{{Type: "tmpfs", Target: "/scratch" + strconv.Itoa(i)}}
				c, err := rt.Create(t.Context(), cfg)
				must(t, err, "Create")
				if i == 0 {
					must(t, rt.Start(t.Context(), c.ID), "Start") // one running, the others created
				}
			}
			for _, lf := range listFilters {
				all, err := rt.List(t.Context(), lf.filter)
				must(t, err, fmt.Sprintf("List(%v)", lf.filter))
				brief, err := rt.ListBrief(t.Context(), lf.filter)
				must(t, err, fmt.Sprintf("ListBrief(%v)", lf.filter))
				want := make([]engine.Brief, 0, len(all))
				for _, c := range all {
					want = append(want, engine.Brief{ID: c.ID, Name: c.Config.Name, Labels: c.Config.Labels,
						Mounts: c.Config.Mounts, ImageID: c.ImageID, Status: c.State.Status})
				}
				if (len(brief) > 0 || len(want) > 0) && !reflect.DeepEqual(brief, want) {
					t.Errorf("ListBrief(%v) = %+v, want List's in brief: %+v", lf.filter, brief, want)
				}
			}
		}},
	})
}

// sleeper is a container of SuiteImage that sleeps and dies on its stop
// signal.
func sleeper(name string, labels map[string]string) engine.ContainerConfig {
	return engine.ContainerConfig{Name: name, Image: SuiteImage, Cmd: []string{"sleep", "600"}, StopSignal: "SIGKILL", Labels: maps.Clone(labels)}
}

func created(t *testing.T, rt Runtime, name string) engine.ContainerID {
	t.Helper()
	c, err := rt.Create(t.Context(), sleeper(name, nil))
	must(t, err, "Create")
	return c.ID
}

func running(t *testing.T, rt Runtime, name string) engine.ContainerID {
	t.Helper()
	id := created(t, rt, name)
	must(t, rt.Start(t.Context(), id), "Start")
	return id
}

// state is the listed state of container id; the test fails if it is not
// listed.
func state(t *testing.T, rt Runtime, id engine.ContainerID) engine.State {
	t.Helper()
	all, err := rt.List(t.Context(), nil)
	must(t, err, "List")
	for _, c := range all {
		if c.ID == id {
			return c.State
		}
	}
	t.Fatalf("container %s not listed", id)
	return engine.State{}
}

// status is the listed status of container id, "" if it is not listed.
func status(t *testing.T, rt Runtime, id engine.ContainerID) engine.Status {
	t.Helper()
	all, err := rt.List(t.Context(), nil)
	must(t, err, "List")
	for _, c := range all {
		if c.ID == id {
			return c.State.Status
		}
	}
	return ""
}

func names(cs []*engine.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Config.Name)
	}
	return out
}
