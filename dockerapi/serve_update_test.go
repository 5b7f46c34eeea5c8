package dockerapi

import (
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/engine"
)

func TestResourceUpdate(t *testing.T) {
	zero := int64(0)
	u, err := resourceUpdate(container.UpdateConfig{
		Resources:     container.Resources{Memory: 64 << 20, NanoCPUs: 1500000000, PidsLimit: &zero, CpusetCpus: "0"},
		RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case u.MemLimit == nil || *u.MemLimit != 64<<20, u.CPUs == nil || *u.CPUs != 1.5:
		t.Errorf("memory and cpus: %+v", u)
	case u.PidsLimit == nil || *u.PidsLimit != -1:
		t.Errorf("pids limit 0: %v, want -1 (unlimited)", u.PidsLimit)
	case u.CpusetCpus == nil || *u.CpusetCpus != "0" || u.CpusetMems != nil || u.MemSwapLimit != nil || u.CPUShares != nil:
		t.Errorf("fields the body does not set changed: %+v", u)
	case u.Restart == nil || *u.Restart != (engine.RestartPolicy{Name: "on-failure", MaxRetries: 2}):
		t.Errorf("restart %+v", u.Restart)
	}
	for _, p := range []container.RestartPolicy{{Name: "sometimes"}, {Name: "always", MaximumRetryCount: 3}} {
		if _, err := resourceUpdate(container.UpdateConfig{RestartPolicy: p}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("restart policy %+v: %v, want InvalidArgument", p, err)
		}
	}
}
