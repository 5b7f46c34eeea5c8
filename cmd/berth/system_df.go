package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/diskusage"
)

// systemDfOptions are `berth system df`'s flags.
type systemDfOptions struct {
	verbose bool
	format  string
}

func newSystemDfCommand(g *globalOptions) *cobra.Command {
	var o systemDfOptions
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show disk usage: images, containers, local volumes and build cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSystemDf(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "show detailed information on space usage")
	cmd.Flags().StringVar(&o.format, "format", "", `format the output: "table", "json" or a Go template`)
	return cmd
}

// dfRow is a line of `system df`: one kind of object.
type dfRow struct {
	kind              string
	total, active     int
	size, reclaimable int64
	noPercent         bool // the build cache's reclaimable shows no share, as docker's
}

var dfHeader = headerFields{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}

const dfTable = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"

func (r dfRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }
func (r dfRow) Type() string                 { return r.kind }
func (r dfRow) TotalCount() string           { return fmt.Sprint(r.total) }
func (r dfRow) Active() string               { return fmt.Sprint(r.active) }
func (r dfRow) Size() string                 { return units.HumanSize(float64(r.size)) }

func (r dfRow) Reclaimable() string {
	s := units.HumanSize(float64(r.reclaimable))
	if r.noPercent {
		return s
	}
	pct := 0
	if r.size > 0 {
		pct = int(r.reclaimable * 100 / r.size)
	}
	return fmt.Sprintf("%s (%d%%)", s, pct)
}

// dfImage, dfContainer and dfVolume are what -v lists.
type dfImage struct {
	name, id     string
	created      time.Time
	size, unique int64
	containers   int
}

type dfContainer struct {
	id, image, name, status string
	volumes                 int
	size                    int64
	created                 time.Time
}

type dfVolume struct {
	name  string
	links int
	size  int64
}

// usage is everything df shows.
type usage struct {
	rows       []dfRow
	images     []dfImage
	containers []dfContainer
	volumes    []dfVolume
	cache      *build.Usage
}

func runSystemDf(ctx context.Context, g *globalOptions, o systemDfOptions) error {
	a, err := openForFormat(g, o.format)
	if err != nil {
		return err
	}
	u, err := measureUsage(ctx, a)
	if err != nil {
		return err
	}
	if !o.verbose {
		return writeList(g.stdout, listing{format: o.format, defaultTable: dfTable, header: dfHeader}, u.rows)
	}
	return u.writeVerbose(g.stdout, time.Now())
}

