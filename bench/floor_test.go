package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// floor is what starting containers costs with nothing but the runtime:
// `runc run -d` of bundles prepared beforehand (one read-only busybox
// rootfs, `sleep 3600`), as many at once as there are CPUs. No volume, no
// network beyond the runtime's own namespace, no init: what any Compose
// tool adds on top of runc is measured against it.
type floor struct {
	runc    string
	root    string   // runc --root
	bundles []string // bundle directories, one per container
	// seccomp are the same bundles with Docker's default seccomp profile,
	// the one berth (as Docker) gives every container: runc compiles it
	// for each container it starts.
	seccomp []string
	version string // for RESULTS.md
}

// setupFloor prepares max bundles under work and registers the teardown.
func setupFloor(b *testing.B, work, rootfs string, max int) (*floor, error) {
	ctx := b.Context()
	runc, err := exec.LookPath("runc")
	if err != nil {
		return nil, fmt.Errorf("runc not installed: %w", errUnavailable)
	}
	fs := filepath.Join(work, "rootfs")
	if err := os.MkdirAll(fs, 0o755); err != nil {
		return nil, err
	}
	b.Cleanup(func() {
		if err := removeTree(work); err != nil {
			b.Errorf("floor: remove %s: %v", work, err)
		}
	})
	if out, err := exec.CommandContext(ctx, "tar", "-xf", rootfs, "-C", fs).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("unpack rootfs: %v: %s", err, out)
	}
	f := &floor{runc: runc, root: filepath.Join(work, "state")}
	v, err := output(ctx, work, nil, runc, "--version")
	if err != nil {
		return nil, err
	}
	v, _, _ = strings.Cut(v, "\n")
	f.version = fmt.Sprintf("%s: `runc run -d` of prepared bundles, %d at once", v, runtime.NumCPU())
	spec := filepath.Join(work, "spec")
	if err := os.MkdirAll(spec, 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, runc, "spec", "--bundle", spec).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("runc spec: %v: %s", err, out)
	}
	config, err := floorConfig(filepath.Join(spec, "config.json"), fs, false)
	if err != nil {
		return nil, err
	}
	withSeccomp, err := floorConfig(filepath.Join(spec, "config.json"), fs, true)
	if err != nil {
		return nil, err
	}
	for i := range max {
		for _, set := range []struct {
			prefix  string
			config  []byte
			bundles *[]string
		}{{"b", config, &f.bundles}, {"s", withSeccomp, &f.seccomp}} {
			dir := filepath.Join(work, fmt.Sprintf("%s%d", set.prefix, i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), set.config, 0o644); err != nil {
				return nil, err
			}
			*set.bundles = append(*set.bundles, dir)
		}
	}
	b.Cleanup(func() {
		if err := f.removeAll(context.WithoutCancel(ctx)); err != nil {
			b.Errorf("floor: %v", err)
		}
	})
	return f, nil
}

// floorConfig is runc's default spec running `sleep 3600` on rootfs,
// without a terminal.
func floorConfig(path, rootfs string, withSeccomp bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("runc spec: %w", err)
	}
	if spec.Process == nil || spec.Root == nil || spec.Linux == nil {
		return nil, errors.New("runc spec: no process, root or linux")
	}
	spec.Process.Terminal = false
	spec.Process.Args = []string{"sleep", "3600"}
	spec.Root.Path = rootfs
	spec.Root.Readonly = true
	if withSeccomp {
		if spec.Linux.Seccomp, err = seccomp.GetDefaultProfile(&spec); err != nil {
			return nil, fmt.Errorf("seccomp profile: %w", err)
		}
	}
	return json.Marshal(spec)
}

func (f *floor) id(i int) string { return fmt.Sprintf("bbench%dfloor%d", os.Getpid(), i) }

// run starts n containers and returns how long that took; then, untimed,
// checks that n run and removes them. With seccomp, the containers have
// Docker's default seccomp profile.
func (f *floor) run(ctx context.Context, n int, seccomp bool) (time.Duration, error) {
	bundles := f.bundles
	if seccomp {
		bundles = f.seccomp
	}
	sem := make(chan struct{}, runtime.NumCPU())
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			// Output to a file (runCmd): the container inherits it, and
			// would hold a pipe open.
			_, _, errs[i] = runCmd(ctx, filepath.Dir(f.root), nil,
				f.runc, "--root", f.root, "run", "-d", "--bundle", bundles[i], f.id(i))
		})
	}
	wg.Wait()
	d := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, errors.Join(err, f.removeAll(ctx))
	}
	out, err := output(ctx, filepath.Dir(f.root), nil, f.runc, "--root", f.root, "list", "-q")
	if err != nil {
		return 0, err
	}
	running := 0
	for _, id := range nonEmptyLines(out) {
		if st, _ := output(ctx, filepath.Dir(f.root), nil, f.runc, "--root", f.root, "state", id); strings.Contains(st, `"running"`) {
			running++
		}
	}
	err = f.removeAll(ctx)
	if running != n {
		err = errors.Join(fmt.Errorf("%d of %d containers running after runc run -d", running, n), err)
	}
	return d, err
}

// removeAll kills and deletes every container under the floor's runc root.
func (f *floor) removeAll(ctx context.Context) error {
	if _, err := os.Stat(f.root); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	out, err := output(ctx, filepath.Dir(f.root), nil, f.runc, "--root", f.root, "list", "-q")
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range nonEmptyLines(out) {
		if _, o, err := runCmd(ctx, filepath.Dir(f.root), nil, f.runc, "--root", f.root, "delete", "--force", id); err != nil {
			errs = append(errs, fmt.Errorf("runc delete %s: %v: %s", id, err, o))
		}
	}
	return errors.Join(errs...)
}
