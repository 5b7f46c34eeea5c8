package build

import (
	"runtime"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
)

// TestFromPlatform: FROM --platform naming the host's platform, in any
// spelling or through $BUILDPLATFORM, plans; another is refused at its line.
func TestFromPlatform(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the spellings below are amd64's")
	}
	for _, tc := range []struct{ name, dockerfile, want string }{
		{name: "host", dockerfile: "FROM --platform=linux/amd64 busybox\nRUN true\n"},
		{name: "x86_64", dockerfile: "FROM --platform=linux/x86_64 busybox AS a\nFROM --platform=$BUILDPLATFORM a\n"},
		{name: "target arg", dockerfile: "FROM --platform=$TARGETPLATFORM busybox\n"},
		{name: "other arch", dockerfile: "FROM busybox AS a\nFROM --platform=linux/arm64 a\n",
			want: "Dockerfile:2: FROM --platform=linux/arm64: not this host's platform (linux/amd64): berth builds for the host only, with no emulation"},
		{name: "other through an arg", dockerfile: "ARG P=windows/amd64\nFROM --platform=$P busybox\n",
			want: "Dockerfile:2: FROM --platform=windows/amd64: not this host's platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.dockerfile), PlanOptions{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errdefs.IsInvalidArgument(err)):
				t.Fatalf("got %v, want %s…", err, tc.want)
			}
		})
	}
}

// TestBuildRefusesOptions: a platform not the host's, and RUN container
// settings the engine would refuse, fail the build before it reads
// anything (the context here does not exist).
func TestBuildRefusesOptions(t *testing.T) {
	b := &Builder{}
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{name: "platform", opt: Options{Platform: "linux/arm64"}, want: `platform "linux/arm64": not this host's platform`},
		{name: "security-opt", opt: Options{SecurityOpt: []string{"bogus=1"}}, want: `RUN containers: security_opt "bogus=1": not supported`},
		{name: "ulimit", opt: Options{Ulimits: map[string]engine.Ulimit{"nofile": {Soft: 20, Hard: 10}}}, want: "RUN containers: "},
		{name: "cgroup parent", opt: Options{CgroupParent: "../escape"}, want: "RUN containers: cgroup_parent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOARCH == "arm64" && tc.name == "platform" {
				tc.opt.Platform = "linux/amd64"
			}
			tc.opt.ContextDir = "/nonexistent/context"
			_, err := b.Build(t.Context(), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errdefs.IsInvalidArgument(err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q (invalid argument)", err, tc.want)
			}
		})
	}
}
