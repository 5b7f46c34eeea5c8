package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
)

func newImageCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images"}
	cmd.AddCommand(newImageImportCommand(g), newImageLsCommand(g), newImageRmCommand(g), newImageInspectCommand(g), newImageBuildCommand(g),
		newImageHistoryCommand(g))
	cmd.AddCommand(newImageRegistryCommands(g)...)
	return cmd
}

type importOptions struct {
	changes []string
	message string
}

func newImageImportCommand(g *globalOptions) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageImport(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().StringArrayVarP(&o.changes, "change", "c", nil, "apply a Dockerfile instruction to the image")
	cmd.Flags().StringVarP(&o.message, "message", "m", "", "set commit message for imported image")
	return cmd
}

func runImageImport(ctx context.Context, g *globalOptions, o importOptions, args []string) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	if args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r = f
	}
	ref := ""
	if len(args) == 2 {
		ref = args[1]
	}
	img, err := a.images.Import(ctx, r, ref, image.ImportOptions{Changes: o.changes, Message: o.message})
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, img.ID)
	return nil
}

// imageDigestsTable is image ls --digests' table, as docker's.
const imageDigestsTable = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

type imageLsOptions struct {
	format  string
	quiet   bool
	noTrunc bool
	filters []string
	all     bool
	digests bool
	tree    bool
}

func newImageLsCommand(g *globalOptions) *cobra.Command {
	var o imageLsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImageLs(cmd.Context(), g, o, cmd.Flags().Changed("format"))
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "table", `format: "table", "table TEMPLATE", "json" or a Go template`)
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "only show image IDs")
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	cmd.Flags().StringArrayVarP(&o.filters, "filter", "f", nil, "filter output based on conditions provided (dangling, label, reference)")
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "show all images (berth keeps no intermediate images: the same list)")
	cmd.Flags().BoolVar(&o.digests, "digests", false, "show digests")
	cmd.Flags().BoolVar(&o.tree, "tree", false, "list multi-platform images as a tree (EXPERIMENTAL)")
	return cmd
}

func runImageLs(ctx context.Context, g *globalOptions, o imageLsOptions, formatSet bool) error {
	if o.tree {
		// Docker's words.
		for _, f := range []struct {
			flag string
			set  bool
		}{{"--quiet", o.quiet}, {"--no-trunc", o.noTrunc}, {"--show-digest", o.digests}, {"--format", formatSet}} {
			if f.set {
				return fmt.Errorf("%s is not yet supported with --tree: %w", f.flag, errdefs.ErrInvalidArgument)
			}
		}
	}
	filter, err := parseImageFilter(o.filters)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	imgs, err := a.images.List(ctx)
	if err != nil {
		return err
	}
	if o.tree {
		return imageTree(ctx, g, a, imgs, filter, o.all)
	}
	now := time.Now()
	var rows []imageRow
	for _, img := range imgs {
		if !filter.match(img) {
			continue
		}
		rows = append(rows, imageRows(dockerapi.ImageSummary(img, -1), !o.noTrunc, now)...)
	}
	if o.quiet {
		for _, r := range rows {
			fmt.Fprintln(g.stdout, r.ID())
		}
		return nil
	}
	table := imageTable
	if o.digests {
		table = imageDigestsTable
	}
	return writeList(g.stdout, listing{format: o.format, defaultTable: table, header: imageHeader}, rows)
}

type imageRmOptions struct{ force bool }

func newImageRmCommand(g *globalOptions) *cobra.Command {
	var o imageRmOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] IMAGE...",
		Aliases: []string{"remove"},
		Short:   "Remove one or more images",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageRm(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "untag an image a container uses (its content stays while the container does)")
	return cmd
}

// runImageRm removes images, refusing one a container uses: the container's
// root filesystem is stacked on the image's layers.
func runImageRm(ctx context.Context, g *globalOptions, o imageRmOptions, refs []string) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	ctrs, err := a.engine.List(ctx, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range refs {
		img, err := a.images.Resolve(ctx, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var users []*engine.Container
		for _, c := range ctrs {
			if c.ImageID == img.ID {
				users = append(users, c)
			}
		}
		// Another name may go (the image stays). The last name of an image a
		// container uses goes only with --force, and then the image stays,
		// nameless, under the container's root filesystem, as Docker does.
		if len(users) > 0 && len(img.RepoTags) <= 1 {
			c := users[0]
			if !o.force {
				errs = append(errs, fmt.Errorf("image %q is in use by container %s (%s); remove the container first or use --force: %w",
					ref, c.Config.Name, c.State.Status, errdefs.ErrConflict))
				continue
			}
			if err := a.images.Untag(ctx, ref); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintln(g.stdout, "Untagged: "+ref)
			continue
		}
		if err := a.images.Remove(ctx, ref); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.stdout, "Untagged: "+ref)
	}
	return errors.Join(errs...)
}

func newImageInspectCommand(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE...",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectEach(cmd.Context(), g, args, format, func(ctx context.Context, a *app, ref string) (any, error) {
				img, err := a.images.Resolve(ctx, ref)
				if err != nil {
					return nil, err
				}
				return dockerapi.ImageInspect(img), nil
			})
		},
	}
	addInspectFormat(cmd, &format)
	return cmd
}

func splitRepoTag(ref string) (string, string) {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "<none>"
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func humanSize(n int64) string {
	const unit = 1000.0
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB"} {
		if f < unit {
			return fmt.Sprintf("%.3g%s", f, u)
		}
		f /= unit
	}
	return fmt.Sprintf("%.3gTB", f)
}
