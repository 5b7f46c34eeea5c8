package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

// buildOK builds as opt says and fails the test on an error.
func buildOK(t *testing.T, b *Builder, opt Options) *Result {
	t.Helper()
	res, err := b.Build(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// imageFile reads path from the image's layers, topmost first.
func imageFile(t *testing.T, b *Builder, ref, path string) (string, bool) {
	t.Helper()
	img, err := b.images.Resolve(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := b.images.LayerDirs(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := lowers(dirs).open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	return buf.String(), true
}

// absent, in wantFiles, is a path the image must not have.
const absent = "\x00absent"

// wantFiles checks the content of files in the image ref (absent: not
// there at all).
func wantFiles(t *testing.T, b *Builder, ref string, want map[string]string) {
	t.Helper()
	for p, w := range want {
		got, ok := imageFile(t, b, ref, p)
		switch {
		case w == absent && ok:
			t.Errorf("%s: /%s is in the image", ref, p)
		case w != absent && got != w:
			t.Errorf("%s: /%s is %q, want %q", ref, p, got, w)
		}
	}
}

// TestPrivCacheMountPersists: a cache mount keeps its content from one
// build to the next, with the owner and mode it was made with, and none of
// it is in a layer.
func TestPrivCacheMountPersists(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN --mount=type=cache,target=/var/cache/app,uid=7,mode=0750 echo run >> /var/cache/app/log && cp /var/cache/app/log /seen && stat -c '%u %a' /var/cache/app > /perm\n"})
	opt := Options{ContextDir: dir, Tags: []string{"t:1"}, Network: "none", NoCache: true}
	buildOK(t, b, opt)
	buildOK(t, b, opt)
	// The second build saw the first one's line; the directory has the
	// owner and mode the mount gave; neither it nor its parent is in a layer.
	wantFiles(t, b, "t:1", map[string]string{"seen": "run\nrun\n", "perm": "7 750\n", "var/cache/app": absent, "var/cache": absent})
}

// TestPrivSecretMount: a secret is readable in its RUN step, as a file and
// as a variable, and is nowhere in the state root afterwards (layers,
// cache entries, image config and history); a required secret that was
// not given is a clear error.
func TestPrivSecretMount(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	const value = "s3cr3t-7f1d2c"
	// The Dockerfile names the secrets by their digests: its text is in
	// the image's history.
	sum := func(v string) string { h := sha256.Sum256([]byte(v)); return hex.EncodeToString(h[:]) }
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN --mount=type=secret,id=tok,mode=0440,gid=3 test \"$(sha256sum /run/secrets/tok | cut -d' ' -f1)\" = " + sum(value) + " && stat -c '%a %g' /run/secrets/tok > /perm\n" +
		"RUN --mount=type=secret,id=env,env=TOKEN,required test \"$(printf %s \"$TOKEN\" | sha256sum | cut -d' ' -f1)\" = " + sum(value+"-env") + " && echo ok > /ok\n" +
		"RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent\n",
		"tok": value})
	opt := Options{ContextDir: dir, Tags: []string{"t:1"}, Network: "none",
		Secrets: []Secret{{ID: "tok", File: filepath.Join(dir, "tok")}, {ID: "env", Value: []byte(value + "-env")}}}
	buildOK(t, b, opt)
	wantFiles(t, b, "t:1", map[string]string{"perm": "440 3\n", "ok": "ok\n", "run/secrets": absent})
	err := filepath.WalkDir(b.images.Root(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(value)) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The required secret missing.
	opt.Secrets = opt.Secrets[:1]
	_, err = b.Build(t.Context(), opt)
	want := "Dockerfile:3: --mount=type=secret,id=env: the secret is required but was not given (--secret id=env,src=PATH)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestPrivBindMounts: a bind mount of the context shows its files less
// what .dockerignore leaves out, its writes (rw) are thrown away, a bind
// from a stage or an image shows its files (rw: writes thrown away too),
// and the step's key covers the bound files' content: editing one runs
// the step again.
func TestPrivBindMounts(t *testing.T) {
	t.Setenv("BERTH_NO_OUTBOUND", "1") // the image "nosuch" is looked for on no registry
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM busybox AS gen\nRUN echo from-stage > /made\n" +
			"FROM busybox\nWORKDIR /w\n" +
			"RUN --mount=type=bind,source=src,target=src cat src/a > /a-copy\n" +
			"RUN --mount=type=bind,target=/ctx,rw test ! -e /ctx/secret.key && touch /ctx/src/new && echo x > /ctx/src/a\n" +
			"RUN --mount=type=bind,from=gen,source=/made,target=/m cp /m /from-gen\n" +
			"RUN --mount=type=bind,from=gen,target=/g,rw touch /g/new && echo changed > /g/made\n" +
			"RUN --mount=type=bind,from=gen,target=/g test ! -e /g/new && cp /g/made /gen-after-rw\n" +
			"RUN --mount=type=bind,from=busybox:latest,source=/bin,target=/bb test -x /bb/busybox\n" +
			"RUN --mount=type=tmpfs,target=/scratch touch /scratch/x\n",
		"src/a":         "one",
		"secret.key":    "k",
		".dockerignore": "secret.key\n",
	})
	opt := Options{ContextDir: dir, Tags: []string{"t:1"}, Network: "none"}
	buildOK(t, b, opt)
	// The context's src/a, the gen stage's /made, and no mount point.
	wantFiles(t, b, "t:1", map[string]string{"a-copy": "one", "from-gen": "from-stage\n", "gen-after-rw": "from-stage\n",
		"ctx": absent, "m": absent, "g": absent, "bb": absent, "w/src": absent, "scratch": absent})
	if data, _ := os.ReadFile(filepath.Join(dir, "src/a")); string(data) != "one" {
		t.Errorf("a rw bind mount changed the context: src/a is %q", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "src/new")); err == nil {
		t.Error("a rw bind mount wrote into the context")
	}

	// Edit the bound file: the step that reads it runs again.
	writeFiles(t, dir, map[string]string{"src/a": "two"})
	var ran []string
	opt.Events = func(ev Event) {
		if ev.Status == StepStarted && strings.Contains(ev.Name, "RUN") {
			ran = append(ran, ev.Name)
		}
	}
	buildOK(t, b, opt)
	wantFiles(t, b, "t:1", map[string]string{"a-copy": "two"})
	if len(ran) == 0 || !strings.Contains(ran[0], "cat src/a") || slices.ContainsFunc(ran, func(s string) bool { return strings.Contains(s, "from-stage") }) {
		t.Errorf("after the edit ran %q: want the steps from the bind of src/a on, not the gen stage", ran)
	}

	// A bind from a stage or image that does not exist.
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=bind,from=nosuch,target=/x ls\n"})
	_, err := b.Build(t.Context(), opt)
	want := "Dockerfile:2: --mount=type=bind,from=nosuch: no stage of that name, and not an image: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("got %v, want %s…", err, want)
	}
}

// TestPrivParallelStages: two independent stages run at the same time —
// each RUN waits (with a deadline) for a file the other makes in a shared
// cache mount — and a failing stage cancels the others: the build returns
// its error while the other stage is still waiting, leaving nothing.
func TestPrivParallelStages(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	wait := func(f string) string {
		return "touch /sync/$ME; i=0; until [ -e /sync/" + f + " ]; do i=$((i+1)); [ $i -lt 600 ] || exit 9; sleep 0.1; done"
	}
	mount := "--mount=type=cache,id=sync-" + filepath.Base(dir) + ",target=/sync"
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox AS a\nENV ME=a\nRUN " + mount + " " + wait("b") + "\n" +
		"FROM busybox AS b\nENV ME=b\nRUN " + mount + " " + wait("a") + "\n" +
		"FROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n"})
	buildOK(t, b, Options{ContextDir: dir, Network: "none"})

	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox AS a\nRUN exit 4\n" +
		"FROM busybox AS b\nRUN " + mount + " until [ -e /sync/never ]; do sleep 0.1; done\n" +
		"FROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n"})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	_, err := b.Build(ctx, Options{ContextDir: dir, Network: "none"})
	var se *StepError
	if !errors.As(err, &se) || se.ExitCode != 4 || se.Step != "[a 2/2] RUN exit 4" {
		t.Fatalf("got %v, want stage a's exit code 4", err)
	}
}

