//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tarNames lists the entries of a tar stream.
func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("tar stream: %v", err)
		}
		names = append(names, h.Name)
	}
}

// TestContainerCp: cp moves files and trees both ways, into a running and
// into a stopped container, keeps owners with -a only, follows a link with
// -L, and streams tar with '-'.
func TestContainerCp(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "cp-a") })
	h.mustBerth("container", "run", "-d", "--name", "cp-a", "busybox", "sleep", "300")
	host := t.TempDir()
	tree := filepath.Join(host, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"a.txt": "alpha", "sub/b.txt": "beta"} {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(tree, "a.txt"), 1234, 5678); err != nil {
		t.Fatal(err)
	}

	h.mustBerth("container", "cp", tree, "cp-a:/tmp")
	if got := h.mustBerth("container", "exec", "cp-a", "cat", "/tmp/tree/sub/b.txt"); got != "beta" {
		t.Errorf("a tree into a directory: /tmp/tree/sub/b.txt = %q, want beta", got)
	}
	if got := h.mustBerth("container", "exec", "cp-a", "stat", "-c", "%u:%g %a", "/tmp/tree/a.txt"); strings.TrimSpace(got) != "0:0 640" {
		t.Errorf("without -a the copy is root's with its mode: %q, want 0:0 640", got)
	}
	h.mustBerth("container", "cp", "-a", filepath.Join(tree, "a.txt"), "cp-a:/tmp/renamed.txt")
	if got := h.mustBerth("container", "exec", "cp-a", "stat", "-c", "%u:%g", "/tmp/renamed.txt"); strings.TrimSpace(got) != "1234:5678" {
		t.Errorf("-a keeps the owner: %q, want 1234:5678", got)
	}
	h.mustBerth("container", "exec", "cp-a", "ln", "-s", "/tmp/tree/a.txt", "/tmp/link")

	out := filepath.Join(host, "out")
	h.mustBerth("container", "cp", "cp-a:/tmp/tree", out)
	if b, err := os.ReadFile(filepath.Join(out, "sub", "b.txt")); err != nil || string(b) != "beta" {
		t.Errorf("a tree out under a new name: %q, %v", b, err)
	}
	h.mustBerth("container", "cp", "cp-a:/tmp/link", filepath.Join(host, "link"))
	if l, err := os.Readlink(filepath.Join(host, "link")); err != nil || l != "/tmp/tree/a.txt" {
		t.Errorf("a link comes out as a link: %q, %v", l, err)
	}
	h.mustBerth("container", "cp", "-L", "cp-a:/tmp/link", filepath.Join(host, "followed"))
	if b, err := os.ReadFile(filepath.Join(host, "followed")); err != nil || string(b) != "alpha" {
		t.Errorf("-L copies what the link leads to: %q, %v", b, err)
	}
	stream := h.mustBerth("container", "cp", "cp-a:/tmp/tree", "-")
	if names := tarNames(t, []byte(stream)); !slices.Contains(names, "tree/sub/b.txt") {
		t.Errorf("cp to '-' streams a tar with tree/sub/b.txt: %v", names)
	}

	h.mustBerth("container", "stop", "cp-a")
	h.mustBerth("container", "cp", filepath.Join(tree, "sub", "b.txt"), "cp-a:/stopped.txt")
	h.mustBerth("container", "cp", "cp-a:/tmp/renamed.txt", filepath.Join(host, "from-stopped"))
	if b, err := os.ReadFile(filepath.Join(host, "from-stopped")); err != nil || string(b) != "alpha" {
		t.Errorf("cp from a stopped container: %q, %v", b, err)
	}
	h.mustBerth("container", "start", "cp-a")
	if got := h.mustBerth("container", "exec", "cp-a", "cat", "/stopped.txt"); got != "beta" {
		t.Errorf("what was copied into the stopped container: %q, want beta", got)
	}

	for _, tc := range []struct{ args []string }{
		{[]string{"container", "cp", "cp-a:/no/such", host}},
		{[]string{"container", "cp", tree, "cp-a:/no/such/dir/"}},
		{[]string{"container", "cp", "cp-a:/tmp", "cp-a:/tmp"}},
	} {
		r := h.berth(tc.args...)
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "Error") {
			t.Errorf("berth %s: exit %d, stderr %q; want one line of error", strings.Join(tc.args, " "), r.code, r.stderr)
		}
	}
}

