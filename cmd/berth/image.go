package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
)

func newImageCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images"}
	cmd.AddCommand(newImageImportCommand(g), newImageLsCommand(g), newImageRmCommand(g), newImageInspectCommand(g), newImageBuildCommand(g))
	cmd.AddCommand(newImageRegistryCommands(g)...)
	return cmd
}

type importOptions struct{ changes []string }

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
	img, err := a.images.Import(ctx, r, ref, image.ImportOptions{Changes: o.changes})
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, img.ID)
	return nil
}

type imageLsOptions struct {
	format string
	quiet  bool
}

func newImageLsCommand(g *globalOptions) *cobra.Command {
	var o imageLsOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImageLs(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "table", "format: table or json")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "only show image IDs")
	return cmd
}

func runImageLs(ctx context.Context, g *globalOptions, o imageLsOptions) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	imgs, err := a.images.List(ctx)
	if err != nil {
		return err
	}
	type row struct {
		Repository, Tag, ID, CreatedAt, Size string
	}
	var rows []row
	for _, img := range imgs {
		names := img.RepoTags
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag := splitRepoTag(image.FamiliarName(n))
			rows = append(rows, row{repo, tag, shortID(img.ID), img.Created.Format(time.RFC3339), humanSize(img.Size)})
		}
	}
	switch {
	case o.quiet:
		for _, r := range rows {
			fmt.Fprintln(g.stdout, r.ID)
		}
	case o.format == "json":
		enc := json.NewEncoder(g.stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	default:
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedAt, r.Size)
		}
		return tw.Flush()
	}
	return nil
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
	return &cobra.Command{
		Use:   "inspect IMAGE...",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectEach(cmd.Context(), g, args, func(ctx context.Context, a *app, ref string) (*image.Image, error) {
				return a.images.Resolve(ctx, ref)
			})
		},
	}
}

// inspectEach finds every ref with get and prints them as one indented JSON
// array, as docker's inspect commands do; the first ref not found fails.
func inspectEach[T any](ctx context.Context, g *globalOptions, refs []string, get func(context.Context, *app, string) (T, error)) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	out := make([]T, 0, len(refs))
	for _, ref := range refs {
		v, err := get(ctx, a, ref)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return writeJSONIndent(g.stdout, out)
}

func writeJSONIndent(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
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