// TestPrivRunEntitlements: RUN --network=host needs the network.host
// entitlement (which --network host grants) and then sees the host's
// interfaces; RUN --security=insecure needs security.insecure. Nothing
// here sends a packet.
func TestPrivRunEntitlements(t *testing.T) {
	b := newPrivBuilder(t)
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	host := ""
	for _, i := range ifs {
		if i.Name != "lo" {
			host = i.Name
			break
		}
	}
	if host == "" {
		t.Fatal("the host has no interface but lo")
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN --network=host grep -q ' " + host + ":' /proc/net/dev\n"})
	_, err = b.Build(t.Context(), Options{ContextDir: dir, Network: "none"})
	if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: RUN --network=host needs the network.host entitlement: build with --network host or --allow network.host") {
		t.Errorf("without the entitlement: got %v", err)
	}
	buildOK(t, b, Options{ContextDir: dir, Allow: []string{AllowNetworkHost}})
	// --network host grants it, and every RUN is on the host's network.
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN --network=host grep -q ' " + host + ":' /proc/net/dev\nRUN grep -q ' " + host + ":' /proc/net/dev\n"})
	buildOK(t, b, Options{ContextDir: dir, Network: "host"})

	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN --security=insecure mkdir /m && mount -t tmpfs none /m && umount /m\n"})
	if _, err := b.Build(t.Context(), Options{ContextDir: dir, Network: "none"}); err == nil || !strings.Contains(err.Error(), "needs the security.insecure entitlement") {
		t.Errorf("without the entitlement: got %v", err)
	}
	buildOK(t, b, Options{ContextDir: dir, Network: "none", Allow: []string{AllowSecurityInsecure}})
}

