package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/docker/go-units"
	"golang.org/x/term"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/engine/image"
)

// The image tree (image ls --tree) as the docker CLI 28 prints it to a
// pipe: an experimental-feature warning, a legend, then each image (newest
// first) with its platforms below it. berth keeps one manifest per image,
// so each has one platform: its own.

// treeImage is one image of the tree: its names, details and platforms.
type treeImage struct {
	names    []string
	details  treeDetails
	children []treeChild
	created  int64
}

type treeChild struct {
	platform string
	details  treeDetails
}

type treeDetails struct {
	id          string
	diskUsage   string
	contentSize string
	inUse       bool
}

// treeColumn is a column of the tree: its title, width and alignment
// (right when right is set), and its value for an image or platform.
type treeColumn struct {
	title string
	width int
	right bool
	value func(treeDetails) string
}

const treeColumnSpacing = 3

// treeImages are the tree's entries of imgs, newest first; users counts
// the containers of each image ID.
func treeImages(imgs []*image.Image, users map[string]int) []treeImage {
	var out []treeImage
	for _, img := range imgs {
		s := dockerapi.ImageSummary(img, users[img.ID])
		size := units.HumanSizeWithPrecision(float64(s.Size), 3)
		d := treeDetails{id: s.ID, diskUsage: size, contentSize: size, inUse: s.Containers > 0}
		child := treeChild{platform: img.OS + "/" + img.Architecture, details: d}
		child.details.id = img.Digest
		out = append(out, treeImage{names: s.RepoTags, details: d, children: []treeChild{child}, created: s.Created})
	}
	slices.SortStableFunc(out, func(a, b treeImage) int { return cmp.Compare(b.created, a.created) })
	return out
}

// writeImageTree prints the tree in width columns (80 when w is not a
// terminal).
func writeImageTree(w io.Writer, imgs []treeImage) {
	width := 80
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			width = max(cols, 20)
		}
	}
	fmt.Fprintln(w, "WARNING: This is an experimental feature. The output may change and shouldn't be depended on.")
	// The legend names the chips: "U", an image in use.
	legend := " Info ->  U In Use "
	fmt.Fprintln(w, strings.Repeat(" ", max(width-utf8.RuneCountInString(legend), 0))+legend)
	fmt.Fprintln(w)

	inUse := false // the chip's column holds "U" once a platform is in use
	spacing := false
	for _, img := range imgs {
		for _, c := range img.children {
			inUse = inUse || c.details.inUse
			spacing = true
		}
	}
	columns := []treeColumn{
		{title: "Image"},
		{title: "ID", width: 12, value: func(d treeDetails) string { return shortID(d.id) }},
		{title: "Disk usage", width: 10, right: true, value: func(d treeDetails) string { return d.diskUsage }},
		{title: "Content size", width: 12, right: true, value: func(d treeDetails) string { return d.contentSize }},
		{title: "Extra", width: 5, value: func(d treeDetails) string {
			switch {
			case !inUse:
				return ""
			case d.inUse:
				return "U"
			}
			return " "
		}},
	}
	columns = fitTreeColumns(width, columns, imgs)

	for i, c := range columns {
		if i > 0 {
			fmt.Fprint(w, strings.Repeat(" ", treeColumnSpacing))
		}
		fmt.Fprint(w, c.pad(strings.ToUpper(c.title)))
	}
	fmt.Fprintln(w)
	details := func(d treeDetails) {
		for _, c := range columns[1:] {
			fmt.Fprint(w, strings.Repeat(" ", treeColumnSpacing)+c.pad(c.value(d)))
		}
	}
	for _, img := range imgs {
		names := slices.Clone(img.names)
		slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
		if len(names) == 0 {
			fmt.Fprint(w, columns[0].pad("<untagged>"))
		}
		for i, n := range names {
			if i < len(names)-1 {
				fmt.Fprintln(w, n) // only the last name shares the line with the details
				continue
			}
			fmt.Fprint(w, columns[0].pad(n))
		}
		details(img.details)
		if len(img.children) > 0 || spacing {
			fmt.Fprintln(w)
		}
		for i, c := range img.children {
			branch := "├─ "
			if i == len(img.children)-1 {
				branch = "└─ "
			}
			fmt.Fprint(w, columns[0].pad(branch+c.platform))
			details(c.details)
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
}

// fitTreeColumns drops the columns that leave the first one narrower than
// 12 and makes the first as narrow as its widest value.
func fitTreeColumns(width int, columns []treeColumn, imgs []treeImage) []treeColumn {
	nameWidth := width
	for i, c := range columns {
		if c.width == 0 {
			continue
		}
		d := c.width
		if i > 0 {
			d += treeColumnSpacing
		}
		if nameWidth-d < 12 {
			columns = columns[:i]
			break
		}
		nameWidth -= d
	}
	widest := len(columns[0].title)
	for _, img := range imgs {
		for _, n := range img.names {
			widest = max(widest, len(n))
		}
		for _, c := range img.children {
			widest = max(widest, len(c.platform)+len("└─ "))
		}
	}
	columns[0].width = min(nameWidth, widest)
	return columns
}

// pad aligns s in the column, cut with an ellipsis when too long.
func (c treeColumn) pad(s string) string {
	n := utf8.RuneCountInString(s)
	if n > c.width {
		r := []rune(s)
		return string(r[:max(c.width-1, 0)]) + "…"
	}
	if c.right {
		return strings.Repeat(" ", c.width-n) + s
	}
	return s + strings.Repeat(" ", c.width-n)
}

// imageTree prints image ls --tree: the images filter keeps, without the
// dangling ones unless all.
func imageTree(ctx context.Context, g *globalOptions, a *app, imgs []*image.Image, filter imageFilter, all bool) error {
	ctrs, err := a.engine.List(ctx, nil)
	if err != nil {
		return err
	}
	users := map[string]int{}
	for _, c := range ctrs {
		users[c.ImageID]++
	}
	imgs = slices.DeleteFunc(slices.Clone(imgs), func(img *image.Image) bool {
		return !filter.match(img) || !all && len(img.RepoTags) == 0
	})
	writeImageTree(g.stdout, treeImages(imgs, users))
	return nil
}
