//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// apiCall sends one request to the server on sock: its status and body.
func apiCall(t *testing.T, sock, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://berth/v1.51"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient(sock).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// openFds counts the open file descriptors of process pid.
func openFds(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// pidfds counts the pidfds process pid holds.
func pidfds(t *testing.T, pid int) int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink(dir + "/" + e.Name()); err == nil && target == "anon_inode:[pidfd]" {
			n++
		}
	}
	return n
}

// TestServeConcurrentCreates: 20 clients create and start a container
// each at once through berth serve; every one runs under its own name;
// 200 requests at once are all answered; and 20 concurrent removals leave
// nothing.
func TestServeConcurrentCreates(t *testing.T) {
	h := newHarness(t)
	sock := h.serve()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("c%02d", i)
			status, body := apiCall(t, sock, "POST", "/containers/create?name="+name, `{"Image":"busybox","Cmd":["sleep","60"]}`)
			if status != http.StatusCreated {
				errs <- fmt.Errorf("create %s: %d %s", name, status, body)
				return
			}
			if status, body := apiCall(t, sock, "POST", "/containers/"+name+"/start", ""); status != http.StatusNoContent {
				errs <- fmt.Errorf("start %s: %d %s", name, status, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, body := apiCall(t, sock, "GET", "/containers/json", "")
	var list []struct{ Names []string }
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Fatalf("%d containers running after %d concurrent creates, want %d: %s", len(list), n, n, body)
	}
	if names := h.ctrNames(); len(names) != n {
		t.Fatalf("berth container ls: %d containers, want %d", len(names), n)
	}
	// 200 requests at once: lists, inspections, logs, pings; none is lost.
	var reads sync.WaitGroup
	paths := []string{"/containers/json?all=1", "/containers/c07/json", "/containers/c13/logs?stdout=1", "/_ping", "/info"}
	for i := range 200 {
		reads.Add(1)
		go func() {
			defer reads.Done()
			p := paths[i%len(paths)]
			if status, body := apiCall(t, sock, "GET", p, ""); status != http.StatusOK {
				t.Errorf("GET %s among 200 at once: %d %s", p, status, body)
			}
		}()
	}
	reads.Wait()
	var rm sync.WaitGroup
	for i := range n {
		rm.Add(1)
		go func() {
			defer rm.Done()
			if status, body := apiCall(t, sock, "DELETE", fmt.Sprintf("/containers/c%02d?force=1", i), ""); status != http.StatusNoContent {
				t.Errorf("remove c%02d: %d %s", i, status, body)
			}
		}()
	}
	rm.Wait()
	h.eventually("no container left", 20*time.Second, func() bool { return len(h.ctrNames("-a")) == 0 })
}

// TestServeClientsGoingAway: clients that disconnect in the middle of
// logs -f, attach, events and stats streams leave the server holding
// nothing: its open files come back to what they were.
func TestServeClientsGoingAway(t *testing.T) {
	h := newHarness(t)
	sock, proc := h.serveProc()
	status, body := apiCall(t, sock, "POST", "/containers/create?name=talker", `{"Image":"busybox","Cmd":["sh","-c","while true; do echo tick; sleep 0.2; done"]}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	t.Cleanup(func() { h.berth("container", "rm", "-f", "talker") })
	if status, body := apiCall(t, sock, "POST", "/containers/talker/start", ""); status != http.StatusNoContent {
		t.Fatalf("start: %d %s", status, body)
	}
	// One request first, so that the server's lazily made files (its
	// stores) are open before counting; and the server waits on talker's
	// run through a pidfd, which it opens once it has seen the start in
	// the journal: counted only once it is there.
	apiCall(t, sock, "GET", "/containers/talker/logs?stdout=1", "")
	h.eventually("the server waits on talker's run", 20*time.Second, func() bool { return pidfds(t, proc.Pid) > 0 })
	base := openFds(t, proc.Pid)
	streams := []string{
		"GET /containers/talker/logs?stdout=1&follow=1",
		"POST /containers/talker/attach?stream=1&stdout=1",
		"GET /events",
		"GET /containers/talker/stats",
	}
	for round := range 3 {
		var conns []net.Conn
		for _, s := range streams {
			method, path, _ := strings.Cut(s, " ")
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			fmt.Fprintf(c, "%s /v1.51%s HTTP/1.1\r\nHost: berth\r\nContent-Length: 0\r\n\r\n", method, path)
			// Wait for the answer's first line: the stream is being served.
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.Contains(line, "200") {
				t.Fatalf("round %d: %s: %q %v", round, s, line, err)
			}
		}
		if open := openFds(t, proc.Pid); open <= base {
			t.Fatalf("round %d: the server holds %d files while serving %d streams; it held %d before", round, open, len(streams), base)
		}
		for _, c := range conns {
			c.Close() // mid-stream
		}
		h.eventually(fmt.Sprintf("round %d: the server's open files back to %d", round, base), 20*time.Second, func() bool {
			return openFds(t, proc.Pid) <= base
		})
	}
	h.mustBerth("container", "rm", "-f", "talker")
}

// TestServeKilledMidOperation: a server killed with SIGKILL while
// creating and starting containers leaves state that the next server
// serves: every container is listed, can be started and removed, and new
// ones are made.
func TestServeKilledMidOperation(t *testing.T) {
	h := newHarness(t)
	sock, proc := h.serveProc()
	const n = 8
	var wg sync.WaitGroup
	started := make(chan struct{}, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", fmt.Sprintf("http://berth/v1.51/containers/create?name=k%d", i), strings.NewReader(`{"Image":"busybox","Cmd":["sleep","60"]}`))
			req.Header.Set("Content-Type", "application/json")
			started <- struct{}{}
			resp, err := apiClient(sock).Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					r2, _ := http.NewRequest("POST", fmt.Sprintf("http://berth/v1.51/containers/k%d/start", i), nil)
					if resp, err := apiClient(sock).Do(r2); err == nil {
						resp.Body.Close()
					}
				}
			}
		}()
	}
	for range n {
		<-started
	}
	// Killed while the requests are in flight: some done, some half-way.
	if err := proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	sock2 := h.serve()
	_, body := apiCall(t, sock2, "GET", "/containers/json?all=1", "")
	var list []struct {
		ID    string `json:"Id"`
		Names []string
		State string
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("list after the kill: %v: %s", err, body)
	}
	if names := h.ctrNames("-a"); len(names) != len(list) {
		t.Fatalf("the server lists %d containers, berth %d (%q)", len(list), len(names), names)
	}
	for _, c := range list {
		if c.State != "running" {
			if status, body := apiCall(t, sock2, "POST", "/containers/"+c.ID+"/start", ""); status != http.StatusNoContent {
				t.Fatalf("start %s after the kill: %d %s", c.Names, status, body)
			}
		}
		if status, body := apiCall(t, sock2, "DELETE", "/containers/"+c.ID+"?force=1", ""); status != http.StatusNoContent {
			t.Fatalf("remove %s after the kill: %d %s", c.Names, status, body)
		}
	}
	if status, body := apiCall(t, sock2, "POST", "/containers/create?name=k0", `{"Image":"busybox","Cmd":["true"]}`); status != http.StatusCreated {
		t.Fatalf("create after the kill: %d %s", status, body)
	}
	if status, body := apiCall(t, sock2, "DELETE", "/containers/k0", ""); status != http.StatusNoContent {
		t.Fatalf("remove: %d %s", status, body)
	}
	h.eventually("no container left", 20*time.Second, func() bool { return len(h.ctrNames("-a")) == 0 })
}

// TestServeIdleRSS: berth serve, started and asked one _ping, stays under
// 20 MiB resident (dockerd and its containerd take over 100 MiB here); and
// once it idles after running containers, it is back near that size.
func TestServeIdleRSS(t *testing.T) {
	h := newHarness(t)
	sock, proc := h.serveProc()
	if status, _ := apiCall(t, sock, "GET", "/_ping", ""); status != http.StatusOK {
		t.Fatalf("_ping: %d", status)
	}
	rss := func() int {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(proc.Pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				return kib
			}
		}
		return 0
	}
	kib := rss()
	if kib == 0 || kib >= 20<<10 {
		t.Fatalf("berth serve's idle RSS: %d KiB, want under 20 MiB", kib)
	}
	t.Logf("idle RSS %d KiB", kib)

	// A burst of work: containers created, started, waited for, removed.
	peak := 0
	for i := range 10 {
		name := "idle" + strconv.Itoa(i)
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/containers/create?name=" + name, `{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}`},
			{"POST", "/containers/" + name + "/start", ""},
			{"POST", "/containers/" + name + "/wait", ""},
			{"DELETE", "/containers/" + name, ""},
		} {
			if status, body := apiCall(t, sock, c.method, c.path, c.body); status >= 300 {
				t.Fatalf("%s %s: %d %s", c.method, c.path, status, body)
			}
		}
		peak = max(peak, rss())
	}
	limit := min(20<<10, kib+4<<10)
	h.eventually("the idle server back near its start-up size", 20*time.Second, func() bool { return rss() < limit })
	t.Logf("RSS at most %d KiB during the work, %d KiB once idle again", peak, rss())
}
