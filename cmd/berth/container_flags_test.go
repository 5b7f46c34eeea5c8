package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/spf13/pflag"
)

// TestBadFlagValues: every new flag's bad value is one line naming the
// flag and the value, an invalid argument.
func TestBadFlagValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error: the flag and its value
	}{
		{"memory", []string{"-m", "lots"}, `--memory "lots"`},
		{"memory-swap", []string{"--memory-swap", "x"}, `--memory-swap "x"`},
		{"shm-size", []string{"--shm-size", "-1"}, `--shm-size "-1"`},
		{"cpus negative", []string{"--cpus", "-2"}, `--cpus "-2"`},
		{"ulimit", []string{"--ulimit", "nofile"}, `--ulimit "nofile"`},
		{"log-opt key", []string{"--log-opt", "tag=x"}, `--log-opt "tag=x"`},
		{"log-opt max-file", []string{"--log-opt", "max-file=0"}, `--log-opt "max-file=0"`},
		{"log-opt compress", []string{"--log-opt", "compress=yes"}, `--log-opt "compress=yes"`},
		{"log-opt compress one file", []string{"--log-opt", "max-size=1m", "--log-opt", "compress=true"}, `--log-opt "compress=true"`},
		{"log-driver", []string{"--log-driver", "syslog"}, `--log-driver "syslog"`},
		{"add-host", []string{"--add-host", "db"}, `--add-host "db"`},
		{"add-host ip", []string{"--add-host", "db:not-an-ip"}, `--add-host "db:not-an-ip"`},
		{"dns", []string{"--dns", "resolver"}, `--dns "resolver"`},
		{"sysctl", []string{"--sysctl", "net.ipv4.ip_forward"}, `--sysctl "net.ipv4.ip_forward"`},
		{"cap-add", []string{"--cap-add", "NET ADMIN"}, `--cap-add "NET ADMIN"`},
		{"mount type", []string{"--mount", "type=nfs,target=/x"}, `--mount "type=nfs,target=/x"`},
		{"mount target", []string{"--mount", "type=tmpfs,target=rel"}, `--mount "type=tmpfs,target=rel"`},
		{"mount field", []string{"--mount", "type=bind,src=/x,dst=/y,colour=red"}, `--mount "type=bind,src=/x,dst=/y,colour=red"`},
		{"tmpfs path", []string{"--tmpfs", "run"}, `--tmpfs "run"`},
		{"tmpfs size", []string{"--tmpfs", "/run:size=big"}, `--tmpfs "/run:size=big"`},
		{"restart", []string{"--restart", "sometimes"}, `--restart "sometimes"`},
		{"restart retries", []string{"--restart", "always:3"}, `--restart "always:3"`},
		{"pull", []string{"--pull", "often"}, `--pull "often"`},
		{"health-retries", []string{"--health-retries", "-1"}, `--health-retries "-1"`},
		{"stop-timeout", []string{"--stop-timeout", "-5"}, `--stop-timeout "-5"`},
		{"oom-score-adj", []string{"--oom-score-adj", "2000"}, `--oom-score-adj "2000"`},
		{"pid", []string{"--pid", "private"}, `--pid "private"`},
		{"attach", []string{"-a", "stdlog"}, `--attach "stdlog"`},
		{"ip on the default network", []string{"--ip", "10.0.0.2"}, "--ip"},
		{"ip family", []string{"--network", "front", "--ip", "fd00::2"}, `--ip "fd00::2"`},
		{"env-file missing", []string{"--env-file", "/nonexistent/env"}, `--env-file "/nonexistent/env"`},
		{"annotation", []string{"--annotation", "novalue"}, `--annotation "novalue"`},
		{"cgroupns", []string{"--cgroupns", "shared"}, `--cgroupns "shared"`},
		{"uts", []string{"--uts", "private"}, `--uts "private"`},
		{"userns", []string{"--userns", "remap"}, `--userns "remap"`},
		{"cpu-quota", []string{"--cpu-quota", "-1"}, `--cpu-quota "-1"`},
		{"cpus with a quota", []string{"--cpus", "1", "--cpu-quota", "20000"}, `--cpus "1"`},
		{"memory-swappiness", []string{"--memory-swappiness", "101"}, `--memory-swappiness "101"`},
		{"memory-swappiness 0", []string{"--memory-swappiness", "0"}, `--memory-swappiness "0"`},
		{"blkio-weight", []string{"--blkio-weight", "5"}, `--blkio-weight "5"`},
		{"blkio-weight-device", []string{"--blkio-weight-device", "/dev/sda"}, `--blkio-weight-device "/dev/sda"`},
		{"device-read-bps", []string{"--device-read-bps", "/dev/sda:fast"}, `--device-read-bps "/dev/sda:fast"`},
		{"device-write-iops", []string{"--device-write-iops", "sda:10"}, `--device-write-iops "sda:10"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o containerCreateOptions
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			o.bindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			_, err := o.config([]string{"busybox"})
			if err == nil {
				t.Fatalf("%v: no error", tc.args)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v: error %q, want one line with %s", tc.args, err, tc.want)
			}
			if !errdefs.IsInvalidArgument(err) && !strings.HasPrefix(tc.name, "env-file") {
				t.Errorf("%v: %v is not an invalid argument", tc.args, err)
			}
		})
	}
}

func TestContainerFilterBadInput(t *testing.T) {
	for _, f := range []string{"colour=red", "status=sleeping", "exited=zero", "name"} {
		t.Run(f, func(t *testing.T) {
			_, err := parseContainerFilter([]string{f})
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), `filter "`+f+`"`) {
				t.Errorf("--filter %s: %v", f, err)
			}
		})
	}
}

func TestRuntimeFlagsApply(t *testing.T) {
	var o containerCreateOptions
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	o.bindFlags(fs)
	args := []string{"--entrypoint", "", "-m", "64m", "--cpus", "1.5", "--cap-add", "net_admin", "-h", "box",
		"--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m", "--health-cmd", "true", "--health-interval", "2s",
		"--ulimit", "nofile=100:200", "--log-opt", "max-size=1m", "--log-opt", "max-file=3", "--log-opt", "compress=true", "--stop-timeout", "3", "--network", "front",
		"--network-alias", "db", "--ip", "10.1.0.9", "--sysctl", "net.core.somaxconn=1024", "--read-only"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	c, err := o.config([]string{"busybox"})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.Entrypoint == nil || len(c.Entrypoint) != 0:
		t.Errorf("entrypoint %q, want cleared", c.Entrypoint)
	case c.Resources.MemLimit != 64<<20 || c.Resources.CPUs != 1.5:
		t.Errorf("resources %+v", c.Resources)
	case len(c.CapAdd) != 1 || c.CapAdd[0] != "CAP_NET_ADMIN" || c.Hostname != "box" || !c.ReadOnly:
		t.Errorf("process %v %q %v", c.CapAdd, c.Hostname, c.ReadOnly)
	case len(c.Mounts) != 1 || c.Mounts[0].Type != "tmpfs" || c.Mounts[0].TmpfsSize != 1<<20:
		t.Errorf("mounts %+v", c.Mounts)
	case c.Healthcheck == nil || c.Healthcheck.Test[1] != "true" || c.Healthcheck.Interval.Seconds() != 2:
		t.Errorf("healthcheck %+v", c.Healthcheck)
	case c.Ulimits["nofile"].Hard != 200 || c.Logging.MaxSize != 1<<20 || !c.Logging.Compress || c.StopTimeout == nil || c.StopTimeout.Seconds() != 3:
		t.Errorf("limits %+v %+v %v", c.Ulimits, c.Logging, c.StopTimeout)
	case len(c.Networks) != 1 || c.Networks[0].Aliases[0] != "db" || c.Networks[0].Address.String() != "10.1.0.9":
		t.Errorf("networks %+v", c.Networks)
	case c.Sysctls["net.core.somaxconn"] != "1024":
		t.Errorf("sysctls %v", c.Sysctls)
	}
}

// TestHelpOfEveryVerb: every verb's --help works (no flag shorthand clashes
// with cobra's own -h).
func TestHelpOfEveryVerb(t *testing.T) {
	for path, cmd := range berthVerbs(newRootCommand(&globalOptions{stdout: io.Discard, stderr: io.Discard})) {
		if cmd.DisableFlagParsing {
			continue // a verb that answers "not supported", whatever follows
		}
		t.Run(path, func(t *testing.T) {
			g := &globalOptions{stdout: io.Discard, stderr: io.Discard}
			root := newRootCommand(g)
			args := strings.Split(path, "/")
			if path == "." {
				args = nil
			}
			root.SetArgs(append(args, "--help"))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCgroupFlags: the cgroup, namespace and runtime flags land in the
// container's configuration.
func TestCgroupFlags(t *testing.T) {
	var o containerCreateOptions
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	o.bindFlags(fs)
	err := fs.Parse([]string{"--annotation", "org.x=1", "--cgroup-parent", "ci/jobs", "--cgroupns", "private", "--uts", "host",
		"--cpu-period", "50000", "--cpu-quota", "25000", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--memory-swappiness", "10",
		"--oom-kill-disable", "--device-cgroup-rule", "c 10:200 rwm", "--device-read-bps", "/dev/sda:1mb", "--device-write-iops", "/dev/sda:120",
		"--blkio-weight", "300", "--runtime", "crun"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.config([]string{"busybox"})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Resources
	switch {
	case c.Annotations["org.x"] != "1" || c.CgroupParent != "ci/jobs" || c.CgroupnsMode != "private" || c.UTSMode != "host" || c.Runtime != "crun":
		t.Errorf("config %+v", c)
	case r.CPUPeriod != 50000 || r.CPUQuota != 25000 || r.CpusetCpus != "0" || r.CpusetMems != "0" || r.MemSwappiness != 10 || !r.OomKillDisable:
		t.Errorf("resources %+v", r)
	case len(c.DeviceCgroupRules) != 1 || r.Blkio == nil || r.Blkio.Weight != 300 || r.Blkio.DeviceReadBps[0].Rate != 1<<20 || r.Blkio.DeviceWriteIOps[0].Rate != 120:
		t.Errorf("devices %v, blkio %+v", c.DeviceCgroupRules, r.Blkio)
	}
}