// TestComposeCpExportCommitStats: compose cp reaches every replica (or
// --index's), export writes the container's filesystem, commit makes an
// image of it whose history tells the message, and stats reads the
// containers' use.
func TestComposeCpExportCommitStats(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() {
		h.berth("-f", file, "down", "-v")
		h.berth("image", "rm", "committed:v1")
	})
	h.mustBerth("-f", file, "up", "-d")
	src := filepath.Join(t.TempDir(), "note")
	if err := os.WriteFile(src, []byte("to all"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustBerth("-f", file, "cp", src, "app:/note")
	for _, i := range []string{"1", "2"} {
		if got := h.mustBerth("-f", file, "exec", "-T", "--index", i, "app", "cat", "/note"); got != "to all" {
			t.Errorf("replica %s: /note = %q, want the copy", i, got)
		}
	}
	h.mustBerth("-f", file, "exec", "-T", "--index", "2", "app", "sh", "-c", "echo two > /only-two")
	out := filepath.Join(t.TempDir(), "got")
	h.mustBerth("-f", file, "cp", "--index", "2", "app:/only-two", out)
	if b, err := os.ReadFile(out); err != nil || string(b) != "two\n" {
		t.Errorf("cp --index 2 from replica 2: %q, %v", b, err)
	}

	exported := filepath.Join(t.TempDir(), "fs.tar")
	h.mustBerth("-f", file, "export", "--index", "2", "-o", exported, "app")
	b, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, b)
	if !slices.Contains(names, "only-two") || !slices.Contains(names, "bin/busybox") || slices.Contains(names, "proc/self") {
		t.Errorf("export holds %d entries; want only-two and bin/busybox, nothing of /proc", len(names))
	}

	id := strings.TrimSpace(h.mustBerth("-f", file, "commit", "--index", "2", "-m", "with two", "-c", `CMD ["cat", "/only-two"]`, "app", "committed:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q, want the image ID", id)
	}
	if got := h.mustBerth("container", "run", "--rm", "committed:v1"); got != "two\n" {
		t.Errorf("the committed image runs its new CMD on its new file: %q", got)
	}
	hist := h.mustBerth("image", "history", "--format", "{{.Comment}}|{{.ID}}", "--no-trunc", "committed:v1")
	if first, _, _ := strings.Cut(hist, "\n"); first != "with two|"+id {
		t.Errorf("history's newest line: %q, want the message and the image ID", first)
	}

	r := h.mustBerth("-f", file, "stats", "--no-stream", "--format", "json")
	var rows []struct{ Name, PIDs, MemUsage string }
	for line := range strings.Lines(r) {
		var row struct{ Name, PIDs, MemUsage string }
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("stats line %q: %v", line, err)
		}
		rows = append(rows, row)
	}
	if len(rows) != 2 {
		t.Fatalf("stats lists %d containers, want the 2 replicas: %s", len(rows), r)
	}
	for _, row := range rows {
		// init and sleep: two processes, and some memory in use.
		if n, err := strconv.Atoi(row.PIDs); err != nil || n < 2 || strings.HasPrefix(row.MemUsage, "0B") {
			t.Errorf("stats of %s: PIDS %s, MEM %s; want 2 processes or more and memory in use", row.Name, row.PIDs, row.MemUsage)
		}
	}
}

