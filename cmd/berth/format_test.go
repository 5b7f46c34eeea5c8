package main

import (
	"bytes"
	"flag"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/netmgr"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var fmtNow = time.Date(2025, 3, 1, 15, 0, 0, 0, time.UTC)

// fmtContainers are a running web container publishing a port, with the
// image's long command, and an exited one-off with its own command.
func fmtContainers() []*engine.Container {
	web := &engine.Container{
		ID: "3f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d", ImageID: "sha256:aaaa",
		Created: fmtNow.Add(-2 * time.Hour),
		Config: engine.ContainerConfig{
			Name: "demo-web-1", Image: "docker.io/library/nginx:latest",
			Labels:   map[string]string{"com.docker.compose.project": "demo", "com.docker.compose.service": "web"},
			Networks: []engine.EndpointConfig{{Network: "demo_default"}},
			Mounts:   []engine.Mount{{Type: "volume", Source: "demo_data_with_a_long_name", Target: "/data"}},
		},
		State: engine.State{Status: engine.StatusRunning, Pid: 4242, StartedAt: fmtNow.Add(-2 * time.Hour),
			Health: &engine.Health{Status: engine.HealthHealthy}},
		Networks: []engine.NetworkStatus{{Network: "demo_default", Address: netip.MustParseAddr("172.30.0.2"), Ports: []netmgr.PortMapping{
			{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18080, ContainerPort: 80, Protocol: "tcp"},
			{HostPort: 8443, ContainerPort: 8443, Protocol: "tcp"},
			{HostPort: 8444, ContainerPort: 8444, Protocol: "tcp"},
		}}},
		ImageConfig: image.Config{Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"}},
	}
	job := &engine.Container{
		ID: "9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d3f1c0d2e9a8b7c6d5e4f3a2b1c0d", ImageID: "sha256:bbbb",
		Created: fmtNow.Add(-26 * time.Hour),
		Config: engine.ContainerConfig{Name: "demo-job-1", Image: "busybox", Cmd: []string{"sh", "-c", "exit 3"},
			Labels:   map[string]string{"com.docker.compose.project": "demo", "com.docker.compose.service": "job"},
			Networks: []engine.EndpointConfig{{Network: "demo_default"}}},
		State: engine.State{Status: engine.StatusExited, ExitCode: 3, StartedAt: fmtNow.Add(-25 * time.Hour), FinishedAt: fmtNow.Add(-25 * time.Hour)},
	}
	return []*engine.Container{web, job}
}

func containerRows() []containerRow {
	var rows []containerRow
	for _, c := range fmtContainers() {
		rows = append(rows, containerRow{s: dockerapi.ContainerSummary(c, dockerapi.Objects{}, fmtNow), trunc: true, now: fmtNow})
	}
	return rows
}

func composeRows() []composeRow {
	var rows []composeRow
	for _, c := range fmtContainers() {
		rows = append(rows, composeRow{c: containerRow{s: dockerapi.ContainerSummary(c, dockerapi.Objects{}, fmtNow), trunc: true, now: fmtNow},
			name: c.Config.Name, project: "demo", service: c.Config.Labels["com.docker.compose.service"], exitCode: c.State.ExitCode,
			publishers: publishers(c)})
	}
	return rows
}

func imageRowsFixture() []imageRow {
	imgs := []*image.Image{
		{ID: "sha256:1111111111111111111111111111111111111111111111111111111111111111", Created: fmtNow.Add(-50 * 24 * time.Hour),
			RepoTags: []string{"docker.io/library/busybox:latest", "localhost:5000/tools/busybox:1.36"}, Size: 2155000},
		{ID: "sha256:2222222222222222222222222222222222222222222222222222222222222222", RepoTags: []string{"rootfs:imported"}, Size: 812},
		{ID: "sha256:3333333333333333333333333333333333333333333333333333333333333333", Created: fmtNow.Add(-3 * time.Hour), Size: 48_300_000},
	}
	var rows []imageRow
	for _, img := range imgs {
		rows = append(rows, imageRows(dockerapi.ImageSummary(img, -1), true, fmtNow)...)
	}
	return rows
}

func TestListGolden(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.UTC // CreatedAt is in local time, as docker's
	nets := []networkRow{
		{n: dockerapi.NetworkSummary(&netmgr.Network{ID: strings.Repeat("7d1e", 16), Name: "demo_default", Bridge: "berth7d1e",
			Subnet: netip.MustParsePrefix("172.30.0.0/16"), Created: fmtNow}), trunc: true},
		{n: dockerapi.NetworkSummary(&netmgr.Network{ID: strings.Repeat("0b2c", 16), Name: "bridge", Bridge: "berth0",
			Internal: true, Labels: map[string]string{"a": "1"}, Created: fmtNow}), trunc: true},
	}
	vols := []volumeRow{
		{v: dockerapi.Volume(&engine.Volume{Name: "demo_data", Driver: "local", Mountpoint: "/var/lib/berth/volumes/demo_data/_data",
			Labels: map[string]string{"com.docker.compose.project": "demo"}})},
		{v: dockerapi.Volume(&engine.Volume{Name: strings.Repeat("ab", 32), Mountpoint: "/x"})},
	}
	tests := []struct {
		name   string
		render func(w *bytes.Buffer) error
	}{
		{"container_ls", func(w *bytes.Buffer) error {
			return writeList(w, listing{defaultTable: containerTable, header: containerHeader}, containerRows())
		}},
		{"container_ls_custom_table", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: `table {{.ID}}\t{{.Names}}\t{{.Ports}}\t{{.Label "com.docker.compose.service"}}\t{{.Networks}}`,
				header: containerHeader}, containerRows())
		}},
		{"container_ls_json", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: "json", defaultTable: containerTable, header: containerHeader}, containerRows())
		}},
		{"container_ls_helpers", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: `{{upper .Names}}|{{join (split .Names "-") "+"}}|{{truncate .ID 4}}|{{pad .State 1 1}}|{{title .State}}|{{lower "AB"}}|{{json .Status}}|{{.Mounts}}`},
				containerRows())
		}},
		{"compose_ps", func(w *bytes.Buffer) error {
			return writeList(w, listing{defaultTable: composeTable, header: composeHeader}, composeRows())
		}},
		{"compose_ps_json", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: "json", defaultTable: composeTable, header: composeHeader}, composeRows())
		}},
		{"image_ls", func(w *bytes.Buffer) error {
			return writeList(w, listing{defaultTable: imageTable, header: imageHeader}, imageRowsFixture())
		}},
		{"image_ls_repotag", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: "{{.Repository}}:{{.Tag}}"}, imageRowsFixture())
		}},
		{"image_ls_json", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: "json"}, imageRowsFixture())
		}},
		{"network_ls", func(w *bytes.Buffer) error {
			return writeList(w, listing{defaultTable: networkTable, header: networkHeader}, nets)
		}},
		{"network_ls_custom_table", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: `table {{.Name}}\t{{.Internal}}\t{{.IPv6}}\t{{.Labels}}\t{{.CreatedAt}}`, header: networkHeader}, nets)
		}},
		{"volume_ls", func(w *bytes.Buffer) error {
			return writeList(w, listing{defaultTable: volumeTable, header: volumeHeader}, vols)
		}},
		{"volume_ls_json", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: "json"}, vols)
		}},
		{"compose_ls_json", func(w *bytes.Buffer) error {
			type project struct{ Name, Status, ConfigFiles string }
			return writeList(w, listing{format: "json", jsonArray: true}, []project{{"demo", "running(2)", "/srv/demo/compose.yaml"}})
		}},
		{"empty_table", func(w *bytes.Buffer) error {
			return writeList(w, listing{defaultTable: containerTable, header: containerHeader}, []containerRow(nil))
		}},
		{"inspect_pid", func(w *bytes.Buffer) error {
			return writeInspect(w, "{{.State.Pid}} {{.Name}} {{json .Config.Labels}}", inspectDocs())
		}},
		{"inspect_json", func(w *bytes.Buffer) error {
			return writeInspect(w, "json", []any{dockerapi.Volume(&engine.Volume{Name: "v", Mountpoint: "/v"})})
		}},
		{"inspect_indented", func(w *bytes.Buffer) error {
			return writeInspect(w, "", []any{dockerapi.Volume(&engine.Volume{Name: "v", Mountpoint: "/v"})})
		}},
		{"version", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: "{{.Client.Version}} {{.Version}}"}, []versionInfo{{Version: "v1.2.3"}})
		}},
	}
	tests = append(tests, moreGoldenTables()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.render(&buf); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("testdata", "format", tc.name+".txt"), buf.Bytes(), *update)
		})
	}
}

