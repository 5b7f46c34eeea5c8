package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine/image"
)

// newImageRegistryCommands returns the image subcommands that move images
// between the store and registries or archives: pull, push, tag, load,
// save, prune.
func newImageRegistryCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{
		newImagePullCommand(g),
		newImagePushCommand(g),
		newImageTagCommand(g),
		newImageLoadCommand(g),
		newImageSaveCommand(g),
		newImagePruneCommand(g),
	}
}

type pullOptions struct {
	platform string
	quiet    bool
	allTags  bool
}

func newImagePullCommand(g *globalOptions) *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.allTags {
				return runImagePullAllTags(cmd.Context(), g, o, args[0])
			}
			return runImagePull(cmd.Context(), g, o, args[0])
		},
	}
	cmd.Flags().BoolVarP(&o.allTags, "all-tags", "a", false, "download all tagged images in the repository")
	cmd.Flags().StringVar(&o.platform, "platform", "", "platform os/arch[/variant] to pull from a multi-platform image (default "+image.DefaultPlatform+")")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "suppress progress output")
	return cmd
}

func runImagePull(ctx context.Context, g *globalOptions, o pullOptions, ref string) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	norm, err := image.Normalize(ref)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	before := ""
	if old, err := a.images.Resolve(ctx, norm); err == nil {
		before = old.Digest
	}
	r := newPullRenderer(g.stdout, isTerminal(g.stdout))
	opt := image.PullOptions{Platform: o.platform}
	if !o.quiet {
		fmt.Fprintf(g.stdout, "Pulling %s\n", image.FamiliarName(norm))
		opt.Progress = r.event
	}
	img, err := a.images.Pull(ctx, ref, opt)
	r.finish()
	if err != nil {
		return err
	}
	if !o.quiet {
		status := "Downloaded newer image for"
		if !r.downloaded && before == img.Digest {
			status = "Image is up to date for"
		}
		fmt.Fprintf(g.stdout, "Digest: %s\nStatus: %s %s\n", img.Digest, status, image.FamiliarName(norm))
	}
	fmt.Fprintln(g.stdout, norm)
	return nil
}

// pullRenderer draws the layer events of a pull: on a terminal one line
// per layer with a progress bar, redrawn in place; otherwise one line per
// change of a layer's status. Pull serialises the events.
type pullRenderer struct {
	w   io.Writer
	tty bool

	order      []string                   // layer digests, as first seen
	layers     map[string]image.PullEvent // last event per layer
	drawn      int                        // lines drawn last time (tty)
	lastDraw   time.Time
	downloaded bool // some layer was fetched
}

func newPullRenderer(w io.Writer, tty bool) *pullRenderer {
	return &pullRenderer{w: w, tty: tty, layers: map[string]image.PullEvent{}}
}

func (r *pullRenderer) event(e image.PullEvent) {
	prev, seen := r.layers[e.Digest]
	if !seen {
		r.order = append(r.order, e.Digest)
	}
	r.layers[e.Digest] = e
	if e.Status == image.PullDownloading {
		r.downloaded = true
	}
	changed := !seen || prev.Status != e.Status
	if r.tty {
		if changed || time.Since(r.lastDraw) >= 100*time.Millisecond {
			r.draw()
		}
		return
	}
	if changed {
		fmt.Fprintln(r.w, r.line(e))
	}
}

// finish draws the final state.
func (r *pullRenderer) finish() {
	if r.tty && len(r.order) > 0 {
		r.draw()
	}
}

// draw redraws every layer line: the cursor goes back up over the lines
// drawn last time, and each line is cleared before it is written.
func (r *pullRenderer) draw() {
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", r.drawn)
	}
	for _, d := range r.order {
		b.WriteString("\r\x1b[2K")
		b.WriteString(r.line(r.layers[d]))
		b.WriteByte('\n')
	}
	r.drawn = len(r.order)
	r.lastDraw = time.Now()
	_, _ = io.WriteString(r.w, b.String())
}

