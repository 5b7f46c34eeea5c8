package swarm

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/berth-dev/berth/deploy"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/spec"
)

// TestDeploySwarm deploys a two-service project onto a one-node Swarm of
// a private dockerd (Debian's docker.io), redeploys it with one service
// changed, and removes it; it leaves no dockerd, swarm state or mount.
func TestDeploySwarm(t *testing.T) {
	testutil.RequirePrivileged(t)
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		if testutil.InCI() {
			t.Fatal("dockerd not found: make deps installs docker.io")
		}
		t.Skip("needs dockerd (apt-get install docker.io)")
	}
	ctx := t.Context()
	start := time.Now()
	cl := startSwarm(t, dockerd)
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

// startSwarm starts a private dockerd (its own data root, exec root,
// socket and containerd namespace), makes it a one-node Swarm and loads
// the busybox image; t.Cleanup leaves the swarm, stops dockerd by PID
// and removes its directories.
func startSwarm(t *testing.T, dockerd string) *Cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-swarm-") // short: the socket path must fit sun_path
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	ns := "berth-test-" + filepath.Base(dir)
	cmd := exec.Command(dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", "unix://"+sock, "--pidfile", filepath.Join(dir, "dockerd.pid"), "--bridge", "none",
		"--iptables=false", "--ip6tables=false", "--containerd-namespace", ns, "--containerd-plugins-namespace", ns+"-p")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if pids := testutil.ProcessesMentioning(dir); len(pids) > 0 {
			t.Errorf("processes left behind by dockerd: %v", pids)
		}
		mounts, _ := testutil.MountsUnder(dir)
		for i := len(mounts) - 1; i >= 0; i-- {
			_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
		if len(mounts) > 0 {
			t.Errorf("mounts left behind by dockerd: %v", mounts)
		}
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("dockerd log (tail):\n%s", tail(string(b), 40))
			}
		}
		_ = logf.Close()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})

	ctx := t.Context()
	var cl *Cluster
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := dial(ctx, Endpoint{Host: "unix://" + sock})
		if err == nil {
			cl = &Cluster{c: c, nodes: map[string]string{}}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer: %v", err)
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("dockerd exited:\n%s", tail(string(b), 40))
		case <-time.After(100 * time.Millisecond):
		}
	}
	init := map[string]any{"ListenAddr": "127.0.0.1:" + freePort(t, "tcp"), "AdvertiseAddr": "127.0.0.1", "DataPathPort": 0}
	if err := cl.c.do(ctx, "POST", "/swarm/init", nil, init, nil); err != nil {
		t.Fatalf("swarm init: %v", err)
	}
	t.Cleanup(func() {
		_ = cl.c.do(context.WithoutCancel(ctx), "POST", "/swarm/leave", map[string][]string{"force": {"true"}}, nil, nil)
	})
	if _, err := Connect(ctx, Endpoint{Host: "unix://" + sock}); err != nil {
		t.Fatal(err)
	}
	importBusybox(t, cl, dir)
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

func freePort(t *testing.T, network string) string {
	t.Helper()
	l, err := net.Listen(network, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
