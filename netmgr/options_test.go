package netmgr

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// TestSetDriverOptions: the bridge driver options berth's bridges take,
// their bad values and the options they do not take, each error naming
// the option; DriverOptions shows them back as Docker's inspect does.
func TestSetDriverOptions(t *testing.T) {
	var cfg NetworkConfig
	err := cfg.SetDriverOptions(map[string]string{OptBridgeName: "berthx", OptMTU: "1400", OptEnableICC: "false", OptEnableIPMasquerade: "0"})
	if err != nil || cfg.BridgeName != "berthx" || cfg.MTU != 1400 || !cfg.NoICC || !cfg.NoMasquerade {
		t.Fatalf("cfg %+v, %v", cfg, err)
	}
	cfg = NetworkConfig{}
	if err := cfg.SetDriverOptions(map[string]string{OptEnableICC: "true", OptEnableIPMasquerade: "true"}); err != nil || cfg.NoICC || cfg.NoMasquerade {
		t.Errorf("enable_icc and enable_ip_masquerade true: %+v, %v", cfg, err)
	}
	for _, tc := range []struct {
		opts  map[string]string
		want  string
		class func(error) bool
	}{
		{map[string]string{OptMTU: "big"}, `com.docker.network.driver.mtu="big": not a number`, errdefs.IsInvalidArgument},
		{map[string]string{OptEnableICC: "nope"}, `com.docker.network.bridge.enable_icc="nope": not a boolean`, errdefs.IsInvalidArgument},
		{map[string]string{"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"}, "com.docker.network.bridge.host_binding_ipv4: not supported (com.docker.network.bridge.name, com.docker.network.driver.mtu, com.docker.network.bridge.enable_icc, com.docker.network.bridge.enable_ip_masquerade)", errdefs.IsNotImplemented},
	} {
		var cfg NetworkConfig
		if err := cfg.SetDriverOptions(tc.opts); err == nil || !strings.HasPrefix(err.Error(), tc.want) || !tc.class(err) {
			t.Errorf("%v: %v, want %q", tc.opts, err, tc.want)
		}
	}
	n := &Network{Bridge: "berthx", MTU: 1400, NoICC: true}
	got := n.DriverOptions()
	if len(got) != 3 || got[OptBridgeName] != "berthx" || got[OptMTU] != "1400" || got[OptEnableICC] != "false" {
		t.Errorf("DriverOptions = %v", got)
	}
}

// TestPostRulesMasquerade: connections out of a network are masqueraded
// when berth gives containers the outside, unless enable_ip_masquerade is
// false; the published ports' rules stay either way.
func TestPostRulesMasquerade(t *testing.T) {
	n := &Network{Name: "web_default", Bridge: "berth0123456789", Subnet: netip.MustParsePrefix("10.9.0.0/24")}
	masq := "-s 10.9.0.0/24 ! -o berth0123456789 -m comment --comment berth:web_default -j MASQUERADE"
	has := func(rules [][]string) bool {
		for _, r := range rules {
			if strings.Join(r, " ") == masq {
				return true
			}
		}
		return false
	}
	if r := postRules(n, ipv4, true); !has(r) || len(r) != len(natPostRules(n, ipv4))+1 {
		t.Errorf("outbound: %q, want the published ports' rules and %q", r, masq)
	}
	if r := postRules(n, ipv4, false); has(r) {
		t.Errorf("without outbound: %q", r)
	}
	n.NoMasquerade = true
	if r := postRules(n, ipv4, true); has(r) || len(r) != len(natPostRules(n, ipv4)) {
		t.Errorf("enable_ip_masquerade=false: %q", r)
	}
}
