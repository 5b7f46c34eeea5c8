package dockerapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/netmgr/portmap"
)

// newTestServer serves the API over an engine in a temporary root with
// busybox:latest imported, and no network manager (containers use
// NetworkMode none).
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	root := t.TempDir()
	images, err := image.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tar bytes.Buffer
	if err := testimage.BusyboxRootfs(&tar); err != nil {
		t.Fatal(err)
	}
	if _, err := images.Import(t.Context(), &tar, "busybox:latest", image.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Root: root, RunDir: root + "/run", Exe: "/bin/true"}, images, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(t.Context(), Options{Engine: eng, Version: "test", Root: root}))
	t.Cleanup(srv.Close)
	return srv
}

// call sends a request and returns the status and body.
func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// wantError checks an error answer: its status and a message in Docker's
// shape containing want.
func wantError(t *testing.T, status int, body []byte, wantStatus int, want string) {
	t.Helper()
	var e struct{ Message string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if status != wantStatus || !strings.Contains(e.Message, want) {
		t.Fatalf("got %d %q, want %d with %q", status, e.Message, wantStatus, want)
	}
}

func TestPingVersionPrefix(t *testing.T) {
	srv := newTestServer(t)
	for _, path := range []string{"/_ping", "/v1.51/_ping", "/v1.24/_ping"} {
		resp, err := srv.Client().Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("API-Version") != APIVersion {
			t.Errorf("HEAD %s: %d, API-Version %q", path, resp.StatusCode, resp.Header.Get("API-Version"))
		}
	}
	status, body := call(t, srv, "GET", "/v1.51/version", "")
	var v struct{ APIVersion, MinAPIVersion string }
	if err := json.Unmarshal(body, &v); status != http.StatusOK || err != nil || v.APIVersion != APIVersion || v.MinAPIVersion != MinAPIVersion {
		t.Fatalf("version: %d %s", status, body)
	}
}

func TestErrorsInDockerShape(t *testing.T) {
	srv := newTestServer(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		message                  string
	}{
		{"missing container", "GET", "/v1.51/containers/nope/json", "", 404, "No such container: nope"},
		{"missing image", "GET", "/v1.51/images/nope:1/json", "", 404, "No such image: nope:1"},
		{"missing volume", "DELETE", "/v1.51/volumes/nope", "", 404, "nope"},
		{"missing exec", "GET", "/v1.51/exec/abc/json", "", 404, "No such exec instance"},
		{"not implemented", "GET", "/v1.51/containers/x/checkpoints", "", 501, "GET /containers/x/checkpoints: not implemented"},
		{"update without a body", "POST", "/v1.51/containers/x/update", "", 400, "invalid JSON body"},
		{"update of a missing container", "POST", "/v1.51/containers/nope/update", `{"Memory":67108864}`, 404, "No such container: nope"},
		{"update with a bad restart policy", "POST", "/v1.51/containers/x/update", `{"RestartPolicy":{"Name":"sometimes"}}`, 400, "invalid restart policy"},
		{"archive without path", "PUT", "/v1.51/containers/x/archive", "", 400, "path is required"},
		{"archive of a missing container", "GET", "/v1.51/containers/nope/archive?path=/etc", "", 404, "No such container: nope"},
		{"rename without name", "POST", "/v1.51/containers/x/rename", "", 400, "name is required"},
		{"rename of a missing container", "POST", "/v1.51/containers/nope/rename?name=y", "", 404, "No such container: nope"},
		{"stats of a missing container", "GET", "/v1.51/containers/nope/stats?stream=false", "", 404, "No such container: nope"},
		{"top with ps_args", "GET", "/v1.51/containers/nope/top?ps_args=aux", "", 400, "ps_args"},
		{"connect without a container", "POST", "/v1.51/networks/x/connect", `{}`, 400, "Container is required"},
		{"connect malformed", "POST", "/v1.51/networks/x/connect", `{"Container":`, 400, "invalid JSON body"},
		{"prune with an unknown filter", "POST", "/v1.51/volumes/prune?filters=%7B%22until%22%3A%7B%2210m%22%3Atrue%7D%7D", "", 400, `filter "until"`},
		{"build over BuildKit", "POST", "/v1.51/build?version=2", "", 501, "BuildKit"},
		{"build with a Dockerfile outside", "POST", "/v1.51/build?dockerfile=../x", "", 400, "inside the context"},
		{"save without names", "GET", "/v1.51/images/get", "", 400, "no image names"},
		{"save of a missing image", "GET", "/v1.51/images/nope:1/get", "", 404, "No such image: nope:1"},
		{"push of a missing image", "POST", "/v1.51/images/nope/push?tag=1", "", 404, "No such image: nope:1"},
		{"bad event filters", "GET", "/v1.51/events?filters=%7B", "", 400, "filters"},
		{"unknown event filter", "GET", "/v1.51/events?filters=%7B%22color%22%3A%7B%22red%22%3Atrue%7D%7D", "", 400, `filter "color"`},
		{"not implemented image endpoint", "GET", "/v1.51/images/busybox/history", "", 501, "/images/busybox/history"},
		{"malformed JSON", "POST", "/v1.51/containers/create?name=bad", `{"Image":`, 400, "invalid JSON body"},
		{"wrong types", "POST", "/v1.51/containers/create?name=bad", `{"Image":"busybox","Cmd":"echo"}`, 400, "invalid JSON body"},
		{"no image", "POST", "/v1.51/containers/create?name=bad", `{}`, 400, "no image"},
		{"unknown image", "POST", "/v1.51/containers/create?name=bad", `{"Image":"nope:1"}`, 404, "No such image: nope:1"},
		{"bad bind", "POST", "/v1.51/containers/create?name=bad", `{"Image":"busybox","HostConfig":{"Binds":["x"]}}`, 400, "HostConfig.Binds"},
		{"bad filters", "GET", "/v1.51/containers/json?filters=%7B", "", 400, "filters"},
		{"bad volume JSON", "POST", "/v1.51/volumes/create", `[1]`, 400, "invalid JSON body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, srv, tc.method, tc.path, tc.body)
			wantError(t, status, body, tc.status, tc.message)
		})
	}
	// Nothing was created by the bad requests.
	_, body := call(t, srv, "GET", "/v1.51/containers/json?all=1", "")
	var list []container.Summary
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 0 {
		t.Fatalf("containers after bad input: %s (%v)", body, err)
	}
}