// TestContainerStopSignalRmVolumesSystem: stop --signal sends that signal
// first; rm -v takes the anonymous volume of an image's VOLUME with the
// container; system info counts containers by state; system prune removes
// what does not run and keeps what does; ls filters select.
func TestContainerStopSignalRmVolumesSystem(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() {
		h.berth("container", "rm", "-f", "-v", "sig", "vol", "keep", "gone")
		h.berth("image", "rm", "withvol:1")
		h.berth("image", "rm", "imported:1")
	})
	h.mustBerth("container", "run", "-d", "--name", "sig", "busybox", "sh", "-c", `trap "exit 42" INT; while :; do sleep 0.1; done`)
	h.eventually("the trap to be set", 10*time.Second, func() bool {
		return strings.Contains(h.berth("container", "top", "sig").stdout, "sleep")
	})
	h.mustBerth("container", "stop", "--signal", "SIGINT", "--timeout", "20", "sig")
	if got := h.ctrInspect("sig").State.ExitCode; got != 42 {
		t.Errorf("stop --signal SIGINT: exit code %d, want 42 (the INT trap's)", got)
	}
	if r := h.berth("container", "stop", "-s", "NOPE", "sig"); r.code == 0 || !strings.Contains(r.stderr, `"NOPE"`) {
		t.Errorf("stop -s NOPE: exit %d, %q; want an error naming the signal", r.code, r.stderr)
	}

	h.mustBerth("container", "run", "-d", "--name", "vol", "busybox", "sleep", "300")
	h.mustBerth("container", "commit", "-c", "VOLUME /data", "vol", "withvol:1")
	h.mustBerth("container", "rm", "-f", "vol")
	h.mustBerth("container", "run", "-d", "--name", "vol", "withvol:1", "sleep", "300")
	if n := len(strings.Fields(h.mustBerth("volume", "ls", "-q"))); n != 1 {
		t.Fatalf("the image's VOLUME made %d volumes, want 1", n)
	}
	h.mustBerth("container", "rm", "-f", "-v", "vol")
	if got := strings.TrimSpace(h.mustBerth("volume", "ls", "-q")); got != "" {
		t.Errorf("rm -v left volumes: %q", got)
	}

	h.mustBerth("container", "run", "-d", "--name", "keep", "busybox", "sleep", "300")
	h.mustBerth("container", "create", "--name", "gone", "busybox", "true")
	if got := strings.TrimSpace(h.mustBerth("system", "info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Driver}}")); got != "3 1 2 overlay2" {
		t.Errorf("system info: %q, want 3 containers, 1 running, 2 stopped, overlay2", got)
	}
	if got := h.mustBerth("image", "ls", "-q", "--filter", "reference=withvol"); len(strings.Fields(got)) != 1 {
		t.Errorf("image ls --filter reference=withvol: %q, want one image", got)
	}
	if r := h.berth("image", "ls", "--filter", "until=1h"); r.code == 0 || !strings.Contains(r.stderr, "until") {
		t.Errorf("image ls --filter until=1h: exit %d, %q; want an error naming the key", r.code, r.stderr)
	}
	h.mustBerth("volume", "create", "--name", "by-flag")
	if got := strings.TrimSpace(h.mustBerth("volume", "ls", "-q")); got != "by-flag" {
		t.Errorf("volume create --name by-flag: volumes %q", got)
	}
	h.mustBerth("volume", "rm", "by-flag")
	h.mustBerth("network", "rm", "-f", "no-such-network")
	if r := h.berth("network", "rm", "no-such-network"); r.code == 0 {
		t.Error("network rm of a missing network without -f succeeded")
	}
	h.mustBerth("image", "import", "-m", "from a tarball", busyboxTar, "imported:1")
	if got := strings.TrimSpace(h.mustBerth("image", "history", "--format", "{{.Comment}}", "imported:1")); got != "from a tarball" {
		t.Errorf("image import -m: history comment %q", got)
	}
	h.mustBerth("system", "prune", "-f")
	if got := h.ctrNames("-a"); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("after system prune: %v, want only the running container", got)
	}
}

// TestAttach: attach feeds the container's stdin and ends with its exit
// code; the detach keys leave it running; start -a and -i attach to the
// run they start.
func TestAttach(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "reader", "catter", "once", "asker") })
	h.mustBerth("container", "run", "-d", "-i", "--name", "reader", "busybox", "sh", "-c", "read x; echo got-$x; exit 4")
	h.stdin = "abc\n"
	r := h.berth("container", "attach", "reader")
	if r.code != 4 || !strings.Contains(r.stdout, "got-abc") {
		t.Errorf("attach: exit %d, stdout %q; want 4 and got-abc", r.code, r.stdout)
	}

	h.mustBerth("container", "run", "-d", "-i", "--name", "catter", "busybox", "cat")
	h.stdin = "\x01x"
	r = h.berth("container", "attach", "--detach-keys", "ctrl-a,x", "catter")
	if r.code != 0 {
		t.Errorf("attach, then the detach keys: exit %d, %q", r.code, r.stderr)
	}
	if st := h.ctrInspect("catter").State.Status; st != "running" {
		t.Errorf("after detaching the container is %s, want running", st)
	}
	h.stdin = ""
	if r := h.berth("container", "attach", "--detach-keys", "alt-x", "catter"); r.code == 0 || !strings.Contains(r.stderr, "alt-x") {
		t.Errorf("--detach-keys alt-x: exit %d, %q; want an error naming the key", r.code, r.stderr)
	}
	h.mustBerth("container", "stop", "-t", "0", "catter")
	if r := h.berth("container", "attach", "catter"); r.code == 0 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("attach to a stopped container: exit %d, %q", r.code, r.stderr)
	}

	// start -a: this run's output, and its exit code; -i feeds stdin.
	h.mustBerth("container", "create", "--name", "once", "busybox", "sh", "-c", "echo once-out; exit 6")
	for range 2 {
		if r := h.berth("container", "start", "-a", "once"); r.code != 6 || strings.Count(r.stdout, "once-out") != 1 {
			t.Errorf("start -a: exit %d, stdout %q; want 6 and this run's line once", r.code, r.stdout)
		}
	}
	h.mustBerth("container", "create", "-i", "--name", "asker", "busybox", "sh", "-c", "read x; echo typed-$x; exit 2")
	h.stdin = "hello\n"
	if r := h.berth("container", "start", "-a", "-i", "asker"); r.code != 2 || !strings.Contains(r.stdout, "typed-hello") {
		t.Errorf("start -a -i: exit %d, stdout %q; want 2 and typed-hello", r.code, r.stdout)
	}
	h.stdin = ""
}