func inspectDocs() []any {
	var docs []any
	for _, c := range fmtContainers() {
		docs = append(docs, dockerapi.ContainerInspect(c, dockerapi.Objects{}))
	}
	return docs
}

// TestTableColumns states what the golden tables show.
func TestTableColumns(t *testing.T) {
	var buf bytes.Buffer
	if err := writeList(&buf, listing{defaultTable: composeTable, header: composeHeader}, composeRows()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	for _, want := range []string{"NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	for _, want := range []string{`"/docker-entrypoint.…"`, "2 hours ago", "Up 2 hours (healthy)", "127.0.0.1:18080->80/tcp", "0.0.0.0:8443-8444->8443-8444/tcp"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("web line %q lacks %s", lines[1], want)
		}
	}
	if !strings.Contains(lines[2], `"sh -c 'exit 3'"`) {
		t.Errorf("job line %q lacks its command", lines[2])
	}
	buf.Reset()
	if err := writeList(&buf, listing{defaultTable: imageTable, header: imageHeader}, imageRowsFixture()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"latest", "localhost:5000/tools/busybox", "7 weeks ago", "rootfs", "N/A", "<none>", "3 hours ago", "48.3MB", "111111111111 "} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("image ls lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestDisplayablePorts(t *testing.T) {
	any4 := netip.IPv4Unspecified()
	tests := []struct {
		name  string
		ports []container.PortSummary
		want  string
	}{
		{"none", nil, ""},
		{"mapped", []container.PortSummary{{IP: netip.MustParseAddr("127.0.0.1"), PrivatePort: 80, PublicPort: 18080, Type: "tcp"}}, "127.0.0.1:18080->80/tcp"},
		{"range", []container.PortSummary{{IP: any4, PrivatePort: 81, PublicPort: 81, Type: "tcp"}, {IP: any4, PrivatePort: 80, PublicPort: 80, Type: "tcp"}}, "0.0.0.0:80-81->80-81/tcp"},
		{"gap", []container.PortSummary{{IP: any4, PrivatePort: 80, PublicPort: 80, Type: "udp"}, {IP: any4, PrivatePort: 82, PublicPort: 82, Type: "udp"}}, "0.0.0.0:80->80/udp, 0.0.0.0:82->82/udp"},
		{"ipv6", []container.PortSummary{{IP: netip.IPv6Unspecified(), PrivatePort: 80, PublicPort: 8080, Type: "tcp"}}, "[::]:8080->80/tcp"},
		{"unpublished", []container.PortSummary{{PrivatePort: 80, Type: "tcp"}}, "80/tcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := displayablePorts(tc.ports); got != tc.want {
				t.Errorf("displayablePorts = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadFormat(t *testing.T) {
	if err := writeList(&bytes.Buffer{}, listing{format: "{{.Nope"}, containerRows()); err == nil {
		t.Error("an unparsable template: no error")
	}
	if err := writeList(&bytes.Buffer{}, listing{format: "{{.Nope}}"}, containerRows()); err == nil {
		t.Error("an unknown field: no error")
	}
	if err := writeInspect(&bytes.Buffer{}, "{{.Nope}}", inspectDocs()); err == nil {
		t.Error("inspect with an unknown field: no error")
	}
}
