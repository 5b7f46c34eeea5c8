//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/swarmtest"
)

// TestDeployThreeNodes deploys a project with berth's CLI onto a Swarm of
// three dockerd on this machine: the web server runs on every node, a client
// on one of them gets pages over the overlay from the replicas on the other
// nodes; a change of the client's environment rolls the client only; a
// redeploy of the same file changes nothing; deploy ps and logs show the
// tasks and their output; an image the nodes cannot pull fails the deploy
// naming the service and the node; two racing deploys both converge; --prune
// removes the service that left the file; deploy rm leaves the cluster
// empty.
func TestDeployThreeNodes(t *testing.T) {
	h := newHarness(t)
	c := swarmtest.Start(t, 3)
	pushBusybox(t, c.Registry+"/bb:latest")
	image := c.Registry + "/bb:latest"
	stack := h.project
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	writeTo := func(file, clientEnv, clientExtra, extra string) {
		t.Helper()
		web := `  web:
    image: ` + image + `
    environment:
      NODE: "{{.Node.Hostname}}"
    command: ["sh", "-c", "mkdir -p /tmp/www && echo $$NODE > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
    stop_grace_period: 1s
    deploy:
      mode: global
`
		client := ""
		if clientEnv != "" {
			client = `  client:
    build: .
    environment:
      NODE: "{{.Node.Hostname}}"
      ROUND: "` + clientEnv + `"
    depends_on: [web]
    stop_grace_period: 1s
` + clientExtra
		}
		if err := os.WriteFile(file, []byte("services:\n"+web+client+extra), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(clientEnv, extra string) { writeTo(file, clientEnv, "", extra) }
	// The client is built by berth from this Dockerfile and pushed to the
	// registry the nodes pull from.
	for name, content := range map[string]string{
		"Dockerfile": "FROM busybox:latest\nCOPY fetch.sh /fetch.sh\nCMD [\"sh\", \"/fetch.sh\"]\n",
		"fetch.sh":   "trap 'exit 0' TERM\nwhile true; do echo \"$NODE saw $(timeout 3 wget -q -O - http://web:8080/)\"; sleep 0.2 & wait $!; done\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deployFile := func(file string, args ...string) result {
		return h.berthIn(dir, append([]string{"-f", file, "deploy", "--host", c.Nodes[0].Host(), "--registry", c.Registry, "--wait-timeout", "150s"}, args...)...)
	}
	deploy := func(args ...string) result {
		t.Helper()
		return deployFile(file, args...)
	}
	mustDeploy := func(step string, args ...string) string {
		t.Helper()
		began := time.Now()
		r := deploy(args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", step, r.code, r.stdout, r.stderr)
		}
		t.Logf("%s: %s\n%s%s", step, time.Since(began).Round(time.Millisecond), r.stderr, r.stdout)
		return r.stdout
	}
	t.Cleanup(func() {
		// The built image and its registry tag.
		h.berth("image", "prune", "-a", "-f")
		if services, networks := c.StackObjects(stack); len(services)+len(networks) > 0 {
			h.berthIn(dir, "-f", file, "undeploy", "--host", c.Nodes[0].Host())
		}
	})

	write("1", "")
	r := h.berthIn(dir, "-f", file, "deploy", "--host", c.Nodes[0].Host())
	if last := lastLine(r.stderr); r.code == 0 || !strings.Contains(last, `service "client": its image is built from`) || !strings.Contains(last, "--registry") {
		t.Errorf("deploy of a built service without --registry: exit %d, last line %q; want a refusal naming the service and --registry", r.code, last)
	}
	out := mustDeploy("first deploy")
	// depends_on: the client is created once web runs on every node.
	if ready, created := strings.Index(out, stack+"_web: running 3/3"), strings.Index(out, stack+"_client: creating"); ready < 0 || created < ready {
		t.Errorf("the client was created before web ran everywhere:\n%s", out)
	}
	webNodes := c.TaskNodes(stack + "_web")
	if len(webNodes) != 3 {
		t.Fatalf("web runs on nodes %v, want all three", webNodes)
	}
	// The client's node answers itself too; pages from the two others came
	// over the overlay, between namespaces joined only by the hub's bridge.
	clientNodes := c.TaskNodes(stack + "_client")
	if len(clientNodes) != 1 {
		t.Fatalf("client runs on %v, want one node", clientNodes)
	}
	c.Eventually("the client to get pages from web on the two other nodes", 90*time.Second, func() bool {
		remote := map[string]bool{}
		for _, line := range strings.Split(c.ServiceLogs(stack+"_client"), "\n") {
			from, to, ok := strings.Cut(strings.TrimSpace(line), " saw ")
			if ok && to != "" && from != to && strings.HasPrefix(to, "berthsw") {
				remote[to] = true
			}
		}
		return len(remote) == 2
	})
	webVersion := c.ServiceVersion(stack + "_web")

	ps := h.berthIn(dir, "-f", file, "deploy", "--host", c.Nodes[0].Host(), "ps", "--format", "{{.Name}} {{.Node}} {{.DesiredState}}")
	rows := strings.Split(strings.TrimSpace(ps.stdout), "\n")
	if ps.code != 0 || len(rows) != 4 || !strings.HasPrefix(rows[0], stack+"_client.1 berthsw") || !strings.HasSuffix(rows[0], " Running") {
		t.Errorf("deploy ps: exit %d, want four running tasks, the client's first:\n%s%s", ps.code, ps.stdout, ps.stderr)
	}
	logs := h.berthIn(dir, "-f", file, "deploy", "--host", c.Nodes[0].Host(), "logs", "--tail", "3", "client")
	if first := strings.SplitN(logs.stdout, "\n", 2)[0]; logs.code != 0 || !strings.HasPrefix(first, stack+"_client.1@berthsw") || !strings.Contains(first, " | berthsw") {
		t.Errorf("deploy logs client: exit %d, first line %q; want \"%s_client.1@<node> | <node> saw …\"\n%s", logs.code, first, stack, logs.stderr)
	}

	if out := mustDeploy("the same file again"); !strings.Contains(out, "nothing to change") {
		t.Errorf("a redeploy of the same file did something:\n%s", out)
	}

	write("2", "")
	out = mustDeploy("the client's environment changed")
	if !strings.Contains(out, "service "+stack+"_client: updated") || strings.Contains(out, stack+"_web: updat") {
		t.Errorf("want only the client updated:\n%s", out)
	}
	if v := c.ServiceVersion(stack + "_web"); v != webVersion {
		t.Errorf("web's version moved %d → %d though it did not change", webVersion, v)
	}

	write("2", "  bad:\n    image: "+c.Registry+"/nope:latest\n    command: [\"sleep\", \"60\"]\n")
	r = deploy()
	last := lastLine(r.stderr)
	if r.code == 0 || !strings.Contains(last, stack+"_bad") || !strings.Contains(last, "on node berthsw") {
		t.Errorf("deploy of an image no node can pull: exit %d, last line %q; want non-zero naming the service and the node", r.code, last)
	}

	// Two deploys at once of two versions of the file (bad gone from both):
	// both converge, re-planning when the other changed a service first; a
	// third deploy makes the cluster hold its file, and a fourth finds
	// nothing to change.
	fileA, fileB := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	writeTo(fileA, "3", "", "")
	writeTo(fileB, "4", "", "")
	results := make(chan result, 2)
	for _, f := range []string{fileA, fileB} {
		go func() { results <- deployFile(f, "--prune") }()
	}
	for range 2 {
		if r := <-results; r.code != 0 {
			t.Errorf("one of two racing deploys: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	if r := deployFile(fileB, "--prune"); r.code != 0 {
		t.Fatalf("deploy after the race: exit %d: %s", r.code, r.stderr)
	}
	if r := deployFile(fileB); r.code != 0 || !strings.Contains(r.stdout, "nothing to change") {
		t.Errorf("a second deploy after the race: exit %d, want nothing to change:\n%s%s", r.code, r.stdout, r.stderr)
	}

	write("", "")
	mustDeploy("client gone from the file, --prune", "--prune")
	if services, _ := c.StackObjects(stack); !slices.Equal(services, []string{stack + "_web"}) {
		t.Errorf("after --prune the stack has services %v, want only %s_web", services, stack)
	}

	r = h.berthIn(dir, "-f", file, "deploy", "--host", c.Nodes[0].Host(), "rm")
	if r.code != 0 {
		t.Fatalf("deploy rm: exit %d: %s", r.code, r.stderr)
	}
	if services, networks := c.StackObjects(stack); len(services)+len(networks) > 0 {
		t.Errorf("after deploy rm the cluster still has services %v, networks %v", services, networks)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestDeployNodeLost: a node lost in the middle of a rolling update (its
// link to the others cut): Swarm marks it down and replaces its tasks on
// the other nodes. deploy --wait returns either once the service runs at
// the new version on the nodes left, or, when Swarm's update does not
// finish (it can keep an old task of the lost node's slot running beside
// the new one), at its timeout with one line naming the service and how far
// it came. It never hangs, and the cluster keeps running the service.
func TestDeployNodeLost(t *testing.T) {
	h := newHarness(t)
	c := swarmtest.Start(t, 3)
	pushBusybox(t, c.Registry+"/bb:latest")
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	write := func(round string) {
		t.Helper()
		compose := `services:
  app:
    image: ` + c.Registry + `/bb:latest
    environment: {ROUND: "` + round + `"}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    stop_grace_period: 1s
    deploy:
      replicas: 3
      update_config: {parallelism: 1, delay: 1s, order: start-first, failure_action: continue}
`
		if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deploy := func(timeout string) result {
		return h.berthIn(dir, "-f", file, "deploy", "--host", c.Nodes[0].Host(), "--wait-timeout", timeout)
	}
	t.Cleanup(func() { h.berthIn(dir, "-f", file, "deploy", "--host", c.Nodes[0].Host(), "rm") })
	stack := h.project
	write("1")
	if r := deploy("100s"); r.code != 0 {
		t.Fatalf("first deploy: exit %d: %s", r.code, r.stderr)
	}
	lost := c.Nodes[2].Name
	if nodes := c.TaskNodes(stack + "_app"); !slices.Contains(nodes, lost) {
		t.Fatalf("app runs on %v, not on %s: the test needs a task there to lose", nodes, lost)
	}
	write("2")
	results := make(chan result, 1)
	began := time.Now()
	go func() { results <- deploy("45s") }()
	c.Eventually("the rolling update to start", 60*time.Second, func() bool {
		var svc struct{ UpdateStatus *struct{ State string } }
		return c.API(c.Nodes[0], "GET", "/services/"+stack+"_app", nil, &svc) == nil && svc.UpdateStatus != nil && svc.UpdateStatus.State == "updating"
	})
	c.SetLinkUp(2, false)
	r := <-results
	t.Logf("rollout with %s lost: %s, exit %d\n%s%s", lost, time.Since(began).Round(time.Millisecond), r.code, r.stderr, r.stdout)
	ps := h.berthIn(dir, "-f", file, "deploy", "--host", c.Nodes[0].Host(), "ps")
	t.Logf("nodes %v\n%s", c.NodeStates(), ps.stdout)
	if last := lastLine(r.stderr); r.code != 0 && !strings.HasPrefix(last, "Error: not converged after 45s: "+stack+"_app (running ") {
		t.Errorf("rollout with a node lost: exit %d, last line %q; want success or the timeout naming the service", r.code, last)
	}
	// Swarm moves the lost node's tasks once it has marked the node down,
	// which a busy manager may do after deploy's timeout.
	c.Eventually("app on the two nodes other than "+lost, 90*time.Second, func() bool {
		nodes := c.TaskNodes(stack + "_app")
		return len(nodes) == 2 && !slices.Contains(nodes, lost)
	})
	c.SetLinkUp(2, true)
	c.Eventually(lost+" back in the cluster", 90*time.Second, func() bool { return c.NodeStates()[lost] == "ready" })
}