// TestComposeListingFlags: ps --filter, logs --index, images -q, ls
// --filter, version --short, restart --no-deps, start --wait and up
// --attach-dependencies select as docker compose's do.
func TestComposeListingFlags(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	deps := filepath.Join(filepath.Dir(file), "deps.yaml")
	t.Cleanup(func() {
		h.berth("-f", file, "down", "-v")
		h.berth("-p", h.project+"deps", "-f", deps, "down", "-v")
	})
	h.mustBerth("-f", file, "up", "-d")
	if ids := strings.Fields(h.mustBerth("-f", file, "ps", "-q", "--filter", "status=running")); len(ids) != 3 {
		t.Errorf("ps --filter status=running: %d containers, want 3", len(ids))
	}
	if got := h.mustBerth("-f", file, "ps", "-q", "--filter", "status=exited"); got != "" {
		t.Errorf("ps --filter status=exited: %q, want none", got)
	}
	if r := h.berth("-f", file, "ps", "--filter", "name=x"); r.code == 0 || !strings.Contains(r.stderr, "name") {
		t.Errorf("ps --filter name=x: exit %d, %q; want an error naming the key", r.code, r.stderr)
	}
	h.eventually("the replicas' first lines", 20*time.Second, func() bool {
		return strings.Count(h.mustBerth("-f", file, "logs", "app"), "app-up") == 2
	})
	logs := h.mustBerth("-f", file, "logs", "--index", "2", "app")
	if !strings.Contains(logs, "app-2") || strings.Contains(logs, "app-1") {
		t.Errorf("logs --index 2 app:\n%s\nwant app-2's lines only", logs)
	}
	if ids := strings.Fields(h.mustBerth("-f", file, "images", "-q")); len(ids) != 1 || !strings.HasPrefix(ids[0], "sha256:") {
		t.Errorf("images -q: %v, want busybox's one ID", ids)
	}
	if got := strings.TrimSpace(h.mustBerth("ls", "-q", "--filter", "name="+h.project)); got != h.project {
		t.Errorf("ls --filter name=%s: %q", h.project, got)
	}
	if got := h.mustBerth("ls", "-q", "--filter", "name=no-such-project"); got != "" {
		t.Errorf("ls --filter name=no-such-project: %q, want none", got)
	}
	if got := strings.TrimSpace(h.mustBerth("version", "--short")); got == "" || strings.Contains(got, " ") {
		t.Errorf("version --short: %q, want the version alone", got)
	}

	started := func(name string) string {
		return strings.TrimSpace(h.mustBerth("container", "inspect", "-f", "{{.State.StartedAt}}", name))
	}
	dbStarted, appStarted := started(h.project+"-db-1"), started(h.project+"-app-1")
	h.mustBerth("-f", file, "restart", "--no-deps", "app")
	if got := started(h.project + "-db-1"); got != dbStarted {
		t.Errorf("restart --no-deps app restarted db (%s, was %s)", got, dbStarted)
	}
	if got := started(h.project + "-app-1"); got == appStarted {
		t.Error("restart --no-deps app did not restart app-1")
	}

	h.mustBerth("-f", file, "stop", "app")
	h.mustBerth("-f", file, "start", "--wait", "--wait-timeout", "60", "app")
	if ids := strings.Fields(h.mustBerth("-f", file, "ps", "-q", "--filter", "status=running", "app")); len(ids) != 2 {
		t.Errorf("right after start --wait app: %d replicas running, want 2", len(ids))
	}

	if out := h.mustBerth("-p", h.project+"deps", "-f", deps, "up", "app"); strings.Contains(out, "db-says-hi") || !strings.Contains(out, "app-says-hi") {
		t.Errorf("up app shows:\n%s\nwant app's log only", out)
	}
	if out := h.mustBerth("-p", h.project+"deps", "-f", deps, "up", "--attach-dependencies", "app"); !strings.Contains(out, "db-says-hi") || !strings.Contains(out, "app-says-hi") {
		t.Errorf("up --attach-dependencies app shows:\n%s\nwant db's log too", out)
	}
}

