package engine

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/netmgr/portmap"
)

// v1Record is a container.json as the berth before typed ports wrote it,
// with the given config.ports.
func v1Record(ports string) string {
	return `{"version":1,"id":"` + strings.Repeat("ab", 32) + `","config":{"name":"p-web-1","image":"nginx",` +
		`"labels":{"com.docker.compose.service":"web"},"networks":[{"network":"p_default"}],"ports":` + ports + `},` +
		`"image_id":"sha256:` + strings.Repeat("cd", 32) + `","image_config":{},"stop_signal":"SIGTERM","created":"2026-01-02T03:04:05Z"}`
}

func writeRecordFile(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ctrstate.RecordFile), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReadRecordVersion1: a record written before ports were typed reads
// as this version's, its ports parsed once here; the rest as it was.
func TestReadRecordVersion1(t *testing.T) {
	rec, err := readRecord(writeRecordFile(t, v1Record(`[`+
		`{"host_ip":"127.0.0.1","host_port":"8080-8090","container_port":80,"protocol":"tcp"},`+
		`{"host_port":"5353","container_port":53,"protocol":"udp"},`+
		`{"host_ip":"::","container_port":443},`+
		`{"host_port":"9000-9000","container_port":90,"protocol":"tcp"}]`)))
	if err != nil {
		t.Fatal(err)
	}
	want := []netmgr.PortMapping{
		{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, HostPortEnd: 8090, ContainerPort: 80, Protocol: portmap.TCP},
		{HostPort: 5353, ContainerPort: 53, Protocol: portmap.UDP},
		{HostIP: netip.IPv6Unspecified(), ContainerPort: 443, Protocol: portmap.TCP},
		{HostPort: 9000, HostPortEnd: 9000, ContainerPort: 90, Protocol: portmap.TCP},
	}
	if !reflect.DeepEqual(rec.Config.Ports, want) || rec.portsErr != nil {
		t.Errorf("ports %+v (%v)\nwant %+v", rec.Config.Ports, rec.portsErr, want)
	}
	if rec.Version != recordVersion || rec.Config.Name != "p-web-1" || rec.Config.Image != "nginx" ||
		rec.Config.Labels["com.docker.compose.service"] != "web" || len(rec.Config.Networks) != 1 ||
		rec.StopSignal != "SIGTERM" || rec.ID != ContainerID(strings.Repeat("ab", 32)) || rec.Created.Year() != 2026 {
		t.Errorf("record %+v", rec)
	}

	t.Run("without ports", func(t *testing.T) {
		rec, err := readRecord(writeRecordFile(t, v1Record(`null`)))
		if err != nil || rec.Config.Ports != nil || rec.portsErr != nil {
			t.Errorf("record %+v, %v", rec, err)
		}
	})
	// The berth that wrote it refused such a port when the container
	// started; the container can still be listed, inspected and removed.
	t.Run("a port that does not parse", func(t *testing.T) {
		rec, err := readRecord(writeRecordFile(t, v1Record(`[{"container_port":80,"protocol":"tcp"},{"host_port":"abc","container_port":81}]`)))
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Config.Ports) != 1 || !errdefs.IsInvalidArgument(rec.portsErr) ||
			!strings.HasPrefix(rec.portsErr.Error(), `ports[1]: host port "abc"`) {
			t.Errorf("ports %+v, error %v", rec.Config.Ports, rec.portsErr)
		}
	})
	t.Run("an unknown version", func(t *testing.T) {
		_, err := readRecord(writeRecordFile(t, strings.Replace(v1Record(`null`), `"version":1`, `"version":3`, 1)))
		if !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), "unknown version 3") {
			t.Errorf("readRecord = %v, want unknown version", err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		if _, err := readRecord(writeRecordFile(t, `{"version":1,`)); !errdefs.IsDataLoss(err) {
			t.Errorf("readRecord = %v, want data loss", err)
		}
	})
}
