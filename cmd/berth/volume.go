package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/engine"
)

func newVolumeCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	cmd.AddCommand(newVolumeLsCommand(g), newVolumeCreateCommand(g), newVolumeRmCommand(g),
		newVolumeInspectCommand(g), newVolumePruneCommand(g))
	return cmd
}

type volumeLsOptions struct {
	format  string
	quiet   bool
	filters []string
}

func newVolumeLsCommand(g *globalOptions) *cobra.Command {
	var o volumeLsOptions
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVolumeLs(cmd.Context(), g, o)
		},
	}
	ls.Flags().StringVar(&o.format, "format", "table", `format: "table", "table TEMPLATE", "json" or a Go template`)
	ls.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "only display volume names")
	ls.Flags().StringArrayVarP(&o.filters, "filter", "f", nil, `filter output: "label=KEY", "label=KEY=VALUE" or "dangling=true|false"`)
	return ls
}

// volumeFilter is what --filter selects.
type volumeFilter struct {
	labels   map[string]string
	dangling *bool
}

func parseVolumeFilters(filters []string) (volumeFilter, error) {
	f := volumeFilter{labels: map[string]string{}}
	for _, s := range filters {
		k, v, _ := strings.Cut(s, "=")
		switch k {
		case "label":
			lk, lv, _ := strings.Cut(v, "=")
			f.labels[lk] = lv
		case "dangling":
			b := v == "true" || v == "1"
			if !b && v != "false" && v != "0" {
				return f, fmt.Errorf("--filter %q: dangling takes true or false: %w", s, errdefs.ErrInvalidArgument)
			}
			f.dangling = &b
		default:
			return f, fmt.Errorf("--filter %q: only label and dangling filters are supported: %w", s, errdefs.ErrInvalidArgument)
		}
	}
	return f, nil
}

func runVolumeLs(ctx context.Context, g *globalOptions, o volumeLsOptions) error {
	f, err := parseVolumeFilters(o.filters)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	vols, err := a.engine.Volumes().List(ctx, nil)
	if err != nil {
		return err
	}
	var users map[string][]string
	if f.dangling != nil {
		if users, err = volumeUsers(ctx, a); err != nil {
			return err
		}
	}
	var out []*engine.Volume
	for _, v := range vols {
		if !matchLabels(v.Labels, f.labels) {
			continue
		}
		if f.dangling != nil && (len(users[v.Name]) == 0) != *f.dangling {
			continue
		}
		out = append(out, v)
	}
	if o.quiet {
		for _, v := range out {
			fmt.Fprintln(g.stdout, v.Name)
		}
		return nil
	}
	rows := make([]volumeRow, len(out))
	for i, v := range out {
		rows[i] = volumeRow{v: dockerapi.Volume(v)}
	}
	return writeList(g.stdout, listing{format: o.format, defaultTable: volumeTable, header: volumeHeader}, rows)
}

type volumeCreateOptions struct {
	driver string
	labels []string
	opts   []string
	name   string // --name: the argument's other spelling
}

func newVolumeCreateCommand(g *globalOptions) *cobra.Command {
	var o volumeCreateOptions
	create := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := o.name
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return fmt.Errorf("volume create: conflicting names: --name %q and %q: %w", name, args[0], errdefs.ErrInvalidArgument)
				}
				name = args[0]
			}
			return runVolumeCreate(cmd.Context(), g, name, o)
		},
	}
	create.Flags().StringVarP(&o.driver, "driver", "d", "local", "volume driver (only local)")
	create.Flags().StringArrayVar(&o.labels, "label", nil, "set metadata on the volume (KEY=VALUE)")
	create.Flags().StringArrayVarP(&o.opts, "opt", "o", nil, "set driver specific options (type, o, device)")
	create.Flags().StringVar(&o.name, "name", "", "specify volume name (as the argument)")
	return create
}

func keyValues(flag string, in []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range in {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE: %w", flag, kv, errdefs.ErrInvalidArgument)
		}
		out[k] = v
	}
	return out, nil
}