// measureUsage adds up what the root's images, containers, volumes and
// build cache take. An image's layers are counted once however many
// images share them.
func measureUsage(ctx context.Context, a *app) (*usage, error) {
	ctrs, err := a.engine.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	u := &usage{}
	imgUsers := map[string]int{}
	ctrRow := dfRow{kind: "Containers"}
	for _, c := range ctrs {
		imgUsers[c.ImageID]++
		upper, err := a.engine.UpperDir(ctx, c.ID)
		var sz int64
		if err == nil {
			sz = diskusage.Of(upper)
		}
		running := c.State.Status == engine.StatusRunning || c.State.Status == engine.StatusPaused || c.State.Status == engine.StatusRestarting
		ctrRow.total++
		ctrRow.size += sz
		if running {
			ctrRow.active++
		} else {
			ctrRow.reclaimable += sz
		}
		vols := 0
		for _, m := range c.Config.Mounts {
			if m.Type == "volume" {
				vols++
			}
		}
		u.containers = append(u.containers, dfContainer{id: string(c.ID), image: c.Config.Image, name: c.Config.Name,
			status: string(c.State.Status), volumes: vols, size: sz, created: c.Created})
	}

	imgs, err := a.images.List(ctx)
	if err != nil {
		return nil, err
	}
	layerSize := map[string]int64{}
	layerUsers := map[string]int{}
	activeLayers := map[string]bool{}
	imgRow := dfRow{kind: "Images", total: len(imgs)}
	for _, img := range imgs {
		v, err := a.images.V1Image(ctx, img)
		if err != nil {
			return nil, err
		}
		m, err := v.Manifest()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.ID, err)
		}
		for _, l := range m.Layers {
			layerSize[l.Digest.Hex] = l.Size
			layerUsers[l.Digest.Hex]++
			if imgUsers[img.ID] > 0 {
				activeLayers[l.Digest.Hex] = true
			}
		}
		if imgUsers[img.ID] > 0 {
			imgRow.active++
		}
	}
	for h, sz := range layerSize {
		imgRow.size += sz
		if !activeLayers[h] {
			imgRow.reclaimable += sz
		}
	}
	for _, img := range imgs {
		v, _ := a.images.V1Image(ctx, img) // read above
		m, _ := v.Manifest()
		di := dfImage{name: "<none>:<none>", id: img.ID, created: img.Created, containers: imgUsers[img.ID]}
		if len(img.RepoTags) > 0 {
			di.name = image.FamiliarName(img.RepoTags[0])
		}
		for _, l := range m.Layers {
			di.size += l.Size
			if layerUsers[l.Digest.Hex] == 1 {
				di.unique += l.Size
			}
		}
		u.images = append(u.images, di)
	}

	vols, err := a.engine.Volumes().List(ctx, nil)
	if err != nil {
		return nil, err
	}
	users, err := a.engine.Volumes().Users(ctx)
	if err != nil {
		return nil, err
	}
	volRow := dfRow{kind: "Local Volumes", total: len(vols)}
	for _, v := range vols {
		sz := diskusage.Of(a.engine.Volumes().Path(v.Name))
		volRow.size += sz
		if len(users[v.Name]) > 0 {
			volRow.active++
		} else {
			volRow.reclaimable += sz
		}
		u.volumes = append(u.volumes, dfVolume{name: v.Name, links: len(users[v.Name]), size: sz})
	}

	if u.cache, err = a.builder.DiskUsage(ctx); err != nil {
		return nil, err
	}
	cacheRow := dfRow{kind: "Build Cache", total: len(u.cache.Records), size: u.cache.Size, reclaimable: u.cache.Reclaimable, noPercent: true}
	for _, r := range u.cache.Records {
		if r.InUse {
			cacheRow.active++
		}
	}
	u.rows = []dfRow{imgRow, ctrRow, volRow, cacheRow}
	return u, nil
}

// writeVerbose is `system df -v`: each kind's objects, as docker's.
func (u *usage) writeVerbose(w io.Writer, now time.Time) error {
	hs := func(n int64) string { return units.HumanSize(float64(n)) }
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	fmt.Fprint(tw, "Images space usage:\n\nREPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n")
	for _, i := range u.images {
		repo, tag := "<none>", "<none>"
		if i.name != "<none>:<none>" {
			if k := strings.LastIndex(i.name, ":"); k > 0 {
				repo, tag = i.name[:k], i.name[k+1:]
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", repo, tag, shortID(i.id), ago(now, i.created),
			hs(i.size), hs(i.size-i.unique), hs(i.unique), i.containers)
	}
	fmt.Fprint(tw, "\nContainers space usage:\n\nCONTAINER ID\tIMAGE\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n")
	for _, c := range u.containers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", shortID(c.id), c.image, c.volumes, hs(c.size), ago(now, c.created), c.status, c.name)
	}
	fmt.Fprint(tw, "\nLocal Volumes space usage:\n\nVOLUME NAME\tLINKS\tSIZE\n")
	for _, v := range u.volumes {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", v.name, v.links, hs(v.size))
	}
	fmt.Fprintf(tw, "\nBuild cache usage: %s\n\nCACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n", hs(u.cache.Size))
	recs := slices.Clone(u.cache.Records)
	slices.Reverse(recs) // most recently used first
	for _, r := range recs {
		row := cacheRow{r: r, now: now}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.ID(), row.CacheType(), row.Size(), row.CreatedSince(), row.LastUsedSince(), usageCount(r), row.Shared())
	}
	return tw.Flush()
}

// usageCount is docker's USAGE column: builds using the record now.
func usageCount(r build.CacheRecord) string {
	if r.InUse {
		return "1"
	}
	return "0"
}
