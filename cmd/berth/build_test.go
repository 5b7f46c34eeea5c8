package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
)

// parseImageBuild parses image build's flags and applies those of RUN
// containers to build options.
func parseImageBuild(t *testing.T, args ...string) (build.Options, error) {
	t.Helper()
	var o imageBuildOptions
	f := pflag.NewFlagSet("build", pflag.ContinueOnError)
	o.bind(f)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
	var opt build.Options
	err := o.applyRunFlags(&opt)
	return opt, err
}

func TestImageBuildRunFlags(t *testing.T) {
	opt, err := parseImageBuild(t, "--add-host", "db:10.0.0.9", "--add-host", "v6=[::1]", "--shm-size", "128m",
		"--ulimit", "nofile=512:1024", "-m", "64m", "--memory-swap", "128m", "-c", "256", "--cpu-period", "100000",
		"--cpu-quota", "50000", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--cgroup-parent", "ci",
		"--security-opt", "no-new-privileges", "--platform", "linux/amd64", "--isolation", "default",
		"--rm=false", "--force-rm", "--compress", "--disable-content-trust=false", "--squash")
	if err != nil {
		t.Fatal(err)
	}
	want := build.Options{
		ExtraHosts: []engine.HostEntry{{IP: "10.0.0.9", Names: []string{"db"}}, {IP: "::1", Names: []string{"v6"}}},
		ShmSize:    128 << 20, Ulimits: map[string]engine.Ulimit{"nofile": {Soft: 512, Hard: 1024}},
		Resources: engine.Resources{MemLimit: 64 << 20, MemSwapLimit: 128 << 20, CPUShares: 256, CPUPeriod: 100000,
			CPUQuota: 50000, CpusetCpus: "0", CpusetMems: "0"},
		CgroupParent: "ci", SecurityOpt: []string{"no-new-privileges"}, Platform: "linux/amd64", Squash: true,
	}
	if got, w := describeRunOptions(opt), describeRunOptions(want); got != w {
		t.Errorf("options\n got %s\nwant %s", got, w)
	}
	if opt, err := parseImageBuild(t); err != nil || describeRunOptions(opt) != describeRunOptions(build.Options{}) {
		t.Errorf("no flags: %v, %s", err, describeRunOptions(opt))
	}
}

func describeRunOptions(o build.Options) string {
	var b strings.Builder
	for _, v := range []any{o.ExtraHosts, o.ShmSize, o.Ulimits, o.Resources, o.CgroupParent, o.SecurityOpt, o.Platform, o.Squash} {
		fmt.Fprintf(&b, "%+v|", v)
	}
	return b.String()
}

func TestImageBuildFlagRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		want  string
		class func(error) bool
	}{
		{"add-host", []string{"--add-host", "nohost"}, `--add-host "nohost": want HOST:IP`, errdefs.IsInvalidArgument},
		{"ulimit", []string{"--ulimit", "nofile"}, `--ulimit "nofile": want NAME=SOFT[:HARD]`, errdefs.IsInvalidArgument},
		{"memory", []string{"-m", "lots"}, `--memory "lots": not a size`, errdefs.IsInvalidArgument},
		{"memory-swap", []string{"--memory-swap", "x"}, `--memory-swap "x": not a size, or -1`, errdefs.IsInvalidArgument},
		{"shm-size", []string{"--shm-size", "0"}, `--shm-size "0": not a size`, errdefs.IsInvalidArgument},
		{"cpu-quota", []string{"--cpu-quota", "-5"}, `--cpu-quota "-5": must not be negative`, errdefs.IsInvalidArgument},
		{"isolation", []string{"--isolation", "hyperv"}, "--isolation=hyperv: want default", errdefs.IsInvalidArgument},
		{"cache-from", []string{"--cache-from", "type=registry,ref=x"}, "--cache-from type=registry,ref=x: berth's builder imports no external build cache", errdefs.IsNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseImageBuild(t, tc.args...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !tc.class(err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line starting %q", err, tc.want)
			}
		})
	}
}
