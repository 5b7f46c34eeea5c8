package netmgr

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func TestPickSubnet(t *testing.T) {
	tests := []struct {
		name  string
		pool  string
		taken []string
		want  string
	}{
		{name: "empty host takes the first /24", pool: "10.213.0.0/16", want: "10.213.0.0/24"},
		{name: "skips a berth network", pool: "10.213.0.0/16", taken: []string{"10.213.0.0/24"}, want: "10.213.1.0/24"},
		{name: "skips a wider host route", pool: "10.213.0.0/16", taken: []string{"10.213.0.0/23"}, want: "10.213.2.0/24"},
		{name: "skips a narrower host address", pool: "10.213.0.0/16", taken: []string{"10.213.0.77/32", "10.213.1.128/25"}, want: "10.213.2.0/24"},
		{name: "ignores prefixes outside the pool", pool: "10.213.0.0/16", taken: []string{"192.0.2.0/24", "10.0.0.0/16"}, want: "10.213.0.0/24"},
		{name: "fills a hole", pool: "10.213.0.0/16", taken: []string{"10.213.0.0/24", "10.213.2.0/24"}, want: "10.213.1.0/24"},
		{name: "pool smaller than /24 is one subnet", pool: "10.213.7.0/28", want: "10.213.7.0/28"},
		{name: "unmasked pool", pool: "10.213.9.9/16", taken: []string{"10.213.0.0/24"}, want: "10.213.1.0/24"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var taken []netip.Prefix
			for _, s := range tc.taken {
				taken = append(taken, pfx(s))
			}
			got, err := pickSubnet(pfx(tc.pool), taken)
			if err != nil {
				t.Fatal(err)
			}
			if got != pfx(tc.want) {
				t.Errorf("pickSubnet = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPickSubnetExhausted(t *testing.T) {
	tests := []struct {
		name  string
		pool  string
		taken []string
	}{
		{name: "every /24 taken", pool: "10.213.0.0/23", taken: []string{"10.213.0.0/24", "10.213.1.0/24"}},
		{name: "host route covers the pool", pool: "10.213.0.0/16", taken: []string{"10.0.0.0/8"}},
		{name: "small pool taken", pool: "10.213.7.0/28", taken: []string{"10.213.7.5/32"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var taken []netip.Prefix
			for _, s := range tc.taken {
				taken = append(taken, pfx(s))
			}
			_, err := pickSubnet(pfx(tc.pool), taken)
			if !errors.Is(err, ErrSubnetExhausted) || !errdefs.IsResourceExhausted(err) {
				t.Errorf("err = %v, want ErrSubnetExhausted (ResourceExhausted)", err)
			}
		})
	}
}

func TestPlanSubnet(t *testing.T) {
	nets := []*Network{{Name: "other_default", Subnet: pfx("10.213.0.0/24")}}
	host := []netip.Prefix{pfx("192.0.2.0/24"), pfx("10.213.1.0/24")}
	tests := []struct {
		name       string
		cfg        NetworkConfig
		wantSubnet string
		wantGW     string
		wantClass  func(error) bool
		wantInErr  []string
	}{
		{name: "from the pool", cfg: NetworkConfig{Name: "a"}, wantSubnet: "10.213.2.0/24", wantGW: "10.213.2.1"},
		{name: "static subnet", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/16")}, wantSubnet: "10.99.0.0/16", wantGW: "10.99.0.1"},
		{name: "static subnet unmasked", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.3.4/24")}, wantSubnet: "10.99.3.0/24", wantGW: "10.99.3.1"},
		{name: "static gateway", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/24"), Gateway: ip("10.99.0.254")}, wantSubnet: "10.99.0.0/24", wantGW: "10.99.0.254"},
		{
			name: "overlaps a berth network", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.213.0.128/25")},
			wantClass: errdefs.IsConflict, wantInErr: []string{`network "a"`, `network "other_default"`, "10.213.0.0/24", "10.213.0.128/25"},
		},
		{
			name: "overlaps a host route", cfg: NetworkConfig{Name: "a", Subnet: pfx("192.0.0.0/16")},
			wantClass: errdefs.IsConflict, wantInErr: []string{`network "a"`, "192.0.2.0/24", "192.0.0.0/16"},
		},
		{name: "IPv6 subnet", cfg: NetworkConfig{Name: "a", Subnet: pfx("fd00::/64")}, wantClass: errdefs.IsInvalidArgument},
		{name: "subnet too small", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/31")}, wantClass: errdefs.IsInvalidArgument},
		{name: "gateway outside subnet", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/24"), Gateway: ip("10.98.0.1")}, wantClass: errdefs.IsInvalidArgument},
		{name: "gateway is broadcast", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/24"), Gateway: ip("10.99.0.255")}, wantClass: errdefs.IsInvalidArgument},
		{name: "gateway without subnet", cfg: NetworkConfig{Name: "a", Gateway: ip("10.213.2.1")}, wantClass: errdefs.IsInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			subnet, gw, err := planSubnet(tc.cfg, DefaultPool, nets, host)
			if tc.wantClass != nil {
				if err == nil || !tc.wantClass(err) {
					t.Fatalf("err = %v, want class", err)
				}
				for _, s := range tc.wantInErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if subnet != pfx(tc.wantSubnet) || gw != ip(tc.wantGW) {
				t.Errorf("got %s gw %s, want %s gw %s", subnet, gw, tc.wantSubnet, tc.wantGW)
			}
		})
	}
}

// TestCheckConfig: what is wrong in a configuration itself is found
// without a machine; what depends on the machine (overlaps) is not.
func TestCheckConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  NetworkConfig
		want string // "" valid; else in the InvalidArgument error
	}{
		{name: "from the pool", cfg: NetworkConfig{Name: "a"}},
		{name: "given subnet, gateway and range", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/24"), Gateway: ip("10.99.0.254"), IPRange: pfx("10.99.0.128/25")}},
		{name: "range left to the pool's subnet", cfg: NetworkConfig{Name: "a", IPRange: pfx("192.0.2.0/28")}},
		{name: "overlap is the machine's business", cfg: NetworkConfig{Name: "a", Subnet: pfx("127.0.0.0/24")}},
		{name: "bad name", cfg: NetworkConfig{Name: "a/b"}, want: "invalid name"},
		{name: "subnet too small", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/31")}, want: "at most /30"},
		{name: "gateway outside", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/24"), Gateway: ip("10.98.0.1")}, want: "not a host address"},
		{name: "range outside", cfg: NetworkConfig{Name: "a", Subnet: pfx("10.99.0.0/24"), IPRange: pfx("10.98.0.0/25")}, want: "ip_range"},
		{name: "IPv6 without enable_ipv6", cfg: NetworkConfig{Name: "a", Subnet6: pfx("fd12::/64")}, want: "enable_ipv6"},
		{name: "IPv6 range outside", cfg: NetworkConfig{Name: "a", EnableIPv6: true, Subnet6: pfx("fd12::/64"), IPRange6: pfx("fd13::/80")}, want: "ip_range6"},
		{name: "mtu", cfg: NetworkConfig{Name: "a", MTU: 67}, want: "mtu 67"},
		{name: "bridge name", cfg: NetworkConfig{Name: "a", BridgeName: "br0"}, want: "bridge name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckConfig(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want InvalidArgument with %q", err, tc.want)
			}
		})
	}
}

func TestPickAddr(t *testing.T) {
	subnet, gw := pfx("10.213.0.0/24"), ip("10.213.0.1")
	used := map[netip.Addr]bool{ip("10.213.0.2"): true, ip("10.213.0.4"): true}
	tests := []struct {
		name      string
		subnet    netip.Prefix
		gw        netip.Addr
		want      netip.Addr
		wantAddr  string
		wantClass func(error) bool
	}{
		{name: "first free after gateway", subnet: subnet, gw: gw, wantAddr: "10.213.0.3"},
		{name: "gateway not first", subnet: subnet, gw: ip("10.213.0.254"), wantAddr: "10.213.0.1"},
		{name: "static free", subnet: subnet, gw: gw, want: ip("10.213.0.200"), wantAddr: "10.213.0.200"},
		{name: "static outside subnet", subnet: subnet, gw: gw, want: ip("10.213.1.5"), wantClass: errdefs.IsInvalidArgument},
		{name: "static network address", subnet: subnet, gw: gw, want: ip("10.213.0.0"), wantClass: errdefs.IsInvalidArgument},
		{name: "static broadcast", subnet: subnet, gw: gw, want: ip("10.213.0.255"), wantClass: errdefs.IsInvalidArgument},
		{name: "static IPv6", subnet: subnet, gw: gw, want: ip("fd00::5"), wantClass: errdefs.IsInvalidArgument},
		{name: "static gateway", subnet: subnet, gw: gw, want: gw, wantClass: errdefs.IsConflict},
		{name: "static taken", subnet: subnet, gw: gw, want: ip("10.213.0.4"), wantClass: errdefs.IsConflict},
		{name: "exhausted", subnet: pfx("10.213.0.0/30"), gw: gw, wantClass: errdefs.IsResourceExhausted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickAddr(tc.subnet, tc.gw, used, tc.want)
			if tc.wantClass != nil {
				if err == nil || !tc.wantClass(err) {
					t.Fatalf("err = %v, want class", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != ip(tc.wantAddr) {
				t.Errorf("pickAddr = %s, want %s", got, tc.wantAddr)
			}
		})
	}
	t.Run("exhausted is ErrAddressExhausted", func(t *testing.T) {
		_, err := pickAddr(pfx("10.213.0.0/30"), ip("10.213.0.1"), map[netip.Addr]bool{ip("10.213.0.2"): true}, netip.Addr{})
		if !errors.Is(err, ErrAddressExhausted) {
			t.Errorf("err = %v, want ErrAddressExhausted", err)
		}
	})
}

func TestNames(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	if !isID(id) {
		t.Fatalf("isID(%q) = false", id)
	}
	t.Run("bridge", func(t *testing.T) {
		if got := bridgeName(id); got != "berth0123456789" || len(got) > maxIfNameLen {
			t.Errorf("bridgeName = %q", got)
		}
	})
	t.Run("veth is stable and short", func(t *testing.T) {
		a := vethName("sb1", id)
		if a != vethName("sb1", id) || !strings.HasPrefix(a, "vb") || len(a) != 12 {
			t.Errorf("vethName = %q", a)
		}
		if a == vethName("sb2", id) || a == vethName("sb1", strings.Repeat("f", 64)) {
			t.Errorf("vethName collides across sandboxes or networks")
		}
		// The separator keeps ("ab","c…") and ("a","bc…") apart.
		if vethName("ab", "c") == vethName("a", "bc") {
			t.Errorf("vethName ambiguous")
		}
	})
	t.Run("new ids", func(t *testing.T) {
		a, err := newID()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := newID()
		if !isID(a) || a == b {
			t.Errorf("newID = %q, %q", a, b)
		}
	})
	t.Run("mac", func(t *testing.T) {
		if got := macFor(ip("10.213.0.2")).String(); got != "02:42:0a:d5:00:02" {
			t.Errorf("macFor = %s", got)
		}
	})
	t.Run("alias", func(t *testing.T) {
		if got := linkAlias("web_default", "c1"); got != "berth:web_default:c1" {
			t.Errorf("linkAlias = %q", got)
		}
		if got := linkAlias(strings.Repeat("n", 128), strings.Repeat("s", 128)); len(got) != maxAliasLen {
			t.Errorf("linkAlias not truncated: %d bytes", len(got))
		}
	})
}

func TestValidateName(t *testing.T) {
	for _, good := range []string{"a", "hello_default", "my-app.v2_net", "0abc", strings.Repeat("x", 128)} {
		if err := validateName("network", good); err != nil {
			t.Errorf("validateName(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", "_a", ".", "..", "a/b", "a b", "a:b", "-x", "é", strings.Repeat("x", 129)} {
		err := validateName("network", bad)
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("validateName(%q) = %v, want InvalidArgument", bad, err)
		}
	}
	if err := validateIfName("eth0"); err != nil {
		t.Errorf("validateIfName(eth0) = %v", err)
	}
	for _, bad := range []string{"", "eth/0", "a123456789abcdef", "et h0"} {
		if err := validateIfName(bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("validateIfName(%q) = %v, want InvalidArgument", bad, err)
		}
	}
}

func newUnitManager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(Options{Root: t.TempDir(), RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testNetwork(name string) *Network {
	id := strings.Repeat("ab", 32)
	return &Network{
		Version: recordVersion, ID: id, Name: name, Bridge: bridgeName(id),
		Subnet: pfx("10.213.0.0/24"), Gateway: ip("10.213.0.1"),
		Labels: map[string]string{"project": "hello"},
		Endpoints: map[string]Endpoint{"c1": {
			Sandbox: "c1", IfName: "eth0", HostVeth: vethName("c1", id), Addr: ip("10.213.0.2"), MAC: "02:42:0a:d5:00:02",
		}},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	m := newUnitManager(t)
	want := testNetwork("hello_default")
	if err := m.writeRecord(want); err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(t.Context(), "hello_default")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Subnet != want.Subnet || !reflect.DeepEqual(got.Endpoints["c1"], want.Endpoints["c1"]) {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	if _, err := m.Get(t.Context(), "nope"); !errdefs.IsNotFound(err) {
		t.Errorf("Get(nope) = %v, want NotFound", err)
	}
	if err := m.writeRecord(testNetwork("other")); err != nil {
		t.Fatal(err)
	}
	all, err := m.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if names := []string{all[0].Name, all[1].Name}; len(all) != 2 || !slices.Equal(names, []string{"hello_default", "other"}) {
		t.Errorf("List = %v", names)
	}
	sel, err := m.List(t.Context(), map[string]string{"project": "nope"})
	if err != nil || len(sel) != 0 {
		t.Errorf("List(project=nope) = %v, %v", sel, err)
	}
}

func TestRecordErrors(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		wantClass func(error) bool
	}{
		{name: "unknown version", content: `{"version": 2, "name": "n"}`, wantClass: errdefs.IsNotImplemented},
		{name: "no version", content: `{"name": "n"}`, wantClass: errdefs.IsDataLoss},
		{name: "not json", content: `{"version": 1, "na`, wantClass: errdefs.IsDataLoss},
		{name: "wrong type", content: `{"version": 1, "subnet": 7}`, wantClass: errdefs.IsDataLoss},
		{name: "other network's record", content: `{"version": 1, "name": "m"}`, wantClass: errdefs.IsDataLoss},
		{name: "empty file", content: ``, wantClass: errdefs.IsDataLoss},
		{name: "endpoint of another sandbox", content: `{"version": 1, "name": "n", "endpoints": {"a": {"sandbox": "b"}}}`, wantClass: errdefs.IsDataLoss},
		{name: "endpoint without a host veth", content: `{"version": 1, "name": "n", "id": "` + strings.Repeat("ab", 32) + `", "bridge": "berthabababab", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "endpoints": {"a": {"sandbox": "a", "addr": "10.1.0.2"}}}`, wantClass: errdefs.IsDataLoss},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newUnitManager(t)
			if err := m.writeRecord(testNetwork("good")); err != nil {
				t.Fatal(err)
			}
			p := m.recordPath("n")
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := m.Get(t.Context(), "n")
			if err == nil || !tc.wantClass(err) || !strings.Contains(err.Error(), p) {
				t.Errorf("Get = %v, want error of the class naming %s", err, p)
			}
			// A bad record is never skipped: it may hold a subnet in use.
			if _, err := m.List(t.Context(), nil); err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("List = %v, want error naming %s", err, p)
			}
			// Read in brief, it is the same error.
			if _, berr := readBriefIn(m.networksDir(), "n"); berr == nil || berr.Error() != err.Error() {
				t.Errorf("readBriefIn = %v, want %v", berr, err)
			}
			if _, err := m.readAllBrief(); err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("readAllBrief = %v, want error naming %s", err, p)
			}
		})
	}
}

func TestRecordDirIgnoresOtherFiles(t *testing.T) {
	m := newUnitManager(t)
	if err := m.writeRecord(testNetwork("good")); err != nil {
		t.Fatal(err)
	}
	dir := m.networksDir()
	for _, f := range []string{"lock", ".good.json.tmp123", "README"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	all, err := m.List(t.Context(), nil)
	if err != nil || len(all) != 1 {
		t.Errorf("List = %v, %v; want one network", all, err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{name: "relative root", opt: Options{Root: "state", RunDir: "/run/x"}},
		{name: "relative run dir", opt: Options{Root: "/x", RunDir: "run"}},
		{name: "IPv6 pool", opt: Options{Root: "/x", RunDir: "/y", Pool: pfx("fd00::/48")}},
		{name: "pool too small", opt: Options{Root: "/x", RunDir: "/y", Pool: pfx("10.0.0.0/31")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opt); !errdefs.IsInvalidArgument(err) {
				t.Errorf("New = %v, want InvalidArgument", err)
			}
		})
	}
	m, err := New(Options{Root: "/x", RunDir: "/y"})
	if err != nil || m.opt.Pool != DefaultPool || m.opt.FirewallLock != DefaultFirewallLock {
		t.Errorf("defaults not applied: %+v, %v", m, err)
	}
}

func TestNetworkRules(t *testing.T) {
	n := &Network{Name: "web_default", Bridge: "berth0123456789"}
	want := []string{
		"-i berth0123456789 -o berth0123456789 -m comment --comment berth:web_default -j ACCEPT",
		"-o berth0123456789 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment berth:web_default -j ACCEPT",
	}
	check := func(t *testing.T, got [][]string, want []string) {
		t.Helper()
		var s []string
		for _, r := range got {
			s = append(s, strings.Join(r, " "))
		}
		if !slices.Equal(s, want) {
			t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
		}
	}
	dnat := "-o berth0123456789 -m conntrack --ctstate DNAT -m comment --comment berth:web_default -j ACCEPT"
	check(t, networkRules(n, false), []string{want[0], dnat, want[1],
		"-i berth0123456789 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment berth:web_default -j ACCEPT",
		"-i berth0123456789 ! -o berth0123456789 -m conntrack ! --ctstate DNAT -m comment --comment berth:web_default -j DROP",
	})
	check(t, networkRules(n, true), []string{want[0], dnat, want[1],
		"-i berth0123456789 ! -o berth0123456789 -m comment --comment berth:web_default -j ACCEPT",
	})
	n.NoICC = true // enable_icc=false: containers of the network do not reach each other
	check(t, networkRules(n, true), []string{
		"-i berth0123456789 -o berth0123456789 -m comment --comment berth:web_default -j DROP", dnat, want[1],
		"-i berth0123456789 ! -o berth0123456789 -m comment --comment berth:web_default -j ACCEPT",
	})
	n.NoICC = false
	n.Internal = true
	check(t, networkRules(n, true), []string{
		want[0],
		"-i berth0123456789 ! -o berth0123456789 -m comment --comment berth:web_default -j DROP",
		"! -i berth0123456789 -o berth0123456789 -m comment --comment berth:web_default -j DROP",
		want[1],
	})
}

func TestSplitRuleAndOwnership(t *testing.T) {
	n := &Network{Name: "web_default", Bridge: "berth0123456789"}
	listed := `-o berth0123456789 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "berth:web_default" -j ACCEPT`
	args, err := splitRule(listed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(args, networkRules(n, false)[2]) {
		t.Errorf("splitRule = %q", args)
	}
	if !isRuleOf(args, n) {
		t.Errorf("isRuleOf = false for the network's own rule")
	}
	tests := []struct {
		name string
		rule string
	}{
		{name: "same name, other root's bridge", rule: `-i berthffffffffff -o berthffffffffff -m comment --comment "berth:web_default" -j ACCEPT`},
		{name: "other network", rule: `-i berth0123456789 -o berth0123456789 -m comment --comment "berth:web_default2" -j ACCEPT`},
		{name: "no comment", rule: `-i berth0123456789 -j ACCEPT`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, err := splitRule(tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			if isRuleOf(args, n) {
				t.Errorf("isRuleOf(%q) = true", tc.rule)
			}
		})
	}
	if got, _ := splitRule(`-m comment --comment "a \"b\" c" -j X`); !slices.Equal(got, []string{"-m", "comment", "--comment", `a "b" c`, "-j", "X"}) {
		t.Errorf("splitRule with escapes = %q", got)
	}
	if _, err := splitRule(`--comment "open`); err == nil {
		t.Errorf("splitRule accepted unbalanced quotes")
	}
}

func TestRuleMappingRoundTrip(t *testing.T) {
	ports := []PortMapping{
		{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
	}
	for i, r := range dnatRules(ipv4, "p_default", "s1", netip.MustParseAddr("10.1.0.2"), ports, false) {
		got, ok := ruleMapping(r, ipv4)
		want := ports[i]
		want.ContainerPort = 0
		want.HostIP = hostIPOn(want, ipv4)
		if !ok || got != want {
			t.Errorf("ruleMapping(%q) = %+v, %v; want %+v", r, got, ok, want)
		}
		if !overlaps(got, ports[i]) {
			t.Errorf("%+v does not overlap itself", got)
		}
	}
	if overlaps(ports[0], PortMapping{HostIP: netip.MustParseAddr("10.0.0.1"), HostPort: 8080, Protocol: "tcp"}) {
		t.Error("different host addresses overlap")
	}
	if !overlaps(ports[0], PortMapping{HostPort: 8080, Protocol: "tcp"}) {
		t.Error("an all-addresses binding does not overlap a 127.0.0.1 one")
	}
}

// TestInternalDropRulesGoFirst: an internal network's DROP rules are
// inserted at the top of berth's chain, ahead of any network's ACCEPT.
func TestInternalDropRulesGoFirst(t *testing.T) {
	internal := &Network{Name: "p_in", Bridge: "berthin", Internal: true}
	for _, r := range networkRules(internal, true) {
		args := addRuleArgs(internal, r)
		drop := r[len(r)-1] == "DROP"
		if drop != (args[0] == "-I" && args[2] == "1") || !slices.Equal(args[len(args)-len(r):], r) {
			t.Errorf("internal rule %q added as %q", r, args)
		}
	}
	open := &Network{Name: "p_out", Bridge: "berthout"}
	for _, r := range networkRules(open, false) {
		if args := addRuleArgs(open, r); args[0] != "-A" {
			t.Errorf("rule %q of a network that is not internal added as %q", r, args)
		}
	}
}

// TestAuxAddressesNeverHandedOut: aux_addresses are taken like endpoints'
// addresses, for allocation and for a static request.
func TestAuxAddressesNeverHandedOut(t *testing.T) {
	n := &Network{
		Subnet: pfx("10.214.0.0/24"), Gateway: ip("10.214.0.1"),
		AuxAddresses: []netip.Addr{ip("10.214.0.2"), ip("10.214.0.3")},
		Endpoints:    map[string]Endpoint{"a": {Addr: ip("10.214.0.4")}},
	}
	used := usedAddrs(n)
	got, err := pickAddrIn(n.Subnet, n.IPRange, n.Gateway, used, netip.Addr{})
	if err != nil || got != ip("10.214.0.5") {
		t.Errorf("allocated %v, %v; want 10.214.0.5 past the aux addresses and the endpoint", got, err)
	}
	if _, err := pickAddrIn(n.Subnet, n.IPRange, n.Gateway, used, ip("10.214.0.3")); !errdefs.IsConflict(err) {
		t.Errorf("static request of an aux address: %v, want a conflict", err)
	}
}
