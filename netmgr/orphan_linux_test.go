package netmgr

import (
	"strings"
	"testing"
)

// A rule naming a bridge that is gone is an orphan whichever way it names
// it: a network's masquerade rule says "! -o" its bridge, and those of a
// network gone without its rules stayed in BERTH-POSTROUTING for good.
func TestOrphanRule(t *testing.T) {
	e := newEnv(t)
	n := e.create(NetworkConfig{Name: e.name("n")})
	gone := bridgePrefix + "0000000000"
	for _, tc := range []struct {
		rule string
		want bool
	}{
		{"-s 10.213.0.0/24 ! -o " + gone + " -m comment --comment berth:x_default -j MASQUERADE", true},
		{"-s 10.213.0.0/24 ! -o " + n.Bridge + " -m comment --comment berth:x_default -j MASQUERADE", false},
		{"-o " + gone + " -m comment --comment berth:x -j DROP", true},
		{"! -i " + gone + " -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.213.0.2:80", true},
		{"-i " + n.Bridge + " -o " + n.Bridge + " -j ACCEPT", false},
		{"-i " + n.Bridge + " ! -o " + gone + " -j ACCEPT", true},
		{"-o eth0 -j MASQUERADE", false},
		{"-j RETURN", false},
	} {
		if got := orphanRule(strings.Fields(tc.rule)); got != tc.want {
			t.Errorf("orphanRule(%q) = %v, want %v", tc.rule, got, tc.want)
		}
	}
}
