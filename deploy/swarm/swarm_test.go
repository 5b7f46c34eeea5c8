package swarm

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/berth-dev/berth/deploy"
	"github.com/berth-dev/berth/internal/swarmtest"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/spec"
)

// TestDeploySwarm deploys a two-service project onto a one-node Swarm of
// a private dockerd (Debian's docker.io), redeploys it with one service
// changed, and removes it; it leaves no dockerd, swarm state or mount.
func TestDeploySwarm(t *testing.T) {
	testutil.RequirePrivileged(t)
	ctx := t.Context()
	start := time.Now()
	cl := startSwarm(t)
	t.Logf("dockerd up, swarm initialised: %s", time.Since(start).Round(time.Millisecond))

	files := []string{"testdata/TestDeploySwarm/compose.yaml"}
	run := func(step string, opt deploy.Options) deploy.Plan {
		t.Helper()
		p := loadFiles(t, files...)
		tr := mustTranslate(t, p, cl)
		began := time.Now()
		opt.Wait, opt.WaitTimeout = true, 60*time.Second
		plan, err := deploy.Run(ctx, cl, p.Name, tr.Objects, opt, nil)
		if err != nil {
			t.Fatalf("%s: %v\nplan:\n%s", step, err, plan)
		}
		t.Logf("%s: %s\n%s", step, time.Since(began).Round(time.Millisecond), plan)
		return plan
	}

	run("first deploy", deploy.Options{})
	for _, s := range []string{"swarmtest_web", "swarmtest_client"} {
		if n := runningTasks(t, cl, s); n != 2 {
			t.Errorf("%s: %d tasks running, want 2", s, n)
		}
	}
	webBefore := serviceVersion(t, cl, "swarmtest_web")

	if plan := run("second deploy, nothing changed", deploy.Options{}); len(plan.Actions) != 0 {
		t.Errorf("a redeploy of the same file changes something:\n%s", plan)
	}

	files = append(files, "testdata/TestDeploySwarm/change.yaml")
	plan := run("deploy with the client changed", deploy.Options{})
	if len(plan.Actions) != 1 || plan.Actions[0].Op != deploy.OpUpdate || plan.Actions[0].Object.Name != "swarmtest_client" {
		t.Errorf("want only swarmtest_client updated, plan:\n%s", plan)
	}
	if v := serviceVersion(t, cl, "swarmtest_web"); v != webBefore {
		t.Errorf("swarmtest_web changed version %d → %d", webBefore, v)
	}
	if n := runningTasks(t, cl, "swarmtest_client"); n != 2 {
		t.Errorf("swarmtest_client: %d tasks running after the update, want 2", n)
	}

	run("down", deploy.Options{PlanOptions: deploy.PlanOptions{Down: true}})
	if objs, err := cl.Observe(ctx, "swarmtest"); err != nil || len(objs) != 0 {
		t.Errorf("after down the stack still has %v (%v)", objs, err)
	}
	t.Logf("whole scenario: %s", time.Since(start).Round(time.Millisecond))
}

func loadFiles(t *testing.T, files ...string) *spec.Project {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(t.Context(), spec.LoadOptions{WorkingDir: wd, ConfigFiles: files, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustTranslate(t *testing.T, p *spec.Project, cl *Cluster) Translation {
	t.Helper()
	contents, err := Contents(p)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Translate(p, contents, Options{APIVersion: cl.APIVersion()})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func runningTasks(t *testing.T, cl *Cluster, service string) int {
	t.Helper()
	var tasks []swarm.Task
	if err := cl.c.do(t.Context(), "GET", "/tasks", filters("service", service, "desired-state", "running"), nil, &tasks); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tk := range tasks {
		if tk.Status.State == swarm.TaskStateRunning {
			n++
		}
	}
	return n
}

func serviceVersion(t *testing.T, cl *Cluster, name string) uint64 {
	t.Helper()
	var s swarm.Service
	if err := cl.c.do(t.Context(), "GET", "/services/"+name, nil, nil, &s); err != nil {
		t.Fatal(err)
	}
	return s.Version.Index
}

// startSwarm starts a one-node Swarm of a private dockerd in namespaces of
// its own (internal/swarmtest: nothing it makes, vxlan devices included,
// reaches the host's network namespace) and loads the busybox image into
// it; t.Cleanup takes it all down.
func startSwarm(t *testing.T) *Cluster {
	t.Helper()
	sw := swarmtest.Start(t, 1)
	cl, err := Connect(t.Context(), Endpoint{Host: sw.Nodes[0].Host()})
	if err != nil {
		t.Fatal(err)
	}
	importBusybox(t, cl, t.TempDir())
	return cl
}

func importBusybox(t *testing.T, cl *Cluster, dir string) {
	t.Helper()
	tarball := filepath.Join(dir, "busybox.tar")
	root := filepath.Join("..", "..", "hack", "busybox-rootfs.sh")
	if out, err := exec.Command("sh", root, tarball).CombinedOutput(); err != nil {
		t.Fatalf("busybox rootfs: %v\n%s", err, out)
	}
	b, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), "POST", cl.c.base+"/"+cl.c.version+"/images/create?fromSrc=-&repo=busybox&tag=latest", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := cl.c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(out.String(), `"error"`) {
		t.Fatalf("import busybox: %s: %s", resp.Status, out.String())
	}
}