// TestNetworkConnectDisconnect: a running container joins a network with
// an alias that peers there resolve, keeps it across a restart, and leaves
// it on disconnect; bad input names the flag.
func TestNetworkConnectDisconnect(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() {
		h.berth("container", "rm", "-f", "cna", "cnb")
		h.berth("network", "rm", "front", "back")
	})
	h.mustBerth("network", "create", "front")
	h.mustBerth("network", "create", "back")
	h.mustBerth("container", "run", "-d", "--name", "cna", "--network", "front", "busybox", "sleep", "300")
	h.mustBerth("container", "run", "-d", "--name", "cnb", "--network", "back", "busybox", "sleep", "300")
	resolves := func(name string) bool {
		return h.berth("container", "exec", "cnb", "ping", "-c1", "-W2", name).code == 0
	}
	if resolves("friend") {
		t.Fatal("friend answers before cna joined back")
	}
	h.mustBerth("network", "connect", "--alias", "friend", "back", "cna")
	if !resolves("friend") || !resolves("cna") {
		t.Error("after connect cnb does not reach cna as friend and by name on back")
	}
	if r := h.berth("network", "connect", "back", "cna"); r.code == 0 || !strings.Contains(r.stderr, "already") {
		t.Errorf("connecting again: exit %d, %q", r.code, r.stderr)
	}
	if r := h.berth("network", "connect", "--ip", "nope", "back", "cnb"); r.code == 0 || !strings.Contains(r.stderr, "--ip") {
		t.Errorf("--ip nope: exit %d, %q; want an error naming --ip", r.code, r.stderr)
	}
	h.mustBerth("container", "restart", "-t", "0", "cna")
	if !resolves("friend") {
		t.Error("after a restart cna is no longer friend on back")
	}
	h.mustBerth("network", "disconnect", "back", "cna")
	if resolves("friend") {
		t.Error("after disconnect friend still answers")
	}
	if got := h.mustBerth("container", "exec", "cna", "ip", "-o", "link"); strings.Contains(got, "eth1") {
		t.Errorf("after disconnect cna still has eth1:\n%s", got)
	}
	if r := h.berth("network", "disconnect", "back", "cna"); r.code == 0 || !strings.Contains(r.stderr, "not connected") {
		t.Errorf("disconnecting again: exit %d, %q", r.code, r.stderr)
	}
	h.mustBerth("network", "disconnect", "-f", "back", "cna")
}

// TestContainerDiffAndSize: diff lists what the container added, changed
// and deleted; ls -s and inspect -s count the bytes it wrote.
func TestContainerDiffAndSize(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "changer") })
	h.mustBerth("container", "run", "--name", "changer", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /added; rm /etc/group; echo more >> /etc/passwd")
	want := "A /added\nC /etc\nD /etc/group\nC /etc/passwd\n"
	if got := h.mustBerth("container", "diff", "changer"); got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	rw, err := strconv.Atoi(strings.TrimSpace(h.mustBerth("container", "inspect", "-s", "-f", "{{.SizeRw}}", "changer")))
	if err != nil || rw < 100000 || rw > 110000 {
		t.Errorf("inspect -s: SizeRw %d (%v), want the 100000 bytes written and /etc/passwd", rw, err)
	}
	if got := h.mustBerth("container", "ls", "-a", "-s", "--format", "{{.Size}}"); !strings.Contains(got, "(virtual ") {
		t.Errorf("ls -s: %q, want the size and the virtual size", got)
	}
}

// TestComposeWaitDownAndPullPolicy: wait --down-project ends with the first
// container to stop and removes the project; pull --policy missing leaves
// an image that is here alone (no registry is reachable in tests).
func TestComposeWaitDownAndPullPolicy(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "pull", "--policy", "missing")
	if r := h.berth("-f", file, "pull", "--policy", "sometimes"); r.code == 0 || !strings.Contains(r.stderr, "--policy") {
		t.Errorf("pull --policy sometimes: exit %d, %q; want an error naming --policy", r.code, r.stderr)
	}
	h.mustBerth("-f", file, "up", "-d")
	r := h.berth("-f", file, "wait", "--down-project", "short", "long")
	if r.code != 3 || strings.TrimSpace(r.stdout) != "3" {
		t.Errorf("wait --down-project: exit %d, stdout %q; want short's 3", r.code, r.stdout)
	}
	if rows := h.ps(file, "-a"); len(rows) != 0 {
		t.Errorf("after wait --down-project %d containers remain", len(rows))
	}
}