func TestContainerCreateInspectListRemove(t *testing.T) {
	srv := newTestServer(t)
	create := `{"Image":"busybox","Cmd":["sleep","60"],"Env":["A=1"],"Labels":{"app":"web","tier":"front"},
		"WorkingDir":"/tmp","HostConfig":{"NetworkMode":"none","RestartPolicy":{"Name":"on-failure","MaximumRetryCount":2}}}`
	status, body := call(t, srv, "POST", "/v1.51/containers/create?name=web", create)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var created container.CreateResponse
	if err := json.Unmarshal(body, &created); err != nil || len(created.ID) != 64 {
		t.Fatalf("create response %s: %v", body, err)
	}
	status, body = call(t, srv, "POST", "/v1.51/containers/create?name=web", create)
	wantError(t, status, body, http.StatusConflict, "web")

	status, body = call(t, srv, "GET", "/v1.51/containers/web/json", "")
	var ins container.InspectResponse
	if err := json.Unmarshal(body, &ins); status != 200 || err != nil {
		t.Fatalf("inspect: %d %s", status, body)
	}
	if ins.ID != created.ID || ins.Name != "/web" || ins.Config.WorkingDir != "/tmp" || !slices.Contains(ins.Config.Env, "A=1") ||
		ins.HostConfig.RestartPolicy.MaximumRetryCount != 2 || ins.State.Status != "created" {
		t.Fatalf("inspect: %+v", ins)
	}

	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 0}, // not running
		{"all=1", 1},
		{"all=1&filters=" + url.QueryEscape(`{"label":{"app=web":true}}`), 1},
		{"all=1&filters=" + url.QueryEscape(`{"label":{"app=db":true}}`), 0},
		{"all=1&filters=" + url.QueryEscape(`{"name":{"we":true}}`), 1},
		{"filters=" + url.QueryEscape(`{"status":{"created":true}}`), 1},
	} {
		_, body := call(t, srv, "GET", "/v1.51/containers/json?"+tc.query, "")
		var list []container.Summary
		if err := json.Unmarshal(body, &list); err != nil || len(list) != tc.want {
			t.Errorf("list ?%s: %s, want %d", tc.query, body, tc.want)
		}
	}

	if status, body := call(t, srv, "DELETE", "/v1.51/containers/web", ""); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, body = call(t, srv, "GET", "/v1.51/containers/web/json", "")
	wantError(t, status, body, http.StatusNotFound, "No such container")
}

func TestVolumesAndImages(t *testing.T) {
	srv := newTestServer(t)
	if status, body := call(t, srv, "POST", "/v1.51/volumes/create", `{"Name":"data","Labels":{"k":"v"}}`); status != http.StatusCreated {
		t.Fatalf("volume create: %d %s", status, body)
	}
	_, body := call(t, srv, "GET", "/v1.51/volumes?filters="+url.QueryEscape(`{"label":{"k=v":true}}`), "")
	if !strings.Contains(string(body), `"Name":"data"`) {
		t.Fatalf("volume list: %s", body)
	}
	if status, body := call(t, srv, "DELETE", "/v1.51/volumes/data", ""); status != http.StatusNoContent {
		t.Fatalf("volume delete: %d %s", status, body)
	}

	if status, body := call(t, srv, "POST", "/v1.51/images/busybox/tag?repo=mybox&tag=1", ""); status != http.StatusCreated {
		t.Fatalf("tag: %d %s", status, body)
	}
	_, body = call(t, srv, "GET", "/v1.51/images/json", "")
	if !strings.Contains(string(body), `"mybox:1"`) || !strings.Contains(string(body), `"busybox:latest"`) {
		t.Fatalf("images: %s", body)
	}
	if status, body := call(t, srv, "GET", "/v1.51/images/mybox:1/json", ""); status != http.StatusOK || !strings.Contains(string(body), `"mybox:1"`) {
		t.Fatalf("image inspect: %d %s", status, body)
	}
	status, body := call(t, srv, "DELETE", "/v1.51/images/mybox:1", "")
	if status != http.StatusOK || !strings.Contains(string(body), `"Untagged":"mybox:1"`) || strings.Contains(string(body), "Deleted") {
		t.Fatalf("rmi mybox:1: %d %s", status, body)
	}
}

