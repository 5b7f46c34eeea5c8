package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/tarcopy"
	"github.com/berth-dev/berth/spec"
)

// cpOptions are the flags of container cp and compose cp.
type cpOptions struct {
	archive    bool // -a: keep the owners of the source
	followLink bool // -L: copy what a source link leads to
	quiet      bool
	index      int  // compose: the replica
	all        bool // compose: the containers of berth run too
}

func (o *cpOptions) bind(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&o.archive, "archive", "a", false, "archive mode (copy all uid/gid information)")
	cmd.Flags().BoolVarP(&o.followLink, "follow-link", "L", false, "always follow symbol link in SRC_PATH")
}

func newContainerCpCommand(g *globalOptions) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  berth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem. Use '-' as the source to read a tar " +
			"archive from stdin and extract it to a directory destination in a container; use '-' as the " +
			"destination to stream a tar archive of a container source to stdout. Stopped containers work too.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst, err := parseCpArgs(args[0], args[1])
			if err != nil {
				return err
			}
			ref := src.ctr + dst.ctr
			a, c, err := g.container(cmd.Context(), ref)
			if err != nil {
				return err
			}
			return copyFiles(cmd.Context(), g, a, []*engine.Container{c}, src, dst, o)
		},
	}
	o.bind(cmd)
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "suppress progress output during copy")
	return cmd
}

// newComposeCpCommand is `berth cp`: docker compose cp, SERVICE:PATH.
func newComposeCpCommand(g *globalOptions) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH",
		Short: "Copy files/folders between a service container and the local filesystem",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst, err := parseCpArgs(args[0], args[1])
			if err != nil {
				return err
			}
			if o.index < 0 {
				return fmt.Errorf("--index %d: must be 1 or more: %w", o.index, errdefs.ErrInvalidArgument)
			}
			service := src.ctr + dst.ctr
			a, ctrs, err := serviceContainers(cmd.Context(), g, service, o.all)
			if err != nil {
				return err
			}
			chosen, err := pickReplicas(service, ctrs, o.index, dst.ctr != "")
			if err != nil {
				return err
			}
			return copyFiles(cmd.Context(), g, a, chosen, src, dst, o)
		},
	}
	o.bind(cmd)
	cmd.Flags().IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas (default: the lowest)")
	cmd.Flags().BoolVar(&o.all, "all", false, "include containers created by the run command")
	return cmd
}

// serviceContainers lists a service's containers, running or not, and
// with oneOffs those `berth run` made too.
func serviceContainers(ctx context.Context, g *globalOptions, service string, oneOffs bool) (*app, []*engine.Container, error) {
	a, name, err := g.openProject(ctx)
	if err != nil {
		return nil, nil, err
	}
	labels := map[string]string{spec.LabelProject: name, spec.LabelService: service}
	if !oneOffs {
		labels[spec.LabelOneOff] = spec.LabelFalse
	}
	ctrs, err := a.engine.List(ctx, labels)
	return a, ctrs, err
}

// pickReplicas chooses the containers of a service a cp works on: number
// index; else every one when copying to them (as docker compose), or the
// lowest-numbered when copying from them.
func pickReplicas(service string, ctrs []*engine.Container, index int, every bool) ([]*engine.Container, error) {
	if every && index == 0 {
		if len(ctrs) == 0 {
			return nil, fmt.Errorf("service %q has no container: %w", service, errdefs.ErrNotFound)
		}
		return ctrs, nil
	}
	var found *engine.Container
	for _, c := range ctrs {
		n := containerNumber(c)
		if (index > 0 && n == index) || (index == 0 && (found == nil || n < containerNumber(found))) {
			found = c
		}
	}
	switch {
	case found == nil && index > 0:
		return nil, fmt.Errorf("service %q has no container with index %d: %w", service, index, errdefs.ErrNotFound)
	case found == nil:
		return nil, fmt.Errorf("service %q has no container: %w", service, errdefs.ErrNotFound)
	}
	return []*engine.Container{found}, nil
}

// cpArg is one side of a cp: a container's path (ctr set) or a local one.
type cpArg struct {
	ctr  string
	path string
}

