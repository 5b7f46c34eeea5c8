package engine

import "testing"

func TestFreeIfName(t *testing.T) {
	tests := []struct {
		have []string
		want string
	}{
		{nil, "eth0"},
		{[]string{"eth0"}, "eth1"},
		{[]string{"eth0", "eth2"}, "eth1"},
		{[]string{"eth1", "eth0", "eth2"}, "eth3"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			var eps []endpointRecord
			for _, n := range tc.have {
				eps = append(eps, endpointRecord{IfName: n})
			}
			if got := freeIfName(eps); got != tc.want {
				t.Errorf("freeIfName(%v) = %s, want %s", tc.have, got, tc.want)
			}
		})
	}
}