func TestCreateConfig(t *testing.T) {
	five := 5
	req := container.CreateRequest{
		Config: &container.Config{Image: "busybox", Entrypoint: []string{""}, Cmd: []string{"sh"}, StopTimeout: &five,
			ExposedPorts: network.PortSet{network.MustParsePort("80/tcp"): {}}},
		HostConfig: &container.HostConfig{
			NetworkMode: "appnet",
			Binds:       []string{"/srv:/data:ro", "cache:/cache:nocopy"},
			Tmpfs:       map[string]string{"/run": "size=1m"},
			PortBindings: network.PortMap{network.MustParsePort("80/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8080"}},
				network.MustParsePort("53/udp"): nil},
			ExtraHosts: []string{"db:10.0.0.5"},
			AutoRemove: true,
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"appnet": {Aliases: []string{"api"}}, "other": {},
		}},
	}
	c, err := CreateConfig("x", req)
	if err != nil {
		t.Fatal(err)
	}
	if c.Entrypoint == nil || len(c.Entrypoint) != 0 || *c.StopTimeout != 5e9 || !c.AutoRemove {
		t.Errorf("entrypoint %q, stop timeout %v, auto-remove %v", c.Entrypoint, c.StopTimeout, c.AutoRemove)
	}
	wantMounts := []engine.Mount{
		{Type: "bind", Source: "/srv", Target: "/data", ReadOnly: true, CreateHostPath: true},
		{Type: "volume", Source: "cache", Target: "/cache", NoCopy: true},
		{Type: "tmpfs", Target: "/run", Options: []string{"size=1m"}},
	}
	if !slices.EqualFunc(c.Mounts, wantMounts, func(a, b engine.Mount) bool {
		return a.Type == b.Type && a.Source == b.Source && a.Target == b.Target && a.ReadOnly == b.ReadOnly && a.NoCopy == b.NoCopy && slices.Equal(a.Options, b.Options)
	}) {
		t.Errorf("mounts %+v", c.Mounts)
	}
	if len(c.Networks) != 2 || c.Networks[0].Network != "appnet" || !slices.Equal(c.Networks[0].Aliases, []string{"api"}) || c.Networks[1].Network != "other" {
		t.Errorf("networks %+v", c.Networks)
	}
	wantPorts := []portmap.Mapping{
		{ContainerPort: 53, Protocol: portmap.UDP},
		{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Protocol: portmap.TCP},
	}
	if !slices.Equal(c.Ports, wantPorts) {
		t.Errorf("ports %+v, want %+v", c.Ports, wantPorts)
	}
	if !slices.Equal(c.ExposedPorts, []string{"80/tcp"}) || len(c.ExtraHosts) != 1 || c.ExtraHosts[0].IP != "10.0.0.5" {
		t.Errorf("exposed %q, extra hosts %+v", c.ExposedPorts, c.ExtraHosts)
	}

	for _, tc := range []struct {
		name string
		hc   container.HostConfig
		want string
	}{
		{"rm with restart", container.HostConfig{AutoRemove: true, RestartPolicy: container.RestartPolicy{Name: "always"}}, "conflicting"},
		{"ports without network", container.HostConfig{NetworkMode: "none", PortBindings: network.PortMap{network.MustParsePort("80/tcp"): nil}}, "no network to publish"},
		{"bad restart", container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "sometimes"}}, "RestartPolicy"},
		{"log driver", container.HostConfig{LogConfig: container.LogConfig{Type: "syslog"}}, "json-file"},
		{"mount type", container.HostConfig{Mounts: nil, Binds: []string{"/a:rel"}}, "absolute target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CreateConfig("x", container.CreateRequest{Config: &container.Config{Image: "busybox"}, HostConfig: &tc.hc})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// BenchmarkPing is `GET /_ping` over a kept-alive connection: the server's
// own latency, without a client process's start.
func BenchmarkPing(b *testing.B) {
	srv := httptest.NewServer(New(b.Context(), Options{Version: "bench"}))
	defer srv.Close()
	c := srv.Client()
	for b.Loop() {
		resp, err := c.Get(srv.URL + "/v1.51/_ping")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
