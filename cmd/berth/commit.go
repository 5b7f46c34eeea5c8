package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/engine/image"
)

type exportOptions struct {
	output string
	index  int
}

func newContainerExportCommand(g *globalOptions) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := g.container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return exportContainer(cmd.Context(), g, a, c, o.output)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

// newComposeExportCommand is docker compose export SERVICE.
func newComposeExportCommand(g *globalOptions) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] SERVICE",
		Short: "Export a service container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := oneServiceContainer(cmd.Context(), g, args[0], o.index)
			if err != nil {
				return err
			}
			return exportContainer(cmd.Context(), g, a, c, o.output)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write to a file, instead of STDOUT")
	cmd.Flags().IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas (default: the lowest)")
	return cmd
}

// oneServiceContainer is a service's container number index (0: the
// lowest-numbered), running or not.
func oneServiceContainer(ctx context.Context, g *globalOptions, service string, index int) (*app, *engine.Container, error) {
	if index < 0 {
		return nil, nil, fmt.Errorf("--index %d: must be 1 or more: %w", index, errdefs.ErrInvalidArgument)
	}
	a, ctrs, err := serviceContainers(ctx, g, service, false)
	if err != nil {
		return nil, nil, err
	}
	chosen, err := pickReplicas(service, ctrs, index, false)
	if err != nil {
		return nil, nil, err
	}
	return a, chosen[0], nil
}

// exportContainer writes the container's filesystem to output, or to
// stdout unless that is a terminal (as docker refuses).
func exportContainer(ctx context.Context, g *globalOptions, a *app, c *engine.Container, output string) (retErr error) {
	var w io.Writer = g.stdout
	if output == "" {
		if f, ok := g.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect: %w", errdefs.ErrInvalidArgument)
		}
	} else {
		// Written beside the target and renamed over it once complete.
		f, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp-")
		if err != nil {
			return fmt.Errorf("-o %s: %w", output, err)
		}
		defer func() {
			err := f.Close()
			if retErr == nil && err == nil {
				err = os.Rename(f.Name(), output)
			}
			if retErr = errors.Join(retErr, err); retErr != nil {
				_ = os.Remove(f.Name())
			}
		}()
		w = f
	}
	return a.engine.Export(ctx, c.ID, w)
}

type commitOptions struct {
	author  string
	changes []string
	message string
	pause   bool
	index   int
}

func (o *commitOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.author, "author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringArrayVarP(&o.changes, "change", "c", nil, "apply Dockerfile instruction to the created image")
	f.StringVarP(&o.message, "message", "m", "", "commit message")
	f.BoolVarP(&o.pause, "pause", "p", true, "pause container during commit")
}

func newContainerCommitCommand(g *globalOptions) *cobra.Command {
	var o commitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := g.container(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return commitContainer(cmd.Context(), g, a, c, o, args[1:])
		},
	}
	o.bind(cmd)
	return cmd
}

// newComposeCommitCommand is docker compose commit SERVICE.
func newComposeCommitCommand(g *globalOptions) *cobra.Command {
	var o commitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] SERVICE [REPOSITORY[:TAG]]",
		Short: "Create a new image from a service container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := oneServiceContainer(cmd.Context(), g, args[0], o.index)
			if err != nil {
				return err
			}
			return commitContainer(cmd.Context(), g, a, c, o, args[1:])
		},
	}
	o.bind(cmd)
	cmd.Flags().IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas (default: the lowest)")
	return cmd
}

func commitContainer(ctx context.Context, g *globalOptions, a *app, c *engine.Container, o commitOptions, ref []string) error {
	opt := build.CommitOptions{Changes: o.changes, Message: o.message, Author: o.author, Pause: o.pause}
	if len(ref) > 0 {
		if _, err := image.Normalize(ref[0]); err != nil {
			return fmt.Errorf("%q: %w", ref[0], err)
		}
		opt.Ref = ref[0]
	}
	img, err := a.builder.Commit(ctx, c.ID, opt)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, img.ID)
	return nil
}

type historyOptions struct {
	human   bool
	noTrunc bool
	quiet   bool
	format  string
	platfm  string
}

func newImageHistoryCommand(g *globalOptions) *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageHistory(cmd.Context(), g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.human, "human", "H", true, "print sizes and dates in human readable format")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "only show image IDs")
	f.StringVar(&o.format, "format", "table", `format: "table", "table TEMPLATE", "json" or a Go template`)
	f.StringVar(&o.platfm, "platform", "", "show history for the given platform (berth keeps one platform per image: it must be that one)")
	return cmd
}

func runImageHistory(ctx context.Context, g *globalOptions, o historyOptions, ref string) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	img, err := a.images.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	if o.platfm != "" && o.platfm != img.OS+"/"+img.Architecture {
		return fmt.Errorf("--platform %s: image %s is %s/%s only: %w", o.platfm, ref, img.OS, img.Architecture, errdefs.ErrNotFound)
	}
	hist, err := a.images.History(ctx, img)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]historyRow, len(hist))
	for i, h := range hist {
		rows[i] = historyRow{h: h, human: o.human, trunc: !o.noTrunc, now: now}
	}
	if o.quiet {
		for _, r := range rows {
			fmt.Fprintln(g.stdout, r.ID())
		}
		return nil
	}
	return writeList(g.stdout, listing{format: o.format, defaultTable: historyTable, header: historyHeader}, rows)
}

const historyTable = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

var historyHeader = headerFields{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT",
}

// historyRow is a line of image history, with docker's fields.
type historyRow struct {
	h     image.HistoryEntry
	human bool
	trunc bool
	now   time.Time
}

func (r historyRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r historyRow) ID() string {
	switch {
	case r.h.ID == "":
		return "<missing>"
	case r.trunc:
		return shortID(r.h.ID)
	}
	return r.h.ID
}

func (r historyRow) CreatedSince() string {
	if !r.human {
		return r.CreatedAt()
	}
	if r.h.Created.IsZero() {
		return "N/A"
	}
	return ago(r.now, r.h.Created)
}

func (r historyRow) CreatedAt() string {
	if r.h.Created.IsZero() {
		return ""
	}
	return r.h.Created.Format(time.RFC3339)
}

func (r historyRow) CreatedBy() string {
	s := strings.ReplaceAll(r.h.CreatedBy, "\t", " ")
	if r.trunc {
		return ellipsis(s, 45)
	}
	return s
}

func (r historyRow) Size() string {
	if r.human {
		return units.HumanSizeWithPrecision(float64(r.h.Size), 3)
	}
	return strconv.FormatInt(r.h.Size, 10)
}

func (r historyRow) Comment() string { return r.h.Comment }
