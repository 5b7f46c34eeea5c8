package main

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
)

func TestContainerUpdateFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(engine.ResourceUpdate) bool
		wantErr string
	}{
		{name: "memory and cpus", args: []string{"-m", "64m", "--cpus", "0.5"}, check: func(u engine.ResourceUpdate) bool {
			return *u.MemLimit == 64<<20 && *u.CPUs == 0.5 && u.CPUShares == nil && u.Restart == nil
		}},
		{name: "unlimited swap", args: []string{"--memory-swap", "-1"}, check: func(u engine.ResourceUpdate) bool { return *u.MemSwapLimit == -1 }},
		{name: "pids limit 0 is unlimited", args: []string{"--pids-limit", "0"}, check: func(u engine.ResourceUpdate) bool { return *u.PidsLimit == -1 }},
		{name: "pids limit", args: []string{"--pids-limit", "50"}, check: func(u engine.ResourceUpdate) bool { return *u.PidsLimit == 50 }},
		{name: "shares by shorthand", args: []string{"-c", "512"}, check: func(u engine.ResourceUpdate) bool { return *u.CPUShares == 512 }},
		{name: "restart", args: []string{"--restart", "on-failure:3"}, check: func(u engine.ResourceUpdate) bool {
			return *u.Restart == engine.RestartPolicy{Name: "on-failure", MaxRetries: 3}
		}},
		{name: "cpuset", args: []string{"--cpuset-cpus", "0", "--cpuset-mems", "0"}, check: func(u engine.ResourceUpdate) bool {
			return *u.CpusetCpus == "0" && *u.CpusetMems == "0"
		}},
		{name: "no flag", args: nil, wantErr: "one or more flags"},
		{name: "bad memory", args: []string{"-m", "lots"}, wantErr: `--memory "lots": not a size`},
		{name: "zero cpus", args: []string{"--cpus", "0"}, wantErr: `--cpus "0": must be more than 0`},
		{name: "negative quota", args: []string{"--cpu-quota", "-5"}, wantErr: `--cpu-quota "-5": must not be negative`},
		{name: "bad restart", args: []string{"--restart", "sometimes"}, wantErr: `--restart "sometimes": want no, always`},
		{name: "retries on always", args: []string{"--restart", "always:2"}, wantErr: "valid only with on-failure"},
		{name: "blkio weight out of range", args: []string{"--blkio-weight", "5"}, wantErr: `--blkio-weight "5": want 10-1000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o containerUpdateOptions
			fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
			o.bind(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			u, err := o.update(fs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("error %v, want one with %q, InvalidArgument", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(u) {
				t.Errorf("update %+v", u)
			}
		})
	}
}
