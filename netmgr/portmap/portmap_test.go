package portmap

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/containerd/errdefs"
)

func TestParseProtocol(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Protocol
		err  string
	}{
		{in: "tcp", want: TCP},
		{in: "UDP", want: UDP},
		{in: "sctp", err: `protocol "sctp": want tcp or udp: invalid argument`},
		{in: "", err: `protocol "": want tcp or udp: invalid argument`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseProtocol(tc.in)
			if tc.err != "" {
				if !errdefs.IsInvalidArgument(err) || err.Error() != tc.err {
					t.Fatalf("ParseProtocol(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseProtocol(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseHostPorts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        string
		port, end uint16
		bad       bool
	}{
		{name: "none", in: ""},
		{name: "zero is ephemeral", in: "0"},
		{name: "port", in: "8080", port: 8080},
		{name: "highest", in: "65535", port: 65535},
		{name: "range", in: "8000-8010", port: 8000, end: 8010},
		{name: "range of one", in: "8080-8080", port: 8080, end: 8080},
		{name: "leading zero", in: "08080", port: 8080},
		{name: "too large", in: "70000", bad: true},
		{name: "word", in: "abc", bad: true},
		{name: "signed", in: "+80", bad: true},
		{name: "backwards", in: "8000-7000", bad: true},
		{name: "range from zero", in: "0-10", bad: true},
		{name: "open range", in: "8000-", bad: true},
		{name: "two dashes", in: "1-2-3", bad: true},
		{name: "spaces", in: " 80", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, end, err := parseHostPorts(tc.in)
			if tc.bad {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("parseHostPorts(%q) = %d, %d, %v; want invalid argument", tc.in, port, end, err)
				}
				return
			}
			if err != nil || port != tc.port || end != tc.end {
				t.Fatalf("parseHostPorts(%q) = %d, %d, %v; want %d, %d", tc.in, port, end, err, tc.port, tc.end)
			}
			if tc.in != "0" && tc.in != "08080" {
				if got := (Mapping{HostPort: port, HostPortEnd: end}).HostPorts(); got != tc.in {
					t.Errorf("HostPorts() = %q, want %q back", got, tc.in)
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name              string
		hostIP, hostPorts string
		containerPort     int
		protocol          string
		want              Mapping
		err               string
	}{
		{name: "every part", hostIP: "127.0.0.1", hostPorts: "8000-8010", containerPort: 80, protocol: "udp",
			want: Mapping{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: UDP}},
		{name: "IPv6", hostIP: "::1", hostPorts: "8080", containerPort: 80, protocol: "tcp",
			want: Mapping{HostIP: netip.IPv6Loopback(), HostPort: 8080, ContainerPort: 80, Protocol: TCP}},
		{name: "container port only", containerPort: 65535, protocol: "TCP", want: Mapping{ContainerPort: 65535, Protocol: TCP}},
		{name: "container port 0", containerPort: 0, protocol: "tcp", err: `container port 0: want 1-65535`},
		{name: "container port too large", containerPort: 70000, protocol: "tcp", err: `container port 70000: want 1-65535`},
		{name: "no protocol", containerPort: 80, err: `protocol "": want tcp or udp`},
		{name: "sctp", containerPort: 80, protocol: "sctp", err: `protocol "sctp": want tcp or udp`},
		{name: "host port", hostPorts: "abc", containerPort: 80, protocol: "tcp", err: `host port "abc": want 1-65535, or a range such as 8000-8010`},
		{name: "host address", hostIP: "1.2.3", containerPort: 80, protocol: "tcp", err: `host address "1.2.3" is not an IP address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.hostIP, tc.hostPorts, tc.containerPort, tc.protocol)
			if tc.err != "" {
				if !errdefs.IsInvalidArgument(err) || err.Error() != tc.err+": invalid argument" {
					t.Fatalf("Parse = %+v, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestMappingString(t *testing.T) {
	for _, tc := range []struct {
		m    Mapping
		want string
	}{
		{Mapping{HostPort: 8080, ContainerPort: 80, Protocol: TCP}, "0.0.0.0:8080->80/tcp"},
		{Mapping{HostIP: netip.MustParseAddr("::1"), HostPort: 53, ContainerPort: 53, Protocol: UDP}, "[::1]:53->53/udp"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// TestMappingJSON: the shape netmgr's network records and the engine's
// container records hold.
func TestMappingJSON(t *testing.T) {
	m := Mapping{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: UDP}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"host_ip":"127.0.0.1","host_port":8000,"host_port_end":8010,"container_port":80,"protocol":"udp"}`
	if string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var back Mapping
	if err := json.Unmarshal(b, &back); err != nil || back != m {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, m)
	}
	if b, _ := json.Marshal(Mapping{ContainerPort: 80, Protocol: TCP}); string(b) != `{"host_port":0,"container_port":80,"protocol":"tcp"}` {
		t.Errorf("json of a bare mapping = %s", b)
	}
}
