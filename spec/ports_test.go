package spec

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/netmgr/portmap"
)

func TestParsePublish(t *testing.T) {
	type m = portmap.Mapping
	v6 := netip.MustParseAddr("::1")
	for _, tc := range []struct {
		name string
		in   string
		want []m
	}{
		{name: "container port", in: "8080", want: []m{{ContainerPort: 8080, Protocol: portmap.TCP}}},
		{name: "host port", in: "80:8080", want: []m{{HostPort: 80, ContainerPort: 8080, Protocol: portmap.TCP}}},
		{name: "host port 0 is ephemeral", in: "0:80", want: []m{{ContainerPort: 80, Protocol: portmap.TCP}}},
		{name: "host address, ephemeral port", in: "127.0.0.1::80", want: []m{{HostIP: localhost, ContainerPort: 80, Protocol: portmap.TCP}}},
		{name: "udp", in: "127.0.0.1:8080:80/udp", want: []m{{HostIP: localhost, HostPort: 8080, ContainerPort: 80, Protocol: portmap.UDP}}},
		{name: "protocol in upper case", in: "53/UDP", want: []m{{ContainerPort: 53, Protocol: portmap.UDP}}},
		{name: "IPv6 host address", in: "[::1]:8080:80", want: []m{{HostIP: v6, HostPort: 8080, ContainerPort: 80, Protocol: portmap.TCP}}},
		{name: "host range to choose from", in: "8000-8010:80", want: []m{{HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: portmap.TCP}}},
		{name: "ranges port for port", in: "8000-8001:80-81/udp", want: []m{
			{HostPort: 8000, ContainerPort: 80, Protocol: portmap.UDP}, {HostPort: 8001, ContainerPort: 81, Protocol: portmap.UDP}}},
		{name: "sorted by number, not as text", in: "98-100", want: []m{
			{ContainerPort: 98, Protocol: portmap.TCP}, {ContainerPort: 99, Protocol: portmap.TCP}, {ContainerPort: 100, Protocol: portmap.TCP}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePublish(tc.in)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParsePublish(%q) = %+v, %v\nwant %+v", tc.in, got, err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ in, msg string }{
		{"", "empty: want [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]"},
		{"  ", "empty: want"},
		{"80:80:80", "invalid IP address: 80"},
		{"1.2.3:80:80", "invalid IP address: 1.2.3"},
		{"abc", "invalid containerPort: abc"},
		{"70000", "invalid containerPort: 70000"},
		{"70000:80", "invalid hostPort: 70000"},
		{"8000-7000:80", "invalid hostPort: 8000-7000"},
		{"0", "container port 0: want 1-65535"},
		{"80/sctp", `protocol "sctp": want tcp or udp`},
		{"80/foo", "invalid proto: foo"},
		{"8000-8002:80-81", "invalid ranges specified for container and host Ports"},
		{"127.0.0.1:80", "invalid hostPort: 127.0.0.1"},
		{"80:", "no port specified"},
	} {
		t.Run("bad "+tc.in, func(t *testing.T) {
			got, err := ParsePublish(tc.in)
			if !errdefs.IsInvalidArgument(err) || !strings.HasPrefix(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParsePublish(%q) = %+v, %v; want one line InvalidArgument starting %q", tc.in, got, err, tc.msg)
			}
		})
	}
}

// TestLoadPorts: both syntaxes of a file's ports become the mappings
// netmgr publishes, and a port berth cannot publish is an error of Load
// naming the file, the service and the port.
func TestLoadPorts(t *testing.T) {
	const header = "services:\n  web:\n    image: web\n    ports:\n"
	t.Run("long syntax", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", header+
			"      - {target: 80, published: \"8000-8010\", host_ip: \"::\", protocol: UDP, mode: host}\n"+
			"      - {target: 81, published: 8081}\n"+
			"      - {target: 82, published: \"0\", host_ip: 0.0.0.0}\n")
		got := service(t, mustLoad(t, LoadOptions{WorkingDir: dir}), "web").Ports
		want := []Port{
			{Mapping: portmap.Mapping{HostIP: netip.IPv6Unspecified(), HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: portmap.UDP}, Mode: "host"},
			{Mapping: portmap.Mapping{HostPort: 8081, ContainerPort: 81, Protocol: portmap.TCP}, Mode: "ingress"},
			{Mapping: portmap.Mapping{HostIP: netip.IPv4Unspecified(), ContainerPort: 82, Protocol: portmap.TCP}, Mode: "ingress"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ports\n got %+v\nwant %+v", got, want)
		}
	})
	for _, tc := range []struct {
		name   string
		ports  string
		want   string
		prefix bool // compose-go's own error, which want begins
	}{
		{name: "published not a port", ports: "      - {target: 80, published: abc}\n",
			want: `compose.yaml: services.web.ports[0]: host port "abc": want 1-65535, or a range such as 8000-8010`},
		{name: "published too large", ports: "      - {target: 80, published: 70000}\n",
			want: `compose.yaml: services.web.ports[0]: host port "70000": want 1-65535, or a range such as 8000-8010`},
		{name: "published range backwards", ports: "      - \"8080:80\"\n      - {target: 80, published: \"8000-7000\"}\n",
			want: `compose.yaml: services.web.ports[1]: host port "8000-7000": want 1-65535, or a range such as 8000-8010`},
		{name: "host_ip", ports: "      - {target: 80, host_ip: 1.2.3}\n", prefix: true,
			want: `compose.yaml: services.web.ports`},
		{name: "container port 0", ports: "      - \"0\"\n", prefix: true,
			want: `compose.yaml: services.`},
		{name: "every bad port", ports: "      - {target: 80, published: \"1-2-3\"}\n      - {target: 81, published: x}\n",
			want: "compose.yaml: services.web.ports[0]: host port \"1-2-3\": want 1-65535, or a range such as 8000-8010\n" +
				`compose.yaml: services.web.ports[1]: host port "x": want 1-65535, or a range such as 8000-8010`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/compose.yaml", header+tc.ports)
			_, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
			var fe FieldError
			if !errdefs.IsInvalidArgument(err) || !errors.As(err, &fe) ||
				(err.Error() != tc.want && !(tc.prefix && strings.HasPrefix(err.Error(), tc.want))) {
				t.Errorf("Load = %v\nwant the FieldError %s", err, tc.want)
			}
		})
	}
	// sctp is valid Compose that berth does not run yet: Load keeps going
	// (berth config prints the project), CheckSupported refuses it.
	t.Run("sctp", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", header+"      - \"8080:80\"\n      - \"81/sctp\"\n      - {target: 82, protocol: sctp}\n")
		p := mustLoad(t, LoadOptions{WorkingDir: dir})
		if got := service(t, p, "web").Ports; len(got) != 1 || got[0].ContainerPort != 80 {
			t.Errorf("ports %+v, want the tcp one only", got)
		}
		err := p.CheckSupported()
		want := `compose.yaml: services.web.ports[1].protocol: "sctp" is not supported by berth yet (supported: "tcp", "udp")` + "\n" +
			`compose.yaml: services.web.ports[2].protocol: "sctp" is not supported by berth yet (supported: "tcp", "udp")`
		if !errdefs.IsNotImplemented(err) || err.Error() != want {
			t.Errorf("CheckSupported = %v\nwant %s", err, want)
		}
	})
	t.Run("the override that sets the port is named", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", header+"      - \"8080:80\"\n")
		writeFile(t, dir+"/compose.override.yaml", "services:\n  web:\n    ports: [{target: 81, published: nope}]\n")
		_, err := Load(t.Context(), LoadOptions{WorkingDir: dir})
		if err == nil || !strings.HasPrefix(err.Error(), "compose.override.yaml: services.web.ports[") {
			t.Errorf("Load = %v, want the error in compose.override.yaml", err)
		}
	})
}
