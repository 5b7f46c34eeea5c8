//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestInspectFormatAndPsPorts: inspect prints Docker's document and its
// --format reads it ({{.State.Pid}} is the container's init, a process of
// the host); ps shows the published port as docker compose does.
func TestInspectFormatAndPsPorts(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	port := unusedPort(t, "tcp")
	t.Setenv("WEB_PORT", port)
	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	name := h.project + "-web-1"

	pid, err := strconv.Atoi(strings.TrimSpace(h.mustBerth("container", "inspect", "-f", "{{.State.Pid}}", name)))
	if err != nil || pid <= 1 {
		t.Fatalf("inspect -f {{.State.Pid}}: %d, %v", pid, err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		t.Errorf("the container's pid %d is not a process of the host: %v", pid, err)
	}
	if got := strings.TrimSpace(h.mustBerth("container", "inspect", "--format", "{{.Name}} {{.State.Running}} {{.HostConfig.NetworkMode}}", name)); got != "/"+name+" true "+h.project+"_default" {
		t.Errorf("inspect --format name, running, network mode = %q", got)
	}

	var docs []struct {
		Name  string
		State struct{ Pid int }
	}
	if err := json.Unmarshal([]byte(h.mustBerth("container", "inspect", name)), &docs); err != nil || len(docs) != 1 || docs[0].State.Pid != pid || docs[0].Name != "/"+name {
		t.Errorf("inspect: %+v, %v; want one document with Pid %d", docs, err, pid)
	}

	want := "127.0.0.1:" + port + "->80/tcp"
	lines := strings.Split(strings.TrimSpace(h.mustBerth("-f", file, "ps")), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "PORTS") || !strings.Contains(lines[1], want) || !strings.Contains(lines[1], `"sleep 3600"`) {
		t.Errorf("ps:\n%s\nwant a PORTS column with %s", strings.Join(lines, "\n"), want)
	}
	if got := strings.TrimSpace(h.mustBerth("-f", file, "ps", "--format", "{{.Service}} {{.Ports}}")); got != "web "+want {
		t.Errorf("ps --format {{.Service}} {{.Ports}} = %q", got)
	}
	if rows := h.ps(file); len(rows) != 1 || rows[0].Name != name || rows[0].State != "running" {
		t.Errorf("ps --format json = %+v", rows)
	}
}