// splitCpArg reads CONTAINER:PATH as docker does: an absolute path, or one
// whose part before the first colon holds a slash, is local.
func splitCpArg(arg string) cpArg {
	if filepath.IsAbs(arg) {
		return cpArg{path: arg}
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.Contains(ctr, "/") || ctr == "" {
		return cpArg{path: arg}
	}
	return cpArg{ctr: ctr, path: p}
}

func parseCpArgs(a, b string) (src, dst cpArg, err error) {
	src, dst = splitCpArg(a), splitCpArg(b)
	switch {
	case src.ctr != "" && dst.ctr != "":
		return src, dst, fmt.Errorf("cp %s %s: copying between containers is not supported: %w", a, b, errdefs.ErrInvalidArgument)
	case src.ctr == "" && dst.ctr == "":
		return src, dst, fmt.Errorf("cp %s %s: must specify at least one container source: %w", a, b, errdefs.ErrInvalidArgument)
	case src.ctr != "" && src.path == "", dst.ctr != "" && dst.path == "":
		return src, dst, fmt.Errorf("cp %s %s: the container's path is empty: %w", a, b, errdefs.ErrInvalidArgument)
	}
	return src, dst, nil
}

// containerPath makes a path given for a container absolute (relative to
// its root, as docker takes it) and tells whether it asks for the content
// of a directory ("DIR/.") or insists on a directory (a trailing slash).
func containerPath(p string) (clean string, contents, wantDir bool) {
	contents = p == "." || strings.HasSuffix(p, "/.")
	wantDir = contents || strings.HasSuffix(p, "/")
	return path.Clean("/" + p), contents, wantDir
}

func copyFiles(ctx context.Context, g *globalOptions, a *app, ctrs []*engine.Container, src, dst cpArg, o cpOptions) error {
	if src.ctr != "" {
		return copyFromContainer(ctx, g, a, ctrs[0], src.path, dst.path, o)
	}
	var errs []error
	for _, c := range ctrs {
		if err := copyToContainer(ctx, g, a, c, src.path, dst.path, o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// copyFromContainer is docker cp CONTAINER:SRC DST.
func copyFromContainer(ctx context.Context, g *globalOptions, a *app, c *engine.Container, srcPath, dstPath string, o cpOptions) error {
	src, contents, wantDir := containerPath(srcPath)
	st, err := a.engine.StatPath(ctx, c.ID, src)
	if err != nil {
		return err
	}
	if o.followLink && st.LinkTarget != "" {
		src = st.LinkTarget
		if st, err = a.engine.StatPath(ctx, c.ID, src); err != nil {
			return err
		}
	}
	if wantDir && !st.Mode.IsDir() {
		return fmt.Errorf("%s:%s: not a directory: %w", c.Config.Name, srcPath, errdefs.ErrInvalidArgument)
	}
	if dstPath == "-" {
		return a.engine.CopyFrom(ctx, c.ID, src, g.stdout)
	}
	top := path.Base(src)
	if src == "/" {
		top = "."
	}
	dir, rename, err := localDestination(dstPath, top, st.Mode.IsDir(), contents)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	pr, pw := io.Pipe()
	// The copy ends before the command does: a stopped container's root
	// filesystem, mounted for it, is unmounted by then.
	copied := make(chan error, 1)
	go func() {
		err := a.engine.CopyFrom(ctx, c.ID, src, pw)
		pw.CloseWithError(err)
		copied <- err
	}()
	counted := &counter{r: pr}
	err = tarcopy.Extract(root, counted, tarcopy.Options{KeepOwner: o.archive, UID: os.Getuid(), GID: os.Getgid(), Rename: rename})
	if err == nil {
		_, err = io.Copy(io.Discard, counted) // the archive's end
	}
	pr.CloseWithError(err)
	if cerr := <-copied; err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dstPath, err)
	}
	if !o.quiet {
		fmt.Fprintf(g.stderr, "Successfully copied %s to %s\n", units.HumanSize(float64(counted.n)), dstPath)
	}
	return nil
}

// localDestination decides where a tree whose top is named top lands for
// the local destination dst, as docker cp does: into dst when it is a
// directory, else as dst itself (its parent must exist).
func localDestination(dst, top string, srcIsDir, contents bool) (dir string, rename tarcopy.Rename, err error) {
	fi, err := os.Stat(dst)
	switch {
	case err == nil && fi.IsDir():
		if contents {
			return dst, tarcopy.Rename{From: top, To: "."}, nil
		}
		return dst, tarcopy.Rename{}, nil
	case err == nil && srcIsDir:
		return "", rename, fmt.Errorf("%s: cannot copy a directory to a file: %w", dst, errdefs.ErrInvalidArgument)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", rename, err
	case err != nil && strings.HasSuffix(dst, "/") && !srcIsDir:
		return "", rename, fmt.Errorf("%s: destination directory does not exist: %w", dst, errdefs.ErrNotFound)
	}
	parent := filepath.Dir(filepath.Clean(dst))
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return "", rename, fmt.Errorf("%s: its directory %s does not exist: %w", dst, parent, errdefs.ErrNotFound)
	}
	return parent, tarcopy.Rename{From: top, To: filepath.Base(filepath.Clean(dst))}, nil
}

// copyToContainer is docker cp SRC CONTAINER:DST.
func copyToContainer(ctx context.Context, g *globalOptions, a *app, c *engine.Container, srcPath, dstPath string, o cpOptions) error {
	dst, _, wantDir := containerPath(dstPath)
	opt := engine.CopyToOptions{CopyUIDGID: o.archive}
	if srcPath == "-" {
		return a.engine.CopyTo(ctx, c.ID, dst, os.Stdin, opt)
	}
	contents := srcPath == "." || strings.HasSuffix(srcPath, "/.")
	local := filepath.Clean(srcPath)
	stat := os.Lstat
	if o.followLink {
		stat = os.Stat
	}
	fi, err := stat(local)
	if err != nil {
		return fmt.Errorf("%s: %w", srcPath, err)
	}
	if o.followLink && fi.Mode()&fs.ModeSymlink == 0 {
		if local, err = filepath.EvalSymlinks(local); err != nil {
			return err
		}
	}
	top := filepath.Base(local)
	dir, rename, err := containerDestination(ctx, a, c, dst, wantDir, top, fi.IsDir(), contents)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(filepath.Dir(local))
	if err != nil {
		return err
	}
	defer root.Close()
	pr, pw := io.Pipe()
	counted := &counter{w: pw}
	packed := make(chan struct{})
	go func() {
		defer close(packed)
		tw := tar.NewWriter(counted)
		err := tarcopy.Write(tw, root, top, rename)
		pw.CloseWithError(errors.Join(err, tw.Close()))
	}()
	err = a.engine.CopyTo(ctx, c.ID, dir, pr, opt)
	pr.CloseWithError(err)
	<-packed // unblocked by the close, if the archive's end was not read
	if err != nil {
		return err
	}
	if !o.quiet {
		fmt.Fprintf(g.stderr, "Successfully copied %s to %s:%s\n", units.HumanSize(float64(counted.n)), c.Config.Name, dst)
	}
	return nil
}

// containerDestination is localDestination inside a container.
func containerDestination(ctx context.Context, a *app, c *engine.Container, dst string, wantDir bool, top string, srcIsDir, contents bool) (string, tarcopy.Rename, error) {
	st, err := a.engine.StatPath(ctx, c.ID, dst)
	if err == nil && st.LinkTarget != "" {
		// A link as destination: what it leads to, as docker does.
		dst = st.LinkTarget
		st, err = a.engine.StatPath(ctx, c.ID, dst)
	}
	switch {
	case err == nil && st.Mode.IsDir():
		if contents {
			return dst, tarcopy.Rename{From: top, To: "."}, nil
		}
		return dst, tarcopy.Rename{}, nil
	case err == nil && srcIsDir:
		return "", tarcopy.Rename{}, fmt.Errorf("%s:%s: cannot copy a directory to a file: %w", c.Config.Name, dst, errdefs.ErrInvalidArgument)
	case err != nil && !errdefs.IsNotFound(err):
		return "", tarcopy.Rename{}, err
	case err != nil && wantDir && !srcIsDir:
		return "", tarcopy.Rename{}, fmt.Errorf("%s:%s: destination directory does not exist: %w", c.Config.Name, dst, errdefs.ErrNotFound)
	}
	if dst == "/" {
		return "/", tarcopy.Rename{From: top, To: "."}, nil
	}
	return path.Dir(dst), tarcopy.Rename{From: top, To: path.Base(dst)}, nil
}

// counter counts the bytes read from r or written to w.
type counter struct {
	r io.Reader
	w io.Writer
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