func runVolumeCreate(ctx context.Context, g *globalOptions, name string, o volumeCreateOptions) error {
	labels, err := keyValues("label", o.labels)
	if err != nil {
		return err
	}
	opts, err := keyValues("opt", o.opts)
	if err != nil {
		return err
	}
	if name == "" { // as Docker: a random name, marked anonymous
		var b [32]byte
		_, _ = rand.Read(b[:])
		name = hex.EncodeToString(b[:])
		labels[engine.LabelAnonymousVolume] = ""
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	v, err := a.engine.Volumes().CreateWithOptions(ctx, name, engine.VolumeOptions{Labels: labels, Driver: o.driver, Opts: opts})
	if errdefs.IsAlreadyExists(err) && len(labels) == 0 && len(opts) == 0 {
		// As Docker: creating an existing volume again is not an error.
		v, err = a.engine.Volumes().Get(ctx, name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, v.Name)
	return nil
}

// volumeUsers maps each volume to the containers (running or not) that
// mount it.
func volumeUsers(ctx context.Context, a *app) (map[string][]string, error) {
	return a.engine.Volumes().Users(ctx)
}

type volumeRmOptions struct{ force bool }

func newVolumeRmCommand(g *globalOptions) *cobra.Command {
	var o volumeRmOptions
	rm := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME...",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVolumeRm(cmd.Context(), g, args, o)
		},
	}
	rm.Flags().BoolVarP(&o.force, "force", "f", false, "do not fail on volumes that do not exist (a volume in use is never removed)")
	return rm
}

func runVolumeRm(ctx context.Context, g *globalOptions, names []string, o volumeRmOptions) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := a.engine.Volumes().Remove(ctx, name); err != nil {
			if o.force && errdefs.IsNotFound(err) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.stdout, name)
	}
	return errors.Join(errs...)
}

func newVolumeInspectCommand(g *globalOptions) *cobra.Command {
	var format string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME...",
		Short: "Display detailed information on one or more volumes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectEach(cmd.Context(), g, args, format, func(ctx context.Context, a *app, ref string) (any, error) {
				v, err := a.engine.Volumes().Get(ctx, ref)
				if err != nil {
					return nil, err
				}
				return dockerapi.Volume(v), nil
			})
		},
	}
	addInspectFormat(inspect, &format)
	return inspect
}

type volumePruneOptions struct {
	all     bool
	force   bool
	filters []string
}

func newVolumePruneCommand(g *globalOptions) *cobra.Command {
	var o volumePruneOptions
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused volumes (anonymous ones only, unless --all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVolumePrune(cmd.Context(), g, o)
		},
	}
	prune.Flags().BoolVarP(&o.all, "all", "a", false, "remove all unused volumes, not just anonymous ones")
	prune.Flags().BoolVarP(&o.force, "force", "f", false, "do not prompt for confirmation")
	prune.Flags().StringArrayVar(&o.filters, "filter", nil, `filter: "label=KEY" or "label=KEY=VALUE"`)
	return prune
}

func runVolumePrune(ctx context.Context, g *globalOptions, o volumePruneOptions) error {
	f, err := parseVolumeFilters(o.filters)
	if err != nil {
		return err
	}
	if f.dangling != nil {
		return fmt.Errorf("--filter dangling: prune only removes unused volumes: %w", errdefs.ErrInvalidArgument)
	}
	if !o.force {
		what := "all anonymous volumes not used by at least one container"
		if o.all {
			what = "all volumes not used by at least one container"
		}
		fmt.Fprintf(g.stderr, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
			return fmt.Errorf("volume prune: not confirmed: %w", errdefs.ErrFailedPrecondition)
		}
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	removed, err := a.engine.Volumes().Prune(ctx, engine.VolumePruneOptions{All: o.all, Labels: f.labels})
	fmt.Fprintln(g.stdout, "Deleted Volumes:")
	for _, name := range removed {
		fmt.Fprintln(g.stdout, name)
	}
	return err
}
