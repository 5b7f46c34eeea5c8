package netmgr

// BenchmarkFirewall times a network's firewall alone, apart from its
// bridge: the rules added when it is created (addFirewall) and removed when
// it goes (removeFirewall), for an internal network (berth's filter chain
// only) and for one that is not (its masquerade rules in the nat table
// too). It is the last berth network of its root, so its removal decides,
// as down's does, whether berth's chains go:
//
//	go test -run '^$' -bench Firewall -benchtime 10x ./netmgr/

import (
	"context"
	"testing"
	"time"
)

func BenchmarkFirewall(b *testing.B) {
	for _, internal := range []bool{true, false} {
		name := "default"
		if internal {
			name = "internal"
		}
		b.Run(name, func(b *testing.B) {
			bn := newBenchNet(b, "127.0.0.1:53")
			ctx := context.Background()
			n, err := bn.m.Create(ctx, NetworkConfig{Name: bn.name, Internal: internal})
			if err != nil {
				b.Fatal(err)
			}
			var add, remove time.Duration
			for range b.N {
				t0 := time.Now()
				err := bn.m.removeFirewall(ctx, n)
				remove += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				t0 = time.Now()
				err = bn.m.addFirewall(ctx, n)
				add += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(benchMs(remove)/float64(b.N), "ms/remove")
			b.ReportMetric(benchMs(add)/float64(b.N), "ms/add")
		})
	}
}