// line renders one layer's state, with a bar on a terminal.
func (r *pullRenderer) line(e image.PullEvent) string {
	id := shortID(e.Digest)
	switch e.Status {
	case image.PullWaiting:
		return id + ": Waiting"
	case image.PullDownloading:
		if !r.tty {
			return fmt.Sprintf("%s: Downloading (%s)", id, humanSize(e.Size))
		}
		return fmt.Sprintf("%s: Downloading %s %8s/%s", id, bar(e.Done, e.Size, 40), humanSize(e.Done), humanSize(e.Size))
	case image.PullRetrying:
		return id + ": Retrying"
	case image.PullVerifying:
		return id + ": Verifying Checksum"
	case image.PullDone:
		return id + ": Download complete"
	case image.PullExists:
		return id + ": Already exists"
	}
	return id + ": " + string(e.Status)
}

// bar draws "[=====>     ]" of width cells for done out of total.
func bar(done, total int64, width int) string {
	n := width
	if total > 0 && done < total {
		n = int(done * int64(width) / total)
	}
	if n <= 0 {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	return "[" + strings.Repeat("=", n-1) + ">" + strings.Repeat(" ", width-n) + "]"
}

func newImagePushCommand(g *globalOptions) *cobra.Command {
	var quiet, allTags bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if allTags {
				return runImagePushAllTags(cmd.Context(), g, quiet, args[0])
			}
			return runImagePush(cmd.Context(), g, quiet, args[0])
		},
	}
	cmd.Flags().BoolVarP(&allTags, "all-tags", "a", false, "push all tags of an image to the repository")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress progress output")
	return cmd
}

// runImagePullAllTags is pull --all-tags: every tag the registry has of
// the repository, one after the other, as docker pulls them.
func runImagePullAllTags(ctx context.Context, g *globalOptions, o pullOptions, ref string) error {
	repo, err := image.NormalizeRepository(ref)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	tags, err := a.images.RemoteTags(ctx, repo, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	if len(tags) == 0 {
		return fmt.Errorf("pull %q: the registry has no tag of it: %w", image.FamiliarName(repo), errdefs.ErrNotFound)
	}
	if !o.quiet {
		fmt.Fprintf(g.stdout, "Pulling all tags of %s: %s\n", image.FamiliarName(repo), strings.Join(tags, ", "))
	}
	for _, tag := range tags {
		if err := runImagePull(ctx, g, o, repo+":"+tag); err != nil {
			return err
		}
	}
	return nil
}

// runImagePushAllTags is push --all-tags: every tag the store has of the
// repository.
func runImagePushAllTags(ctx context.Context, g *globalOptions, quiet bool, ref string) error {
	repo, err := image.NormalizeRepository(ref)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	refs, err := a.images.LocalTags(ctx, repo)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	for _, r := range refs {
		if err := runImagePush(ctx, g, quiet, image.FamiliarName(r)); err != nil {
			return err
		}
	}
	return nil
}

func runImagePush(ctx context.Context, g *globalOptions, quiet bool, ref string) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	var opt image.PushOptions
	tty := isTerminal(g.stdout)
	if !quiet {
		fmt.Fprintf(g.stdout, "Pushing %s\n", ref)
		if tty {
			opt.Progress = func(done, total int64) {
				fmt.Fprintf(g.stdout, "\r\x1b[2KUploading %s %8s/%s", bar(done, total, 40), humanSize(done), humanSize(total))
			}
		}
	}
	d, err := a.images.Push(ctx, ref, opt)
	if opt.Progress != nil {
		fmt.Fprintln(g.stdout)
	}
	if err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(g.stdout, "%s: digest: %s\n", ref, d)
	}
	return nil
}

func newImageTagCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			return a.images.Tag(cmd.Context(), args[0], args[1])
		},
	}
}

type loadOptions struct {
	input string
	quiet bool
}

