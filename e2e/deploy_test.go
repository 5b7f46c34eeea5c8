//go:build e2e

package e2e

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeployThreeNodes deploys a project with berth's CLI onto a Swarm of
// three dockerd on this machine: the web server runs on every node, a client
// on one of them gets pages over the overlay from the replicas on the other
// nodes; a change of the client's environment rolls the client only; a
// redeploy of the same file changes nothing; deploy ps and logs show the
// tasks and their output; an image the nodes cannot pull fails the deploy
// naming the service and the node; --prune removes the service that left
// the file; deploy rm leaves the cluster empty.
func TestDeployThreeNodes(t *testing.T) {
	h := newHarness(t)
	c := startSwarmCluster(t, 3)
	pushBusybox(t, c.registry+"/bb:latest")
	image := c.registry + "/bb:latest"
	stack := h.project
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	write := func(clientEnv string, extra string) {
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
`
		}
		if err := os.WriteFile(file, []byte("services:\n"+web+client+extra), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
	deploy := func(args ...string) result {
		t.Helper()
		return h.berthIn(dir, append([]string{"-f", file, "deploy", "--host", c.nodes[0].host(), "--registry", c.registry, "--wait-timeout", "150s"}, args...)...)
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
		if services, networks := c.stackObjects(stack); len(services)+len(networks) > 0 {
			h.berthIn(dir, "-f", file, "undeploy", "--host", c.nodes[0].host())
		}
	})

	write("1", "")
	r := h.berthIn(dir, "-f", file, "deploy", "--host", c.nodes[0].host())
	if last := lastLine(r.stderr); r.code == 0 || !strings.Contains(last, `service "client": its image is built from`) || !strings.Contains(last, "--registry") {
		t.Errorf("deploy of a built service without --registry: exit %d, last line %q; want a refusal naming the service and --registry", r.code, last)
	}
	out := mustDeploy("first deploy")
	// depends_on: the client is created once web runs on every node.
	if ready, created := strings.Index(out, stack+"_web: running 3/3"), strings.Index(out, stack+"_client: creating"); ready < 0 || created < ready {
		t.Errorf("the client was created before web ran everywhere:\n%s", out)
	}
	webNodes := c.taskNodes(stack + "_web")
	if len(webNodes) != 3 {
		t.Fatalf("web runs on nodes %v, want all three", webNodes)
	}
	// The client's node answers itself too; pages from the two others came
	// over the overlay, between namespaces joined only by the hub's bridge.
	clientNodes := c.taskNodes(stack + "_client")
	if len(clientNodes) != 1 {
		t.Fatalf("client runs on %v, want one node", clientNodes)
	}
	c.eventually("the client to get pages from web on the two other nodes", 90*time.Second, func() bool {
		remote := map[string]bool{}
		for _, line := range strings.Split(c.serviceLogs(stack+"_client"), "\n") {
			from, to, ok := strings.Cut(strings.TrimSpace(line), " saw ")
			if ok && to != "" && from != to && strings.HasPrefix(to, "berthsw") {
				remote[to] = true
			}
		}
		return len(remote) == 2
	})
	webVersion := c.serviceVersion(stack + "_web")

	ps := h.berthIn(dir, "-f", file, "deploy", "--host", c.nodes[0].host(), "ps", "--format", "{{.Name}} {{.Node}} {{.DesiredState}}")
	rows := strings.Split(strings.TrimSpace(ps.stdout), "\n")
	if ps.code != 0 || len(rows) != 4 || !strings.HasPrefix(rows[0], stack+"_client.1 berthsw") || !strings.HasSuffix(rows[0], " Running") {
		t.Errorf("deploy ps: exit %d, want four running tasks, the client's first:\n%s%s", ps.code, ps.stdout, ps.stderr)
	}
	logs := h.berthIn(dir, "-f", file, "deploy", "--host", c.nodes[0].host(), "logs", "--tail", "3", "client")
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
	if v := c.serviceVersion(stack + "_web"); v != webVersion {
		t.Errorf("web's version moved %d → %d though it did not change", webVersion, v)
	}

	write("2", "  bad:\n    image: "+c.registry+"/nope:latest\n    command: [\"sleep\", \"60\"]\n")
	r = deploy()
	last := lastLine(r.stderr)
	if r.code == 0 || !strings.Contains(last, stack+"_bad") || !strings.Contains(last, "on node berthsw") {
		t.Errorf("deploy of an image no node can pull: exit %d, last line %q; want non-zero naming the service and the node", r.code, last)
	}

	write("", "")
	mustDeploy("client and bad gone from the file, --prune", "--prune")
	if services, _ := c.stackObjects(stack); !slices.Equal(services, []string{stack + "_web"}) {
		t.Errorf("after --prune the stack has services %v, want only %s_web", services, stack)
	}

	r = h.berthIn(dir, "-f", file, "deploy", "--host", c.nodes[0].host(), "rm")
	if r.code != 0 {
		t.Fatalf("deploy rm: exit %d: %s", r.code, r.stderr)
	}
	if services, networks := c.stackObjects(stack); len(services)+len(networks) > 0 {
		t.Errorf("after deploy rm the cluster still has services %v, networks %v", services, networks)
	}
}

// taskNodes is the hostnames of the nodes running the service's tasks.
func (c *swarmCluster) taskNodes(service string) []string {
	c.t.Helper()
	f := url.QueryEscape(`{"service":["` + service + `"],"desired-state":["running"]}`)
	var tasks []struct {
		NodeID string
		Status struct{ State string }
	}
	c.api(c.nodes[0], "GET", "/tasks?filters="+f, nil, &tasks)
	var nodes []string
	for _, tk := range tasks {
		if tk.Status.State != "running" {
			continue
		}
		var n struct{ Description struct{ Hostname string } }
		c.api(c.nodes[0], "GET", "/nodes/"+tk.NodeID, nil, &n)
		nodes = append(nodes, n.Description.Hostname)
	}
	slices.Sort(nodes)
	return slices.Compact(nodes)
}

func (c *swarmCluster) serviceVersion(service string) uint64 {
	c.t.Helper()
	var s struct{ Version struct{ Index uint64 } }
	c.api(c.nodes[0], "GET", "/services/"+service, nil, &s)
	return s.Version.Index
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
