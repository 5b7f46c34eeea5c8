package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine/build"
)

// newBuilderCommand is `berth builder`: the build cache, as docker builder.
func newBuilderCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "builder", Short: "Manage builds", Args: cobra.NoArgs}
	b := newImageBuildCommand(g)
	b.Short = "Build an image from a Dockerfile (as image build)"
	cmd.AddCommand(b, newBuilderPruneCommand(g), newBuilderDuCommand(g))
	return cmd
}

// builderPruneOptions are `berth builder prune`'s flags.
type builderPruneOptions struct {
	all         bool
	force       bool
	keepStorage string
	filters     []string
}

func newBuilderPruneCommand(g *globalOptions) *cobra.Command {
	var o builderPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove build cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBuilderPrune(cmd.Context(), g, o, cmd.InOrStdin())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "remove all unused build cache, not just dangling ones")
	f.BoolVarP(&o.force, "force", "f", false, "do not prompt for confirmation")
	f.StringVar(&o.keepStorage, "keep-storage", "", "amount of disk space to keep for cache (e.g. 512MB)")
	f.StringArrayVar(&o.filters, "filter", nil, "provide filter values (until=DURATION, e.g. until=24h)")
	return cmd
}

// pruneOptions reads the flags into the builder's options: one error
// naming the flag for a value that does not parse.
func (o builderPruneOptions) pruneOptions() (build.PruneOptions, error) {
	opt := build.PruneOptions{All: o.all}
	if o.keepStorage != "" {
		n, err := units.RAMInBytes(o.keepStorage)
		if err != nil || n < 0 {
			return opt, fmt.Errorf("--keep-storage %q: want a size such as 512MB or 2GB: %w", o.keepStorage, errdefs.ErrInvalidArgument)
		}
		opt.KeepStorage = n
	}
	for _, f := range o.filters {
		k, v, _ := strings.Cut(f, "=")
		if k != "until" {
			return opt, fmt.Errorf("--filter %q: only until=DURATION is supported: %w", f, errdefs.ErrInvalidArgument)
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return opt, fmt.Errorf("--filter %q: want until=DURATION, such as until=24h: %w", f, errdefs.ErrInvalidArgument)
		}
		opt.Until = d
	}
	return opt, nil
}

func runBuilderPrune(ctx context.Context, g *globalOptions, o builderPruneOptions, stdin io.Reader) error {
	opt, err := o.pruneOptions()
	if err != nil {
		return err
	}
	if !o.force {
		what := "all dangling build cache"
		if o.all {
			what = "all build cache"
		}
		fmt.Fprintf(g.stderr, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
			return nil
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	rep, err := a.builder.Prune(ctx, opt)
	if rep != nil {
		if len(rep.Deleted) > 0 {
			fmt.Fprintln(g.stdout, "Deleted build cache objects:")
			for _, id := range rep.Deleted {
				fmt.Fprintln(g.stdout, id)
			}
			fmt.Fprintln(g.stdout)
		}
		fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", units.HumanSize(float64(rep.SpaceReclaimed)))
	}
	return err
}

// builderDuOptions are `berth builder du`'s flags.
type builderDuOptions struct {
	format string
}

func newBuilderDuCommand(g *globalOptions) *cobra.Command {
	var o builderDuOptions
	cmd := &cobra.Command{
		Use:   "du [OPTIONS]",
		Short: "Show the build cache's disk usage (as docker buildx du)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBuilderDu(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "", `format the output: "table", "json" or a Go template`)
	return cmd
}

func runBuilderDu(ctx context.Context, g *globalOptions, o builderDuOptions) error {
	a, err := openForFormat(g, o.format)
	if err != nil {
		return err
	}
	u, err := a.builder.DiskUsage(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]cacheRow, len(u.Records))
	for i, r := range u.Records {
		rows[i] = cacheRow{r: r, now: now}
	}
	if err := writeList(g.stdout, listing{format: o.format, defaultTable: cacheTable, header: cacheHeader}, rows); err != nil {
		return err
	}
	if o.format == "" || o.format == "table" {
		fmt.Fprintf(g.stdout, "Reclaimable:\t%s\nTotal:\t\t%s\n", units.HumanSize(float64(u.Reclaimable)), units.HumanSize(float64(u.Size)))
	}
	return nil
}

// cacheRow is a record of the build cache in `builder du` and `system df -v`.
type cacheRow struct {
	r   build.CacheRecord
	now time.Time
}

var cacheHeader = headerFields{
	"ID": "ID", "Reclaimable": "RECLAIMABLE", "Size": "SIZE", "LastAccessed": "LAST ACCESSED", "CacheType": "CACHE TYPE",
	"CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "InUse": "IN USE", "Shared": "SHARED", "InImage": "IN IMAGE",
}

const cacheTable = "table {{.ID}}\t{{.Reclaimable}}\t{{.Size}}\t{{.LastAccessed}}"

func (r cacheRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r cacheRow) ID() string { return shortID(r.r.ID) }

// CacheType is BuildKit's record type: a step that made a layer is
// "regular", one that changed no file "internal".
func (r cacheRow) CacheType() string {
	if r.r.DiffID == "" {
		return "internal"
	}
	return "regular"
}

func (r cacheRow) Reclaimable() string   { return fmt.Sprint(!r.r.InUse) }
func (r cacheRow) Size() string          { return units.HumanSize(float64(r.r.Size)) }
func (r cacheRow) LastAccessed() string  { return ago(r.now, r.r.LastUsed) }
func (r cacheRow) LastUsedSince() string { return r.LastAccessed() }
func (r cacheRow) CreatedSince() string  { return ago(r.now, r.r.Created) }
func (r cacheRow) InUse() string         { return fmt.Sprint(r.r.InUse) }
func (r cacheRow) Shared() string        { return fmt.Sprint(r.r.Shared) }
func (r cacheRow) InImage() string       { return fmt.Sprint(r.r.InImage) }

// openForFormat checks a --format before it opens the root: a bad
// template is an error before any work.
func openForFormat(g *globalOptions, format string) (*app, error) {
	if format != "" {
		if _, err := parseFormat(format); err != nil {
			return nil, err
		}
	}
	return g.open()
}
