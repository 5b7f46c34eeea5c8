package build

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRunMountDeps: a RUN --mount from= a stage makes that stage a
// dependency of the one that mounts it (testdata/plan/runmount.golden has
// the mounts as they go into the steps' keys).
func TestRunMountDeps(t *testing.T) {
	data, err := os.ReadFile("testdata/plan/runmount.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for _, d := range p.Target.Deps {
		deps = append(deps, d.Name)
	}
	if !slices.Equal(deps, []string{"other", "deps"}) {
		t.Errorf("target's dependencies %q, want other and deps", deps)
	}
}

// TestRunMountErrors: a bad --mount is one line naming the Dockerfile's
// line.
func TestRunMountErrors(t *testing.T) {
	for _, tc := range []struct{ name, run, want string }{
		{name: "unknown type", run: "RUN --mount=type=bogus,target=/x ls", want: `Dockerfile:2: --mount: unsupported mount type "bogus"`},
		{name: "target is the root", run: "RUN --mount=type=tmpfs,target=/ ls", want: `Dockerfile:2: --mount: invalid mount target "/"`},
		{name: "target twice", run: "RUN --mount=type=tmpfs,target=/x --mount=type=cache,target=/x ls", want: "Dockerfile:2: --mount: target /x is mounted twice"},
		{name: "secret without id or target", run: "RUN --mount=type=secret ls", want: "Dockerfile:2: --mount: invalid secret mount. one of source, target required"},
		{name: "ssh with a source", run: "RUN --mount=type=ssh,source=/x ls", want: "Dockerfile:2: --mount=type=ssh: ssh does not support source"},
		{name: "device", run: "RUN --device=/dev/null ls", want: "Dockerfile:2: RUN --device: berth's builder gives RUN steps no host device"},
		{name: "bad option", run: "RUN --mount=type=tmpfs,target=/x,uid=1 ls", want: `Dockerfile:2: --mount: uid not allowed for "tmpfs" type mounts`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte("FROM busybox\n"+tc.run+"\n"), PlanOptions{})
			if err == nil {
				sc := &stageConfig{}
				_, err = p.apply(sc, p.Target.Commands[0])
				if err != nil {
					err = &Error{File: p.File, Line: commandLine(p.Target.Commands[0]), Msg: err.Error()}
				}
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want %s…", err, tc.want)
			}
		})
	}
}

// TestPackUpperDropsMountStubs: the empty directories and files the
// runtime made for a step's mount targets are not in its layer; what the
// step wrote beside them is.
func TestPackUpperDropsMountStubs(t *testing.T) {
	upper, lower := t.TempDir(), t.TempDir()
	for _, d := range []string{"run/secrets", "root/.cache", "src/node_modules"} {
		if err := os.MkdirAll(filepath.Join(upper, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, upper, map[string]string{"run/secrets/token": "", "src/out.txt": "built"})
	// /root is in the lower layer: the overlay copied it up as it was.
	if err := os.MkdirAll(filepath.Join(lower, "root"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(upper, "root"), 0o700); err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	stubs := []string{"run/secrets/token", "run/secrets", "run", "root/.cache", "root", "src/node_modules", "src"}
	if _, err := packUpper(upper, lowers{lower}, &buf, stubs...); err != nil {
		t.Fatal(err)
	}
	got := tarEntries(t, []byte(buf.String()))
	want := []string{"src/ 5", "src/out.txt 0"}
	if !slices.Equal(got, want) {
		t.Errorf("layer %q, want %q", got, want)
	}
}

// TestRelayAgent: a connection to the forwarded socket reaches the agent
// and its answer comes back; closing the listener ends the relay.
func TestRelayAgent(t *testing.T) {
	dir := t.TempDir()
	agent, err := net.Listen("unix", filepath.Join(dir, "agent"))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	go func() {
		c, err := agent.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err == nil {
			_, _ = c.Write(append([]byte("re:"), buf...))
		}
	}()
	l, err := net.Listen("unix", filepath.Join(dir, "fwd"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		relayAgent(t.Context(), l, filepath.Join(dir, "agent"))
		close(done)
	}()
	c, err := net.Dial("unix", filepath.Join(dir, "fwd"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "re:ping" {
		t.Errorf("through the relay: %q, %v", got, err)
	}
	c.Close()
	l.Close()
	<-done
}

// TestSecretNotPrinted: printing build options shows a secret's id, never
// its value.
func TestSecretNotPrinted(t *testing.T) {
	opt := Options{Secrets: []Secret{{ID: "tok", Value: []byte("s3cr3t-value")}, {ID: "f", File: "/run/f"}}}
	for _, format := range []string{"%v", "%+v", "%#v"} {
		if out := fmt.Sprintf(format, opt); strings.Contains(out, "s3cr3t-value") || !strings.Contains(out, "secret tok") {
			t.Errorf("%s: %s", format, out)
		}
	}
}
