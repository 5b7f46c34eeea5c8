package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// setupBerth gives berth a state root of its own under work, imports the
// busybox image into it, and registers the teardown: every project down,
// the root unmounted and removed.
func setupBerth(b *testing.B, work, rootfs string) (*tool, error) {
	ctx := b.Context()
	if reason := os.Getenv(envBerthSkip); reason != "" {
		return nil, fmt.Errorf("%s: %w", reason, errUnavailable)
	}
	bin, err := berthBinary()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(work, "root")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	b.Cleanup(func() {
		if err := removeTree(work); err != nil {
			b.Errorf("berth: remove %s: %v", work, err)
		}
	})

	t := &tool{name: "berth", work: work, cli: []string{bin, "--root", root}}
	berth := func(args ...string) []string { return append(slices.Clone(t.cli), args...) }
	version, err := output(ctx, work, nil, berth("version")...)
	if err != nil {
		return nil, err
	}
	t.version, _, _ = strings.Cut(version, "\n")
	// Projects are taken down one by one after their benchmarks; this is
	// for what a failure there left: the root's containers and networks
	// hold processes, mounts and links outside it.
	b.Cleanup(func() {
		if err := berthPurgeRoot(context.WithoutCancel(ctx), work, berth); err != nil {
			b.Errorf("berth: clean up %s: %v", root, err)
		}
	})
	if _, _, err := t.run(ctx, berth("image", "import", rootfs, "busybox:latest")...); err != nil {
		return nil, fmt.Errorf("berth image import: %w", err)
	}

	t.argv = func(file, project string, args ...string) []string {
		return berth(append([]string{"-f", file, "-p", project}, args...)...)
	}
	t.containers = func(ctx context.Context, file, project string) ([]container, error) {
		out, err := output(ctx, work, nil, t.argv(file, project, "ps", "-a", "--format", "json")...)
		if err != nil {
			return nil, err
		}
		cs, err := jsonLines[container](out)
		if err != nil {
			return nil, fmt.Errorf("berth ps: %w", err)
		}
		return cs, nil
	}
	// The root is the bench's alone: whatever it still lists is left over.
	t.leftovers = func(ctx context.Context, file, project string) ([]string, error) {
		cs, err := t.containers(ctx, file, project)
		if err != nil {
			return nil, err
		}
		var left []string
		for _, c := range cs {
			left = append(left, "container "+c.Name)
		}
		for _, what := range []string{"volume", "network"} {
			out, err := output(ctx, work, nil, berth(what, "ls")...)
			if err != nil {
				return nil, err
			}
			lines := nonEmptyLines(out)
			for _, line := range lines[min(1, len(lines)):] { // the first line is the header
				left = append(left, what+" "+line)
			}
		}
		return left, nil
	}
	return t, nil
}

// berthPurgeRoot removes every container and network of the bench's berth
// root.
func berthPurgeRoot(ctx context.Context, work string, berth func(...string) []string) error {
	out, err := output(ctx, work, nil, berth("container", "ls", "-a", "-q")...)
	if err != nil {
		return err
	}
	if ids := nonEmptyLines(out); len(ids) > 0 {
		if _, _, err := runCmd(ctx, work, nil, berth(append([]string{"container", "rm", "-f"}, ids...)...)...); err != nil {
			return err
		}
	}
	out, err = output(ctx, work, nil, berth("network", "ls")...)
	if err != nil {
		return err
	}
	lines := nonEmptyLines(out)
	for _, line := range lines[min(1, len(lines)):] { // NETWORK ID  NAME  …
		if f := strings.Fields(line); len(f) > 1 {
			if _, _, err := runCmd(ctx, work, nil, berth("network", "rm", f[1])...); err != nil {
				return err
			}
		}
	}
	return nil
}
