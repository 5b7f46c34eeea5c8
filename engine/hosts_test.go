package engine

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestRenderHosts(t *testing.T) {
	web := hostsMember{
		id: "aaa", name: "p-web-1", hostname: "aaa0123456789",
		extra: []HostEntry{{IP: "10.9.9.9", Names: []string{"db.example", "db"}}},
		eps: []endpointRecord{
			{Network: "p_front", Address: netip.MustParseAddr("10.213.0.2"), Aliases: []string{"web", "p-web-1"}},
			{Network: "p_back", Address: netip.MustParseAddr("10.213.1.2"), Aliases: []string{"web"}},
		},
	}
	peers := []hostsMember{
		web,
		{id: "bbb", name: "p-client-1", eps: []endpointRecord{{Network: "p_front", Address: netip.MustParseAddr("10.213.0.3"), Aliases: []string{"client"}}}},
		{id: "ccc", name: "other-x-1", eps: []endpointRecord{{Network: "other_default", Address: netip.MustParseAddr("10.213.5.2"), Aliases: []string{"x"}}}},
		{id: "ddd", name: "p-db-1", eps: []endpointRecord{
			{Network: "other_default", Address: netip.MustParseAddr("10.213.5.3")},
			{Network: "p_back", Address: netip.MustParseAddr("10.213.1.3"), Aliases: []string{"db", "database"}},
		}},
	}
	want := hostsHeader +
		"10.213.0.2\taaa0123456789 p-web-1 web\n" +
		"10.213.1.2\taaa0123456789 p-web-1 web\n" +
		"10.9.9.9\tdb.example db\n" +
		"10.213.0.3\tp-client-1 client\n" +
		"10.213.1.3\tp-db-1 db database\n"
	if got := string(renderHosts(web, peers)); got != want {
		t.Errorf("hosts:\n%s\nwant:\n%s", got, want)
	}

	lonely := hostsMember{id: "eee", name: "solo", hostname: "solo", extra: []HostEntry{{IP: "::1", Names: []string{"me"}}}}
	if got, want := string(renderHosts(lonely, peers)), hostsHeader+"::1\tme\n"; got != want {
		t.Errorf("hosts without networks:\n%s\nwant:\n%s", got, want)
	}
}

// TestRenderHostsDropsMalformed: a name or address that is not one field
// (a space, a newline, a "#") is left out rather than let it add names or
// lines. Create refuses them; a record written before it did may hold them.
func TestRenderHostsDropsMalformed(t *testing.T) {
	m := hostsMember{
		id: "aaa", name: "p-web-1", hostname: "a b",
		extra: []HostEntry{
			{IP: "10.9.9.9", Names: []string{"db", "x\n10.6.6.6 evil", "#c"}},
			{IP: "fe80::1%x\n10.6.6.6", Names: []string{"evil"}},
		},
		eps: []endpointRecord{{Network: "n", Address: netip.MustParseAddr("10.213.0.2"), Aliases: []string{"web\tweb2", "web"}}},
	}
	want := hostsHeader +
		"10.213.0.2\tp-web-1 web\n" +
		"10.9.9.9\tdb\n"
	if got := string(renderHosts(m, nil)); got != want {
		t.Errorf("hosts:\n%s\nwant:\n%s", got, want)
	}
}

func TestContainerResolvConf(t *testing.T) {
	tests := []struct{ name, host, want string }{
		{"keeps remote servers and options", "# generated\nnameserver 10.255.255.53\nsearch example.com\noptions ndots:2\n",
			"# generated\nnameserver 10.255.255.53\nsearch example.com\noptions ndots:2\n"},
		{"drops loopback", "nameserver 127.0.0.53\nnameserver ::1\nnameserver 1.1.1.1\nsearch lan", "nameserver 1.1.1.1\nsearch lan\n"},
		{"only loopback: Docker's defaults", "nameserver 127.0.0.1\n", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"no file", "", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(containerResolvConf([]byte(tc.host))); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWriteInPlaceKeepsInode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hosts")
	if err := writeInPlace(p, []byte("a long first content\n")); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeInPlace(p, []byte("short\n")); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the file was replaced, not rewritten: a bind mount would keep the old content")
	}
	if b, _ := os.ReadFile(p); string(b) != "short\n" {
		t.Errorf("content %q", b)
	}
}