// TestPrivSSHMount: an ssh mount is a socket at SSH_AUTH_SOCK with the
// mount's mode; a required agent that was not given is an error.
func TestPrivSSHMount(t *testing.T) {
	b := newPrivBuilder(t)
	agent := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=ssh,mode=0660,required test -S \"$SSH_AUTH_SOCK\" && stat -c '%a' $SSH_AUTH_SOCK > /mode && echo $SSH_AUTH_SOCK > /path\n"})
	opt := Options{ContextDir: dir, Tags: []string{"t:1"}, Network: "none", SSH: map[string]string{"default": agent}}
	buildOK(t, b, opt)
	wantFiles(t, b, "t:1", map[string]string{"mode": "660\n", "path": "/run/buildkit/ssh_agent.0\n"})
	opt.SSH, opt.NoCache = nil, true
	if _, err := b.Build(t.Context(), opt); err == nil || !strings.Contains(err.Error(), "the agent is required but was not given") {
		t.Errorf("without the agent: got %v", err)
	}
}

// TestPrivCacheMountSharing: shared mounts of one id share its directory,
// a private one gets a directory nobody holds, a locked one waits until
// the other users are done.
func TestPrivCacheMountSharing(t *testing.T) {
	testutil.RequirePrivileged(t)
	c := &cache{dir: t.TempDir()}
	r := &run{b: &Builder{cache: c}}
	take := func(ctx context.Context, sharing string) (string, *stepMounts, error) {
		sm := &stepMounts{}
		dir, err := r.cacheMount(ctx, sm, runMount{Type: "cache", ID: "x", Target: "/x", Sharing: sharing}, nil)
		return dir, sm, err
	}
	shared1, sm1, err := take(t.Context(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	shared2, sm2, err := take(t.Context(), "shared")
	if err != nil || shared2 != shared1 {
		t.Fatalf("a second shared mount: %s, %v; want %s", shared2, err, shared1)
	}
	private, sm3, err := take(t.Context(), "private")
	if err != nil || private == shared1 {
		t.Fatalf("a private mount beside shared ones: %s, %v; want another directory", private, err)
	}
	// locked waits for the shared users: with them still there it gives
	// up when its context ends.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := take(ctx, "locked"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a locked mount while shared ones are held: %v, want it to wait", err)
	}
	for _, sm := range []*stepMounts{sm1, sm2, sm3} {
		if err := sm.release(); err != nil {
			t.Fatal(err)
		}
	}
	locked, sm4, err := take(t.Context(), "locked")
	if err != nil || locked != shared1 {
		t.Fatalf("a locked mount once free: %s, %v; want %s", locked, err, shared1)
	}
	if err := sm4.release(); err != nil {
		t.Fatal(err)
	}
}

// TestPrivSweepScratch: a scratch directory whose build was killed (its
// owner gone), with a mount below it, is unmounted and removed by the next
// build's sweep; one a running build holds is left alone.
func TestPrivSweepScratch(t *testing.T) {
	testutil.RequirePrivileged(t)
	c := &cache{dir: t.TempDir()}
	b := &Builder{cache: c, log: slog.New(slog.DiscardHandler)}
	r := &run{b: b}
	live := &stepMounts{}
	held, err := r.secretsTmpfs(t.Context(), live)
	if err != nil {
		t.Fatal(err)
	}
	// PID 1 started at clock tick 0 never matches a live process.
	dead := filepath.Join(c.dir, ".tmp-1.0-"+filepath.Base(c.tempName())[len(".tmp-"+self()+"-"):])
	if err := os.MkdirAll(filepath.Join(dead, "a", "mnt"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{filepath.Join(dead, "a"), filepath.Join(dead, "a", "mnt")} {
		if err := unix.Mount("tmpfs", m, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(m, "mnt"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.sweep(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed build's directory is still there: %v", err)
	}
	if ms, _ := testutil.MountsUnder(dead); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
	if _, err := os.Stat(held); err != nil {
		t.Errorf("the running build's directory was swept: %v", err)
	}
	if err := live.release(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(c.dir, ".tmp-*")); len(left) > 0 {
		t.Errorf("left after release: %v", left)
	}
}

// TestPrivCacheMountFrom: a cache mount with from= starts as a copy of
// that stage's directory and then lives on as any cache does; the stage's
// own files are not changed by it.
func TestPrivCacheMountFrom(t *testing.T) {
	b := newPrivBuilder(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox AS deps\nRUN mkdir /deps && echo seed > /deps/x\n" +
		"FROM busybox\nCOPY --from=deps /deps/x /deps-x\n" +
		"RUN --mount=type=cache,from=deps,source=/deps,target=/c cat /c/x > /seen && ls /c > /listed && touch /c/y\n"})
	opt := Options{ContextDir: dir, Tags: []string{"t:1"}, Network: "none"}
	buildOK(t, b, opt)
	wantFiles(t, b, "t:1", map[string]string{"seen": "seed\n", "listed": "x\n", "deps-x": "seed\n", "c": absent})
	opt.NoCache = true
	buildOK(t, b, opt)
	wantFiles(t, b, "t:1", map[string]string{"seen": "seed\n", "listed": "x\ny\n", "deps-x": "seed\n"})
}