func newImageLoadCommand(g *globalOptions) *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a docker-archive or OCI layout tarball",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImageLoad(cmd.Context(), g, o, cmd.InOrStdin())
		},
	}
	cmd.Flags().StringVarP(&o.input, "input", "i", "", "read from a tar archive file, instead of standard input")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only the loaded names or IDs")
	return cmd
}

func runImageLoad(ctx context.Context, g *globalOptions, o loadOptions, stdin io.Reader) error {
	r := stdin
	if o.input != "" {
		f, err := os.Open(o.input)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		defer f.Close()
		r = f
	} else if isTerminal(stdin) {
		return fmt.Errorf("load: standard input is a terminal; give an archive with -i FILE or redirect it: %w", errdefs.ErrInvalidArgument)
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	imgs, err := a.images.Load(ctx, r)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		names := append(append([]string{}, img.RepoTags...), img.RepoDigests...)
		if len(names) == 0 {
			fmt.Fprintf(g.stdout, "Loaded image ID: %s\n", img.ID)
		}
		for _, n := range names {
			fmt.Fprintf(g.stdout, "Loaded image: %s\n", image.FamiliarName(n))
		}
	}
	return nil
}

func newImageSaveCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE...",
		Short: "Save images to a docker-archive tarball (standard output by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageSave(cmd.Context(), g, output, args)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of standard output")
	return cmd
}

func runImageSave(ctx context.Context, g *globalOptions, output string, refs []string) (retErr error) {
	if output == "" && isTerminal(g.stdout) {
		return fmt.Errorf("save: refusing to write an archive to a terminal; use -o FILE or redirect: %w", errdefs.ErrInvalidArgument)
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	if output == "" {
		return a.images.Save(ctx, g.stdout, refs)
	}
	// Written beside the target and renamed at the end: a failed save
	// leaves no partial archive behind, nor harms an earlier one.
	f, err := os.CreateTemp(filepath.Dir(output), ".berth-save-*")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, f.Close(), os.Remove(f.Name()))
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := a.images.Save(ctx, bw, refs); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := os.Rename(f.Name(), output); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

type pruneOptions struct {
	all     bool
	force   bool
	filters []string
}

func newImagePruneCommand(g *globalOptions) *cobra.Command {
	var o pruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImagePrune(cmd.Context(), g, o, cmd.InOrStdin())
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "remove all images no container uses, not just dangling ones")
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&o.filters, "filter", nil, `filter: "label=KEY" or "label=KEY=VALUE"`)
	return cmd
}

func runImagePrune(ctx context.Context, g *globalOptions, o pruneOptions, stdin io.Reader) error {
	labels, err := labelFilters(o.filters)
	if err != nil {
		return err
	}
	if !o.force {
		what := "all dangling images"
		if o.all {
			what = "all images without at least one container associated to them"
		}
		fmt.Fprintf(g.stdout, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return nil
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	ctrs, err := a.engine.List(ctx, nil)
	if err != nil {
		return fmt.Errorf("prune: list containers: %w", err)
	}
	used := map[string]bool{}
	for _, c := range ctrs {
		used[c.ImageID] = true
	}
	if len(labels) > 0 {
		// An image the filter does not select is kept, as one in use is.
		imgs, err := a.images.List(ctx)
		if err != nil {
			return err
		}
		for _, img := range imgs {
			if !matchLabels(img.Config.Labels, labels) {
				used[img.ID] = true
			}
		}
	}
	rep, err := a.images.Prune(ctx, o.all, func(id string) bool { return used[id] })
	if rep != nil && (len(rep.Untagged) > 0 || len(rep.Deleted) > 0) {
		fmt.Fprintln(g.stdout, "Deleted Images:")
		for _, n := range rep.Untagged {
			fmt.Fprintf(g.stdout, "untagged: %s\n", image.FamiliarName(n))
		}
		for _, id := range rep.Deleted {
			fmt.Fprintf(g.stdout, "deleted: %s\n", id)
		}
		fmt.Fprintln(g.stdout)
	}
	if rep != nil {
		fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", humanSize(rep.SpaceReclaimed))
	}
	return err
}
