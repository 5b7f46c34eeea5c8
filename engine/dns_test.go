package engine

import (
	"net/netip"
	"strings"
	"testing"
)

func TestResolvConfFor(t *testing.T) {
	host := "# generated\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch example.com\noptions edns0\n"
	gw := netip.MustParseAddr("10.213.0.1")
	gw2 := netip.MustParseAddr("10.213.1.1")
	tests := []struct {
		name string
		cfg  ContainerConfig
		eps  []endpointRecord
		want string
	}{
		{name: "no resolver, nothing set: the host's", want: "# generated\nnameserver 10.255.255.53\nsearch example.com\noptions edns0\n"},
		{name: "resolver: gateways only, ndots:0",
			eps:  []endpointRecord{{DNS: gw}, {DNS: gw2}, {DNS: gw}},
			want: "nameserver 10.213.0.1\nnameserver 10.213.1.1\nsearch example.com\noptions edns0 ndots:0\n"},
		{name: "resolver with dns_search and dns_opt",
			cfg:  ContainerConfig{DNS: []string{"192.0.2.1"}, DNSSearch: []string{"svc.local"}, DNSOptions: []string{"ndots:2", "timeout:1"}},
			eps:  []endpointRecord{{DNS: gw}},
			want: "nameserver 10.213.0.1\nsearch svc.local\noptions ndots:2 timeout:1\n"},
		{name: "no resolver, dns set",
			cfg:  ContainerConfig{DNS: []string{"192.0.2.1", "192.0.2.2"}},
			want: "nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch example.com\noptions edns0\n"},
		{name: "malformed entries left out",
			cfg:  ContainerConfig{DNS: []string{"192.0.2.1\nsearch evil", "192.0.2.2"}, DNSSearch: []string{"a b", "svc.local"}, DNSOptions: []string{"ndots:1\nnameserver 10.6.6.6"}},
			want: "nameserver 192.0.2.2\nsearch svc.local\n"},
		{name: "no resolver, dns_search only",
			cfg:  ContainerConfig{DNSSearch: []string{"."}},
			want: "nameserver 10.255.255.53\noptions edns0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(resolvConfFor([]byte(host), tc.cfg, tc.eps)); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestConnectOptionsNames(t *testing.T) {
	rec := &record{ID: "0123456789abcdef", Config: ContainerConfig{Name: "p-web-1", DNS: []string{"192.0.2.1", "bad"}}}
	got := connectOptions(rec, EndpointConfig{Network: "p_default", Aliases: []string{"web"}}, "eth0", []byte("search a.test b.test\n"))
	if want := []string{"p-web-1", "0123456789ab", "web"}; len(got.Names) != 3 || got.Names[0] != want[0] || got.Names[1] != want[1] || got.Names[2] != want[2] {
		t.Errorf("names %q, want %q", got.Names, want)
	}
	if len(got.Search) != 2 || got.Search[1] != "b.test" {
		t.Errorf("search %q", got.Search)
	}
	if len(got.Upstreams) != 1 || got.Upstreams[0] != "192.0.2.1:53" {
		t.Errorf("upstreams %q", got.Upstreams)
	}
}

func TestAttachOrderAndGateway(t *testing.T) {
	nets := []EndpointConfig{{Network: "a"}, {Network: "b", Priority: 10}, {Network: "c", GwPriority: 5}, {Network: "d", Priority: 10}}
	var got []string
	for _, n := range attachOrder(nets) {
		got = append(got, n.Network)
	}
	if want := "b d a c"; strings.Join(got, " ") != want {
		t.Errorf("attach order %q, want %q", got, want)
	}
	if g := gatewayNetwork(nets); g != "c" {
		t.Errorf("gateway network %q, want c", g)
	}
	if g := gatewayNetwork(nets[:2]); g != "b" {
		t.Errorf("gateway network %q, want b (first attached)", g)
	}
}
