package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/spec"
)

// lifecycleOptions are the flags of start, stop, restart and rm.
type lifecycleOptions struct {
	timeout int
	force   bool
	stop    bool
	volumes bool
	noDeps  bool
	all     bool // rm -a: docker compose's, deprecated, no effect
	wait    bool // start: until the services are running|healthy
	waitFor int  // start --wait-timeout, seconds
}

func newLifecycleCommands(g *globalOptions) []*cobra.Command {
	mk := func(use, short string, modes []reconciler.Mode, flags func(*cobra.Command, *lifecycleOptions)) *cobra.Command {
		var o lifecycleOptions
		cmd := &cobra.Command{
			Use:   use + " [OPTIONS] [SERVICE...]",
			Short: short,
			RunE: func(cmd *cobra.Command, args []string) error {
				return runLifecycle(cmd.Context(), g, o, modes, args)
			},
		}
		if flags != nil {
			flags(cmd, &o)
		}
		return cmd
	}
	timeout := func(cmd *cobra.Command, o *lifecycleOptions) {
		cmd.Flags().IntVarP(&o.timeout, "timeout", "t", -1, "shutdown timeout in seconds")
	}
	return []*cobra.Command{
		mk("start", "Start services", []reconciler.Mode{reconciler.ModeStart},
			func(cmd *cobra.Command, o *lifecycleOptions) {
				cmd.Flags().BoolVar(&o.wait, "wait", false, "wait for services to be running|healthy")
				cmd.Flags().IntVar(&o.waitFor, "wait-timeout", 0, "maximum duration in seconds to wait for the project to be running|healthy")
			}),
		mk("stop", "Stop services", []reconciler.Mode{reconciler.ModeStop}, timeout),
		mk("restart", "Restart service containers", []reconciler.Mode{reconciler.ModeStop, reconciler.ModeStart},
			func(cmd *cobra.Command, o *lifecycleOptions) {
				timeout(cmd, o)
				cmd.Flags().BoolVar(&o.noDeps, "no-deps", false, "don't restart dependent services")
			}),
		mk("rm", "Remove stopped service containers", []reconciler.Mode{reconciler.ModeRemove},
			func(cmd *cobra.Command, o *lifecycleOptions) {
				cmd.Flags().BoolVarP(&o.force, "force", "f", false, "don't ask to confirm removal")
				cmd.Flags().BoolVarP(&o.stop, "stop", "s", false, "stop the containers, if required, before removing")
				cmd.Flags().BoolVarP(&o.volumes, "volumes", "v", false, "remove any anonymous volumes attached to containers")
				cmd.Flags().BoolVarP(&o.all, "all", "a", false, "deprecated - no effect")
				_ = cmd.Flags().MarkHidden("all")
			}),
	}
}

func runLifecycle(ctx context.Context, g *globalOptions, o lifecycleOptions, modes []reconciler.Mode, services []string) error {
	p, name, err := g.projectOrName(ctx)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	sink, err := g.newSink()
	if err != nil {
		return err
	}
	if o.wait && o.waitFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(o.waitFor)*time.Second,
			fmt.Errorf("--wait-timeout of %ds expired", o.waitFor))
		defer cancel()
	}
	for _, mode := range modes {
		err := runPlan(ctx, g, a, name, p, reconciler.Options{
			Mode: mode, Services: services, Timeout: timeoutFlag(o.timeout), Force: o.stop,
			RemoveVolumes: o.volumes, NoDeps: o.noDeps, Wait: o.wait,
		}, g.dryRun, sink)
		if err != nil {
			return err
		}
	}
	return nil
}

// projectOrName loads the project, or, with -p and no file, returns its name
// alone (commands on existing containers work from labels).
func (g *globalOptions) projectOrName(ctx context.Context) (*spec.Project, string, error) {
	p, err := g.load(ctx)
	switch {
	case err == nil:
		return p, p.Name, nil
	case g.project.name != "" && errdefs.IsNotFound(err):
		return nil, g.project.name, nil
	}
	return nil, "", err
}

func newCreateCommand(g *globalOptions) *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [SERVICE...]",
		Short: "Creates containers for a service",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.detach, o.noStart = true, true
			return runUp(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.forceRecreate, "force-recreate", false, "recreate containers even if their configuration has not changed")
	f.BoolVar(&o.noRecreate, "no-recreate", false, "do not recreate containers that exist")
	f.BoolVar(&o.removeOrphans, "remove-orphans", false, "remove containers for services not defined in the Compose file")
	f.StringVar(&o.pull, "pull", "", `pull image before running: "always", "missing", "never", "build"`)
	f.StringArrayVar(&o.scale, "scale", nil, "scale SERVICE to NUM instances; overrides the scale setting in the Compose file")
	o.imageFlags.bind(f, true)
	return cmd
}

type lsOptions struct {
	all     bool
	quiet   bool
	format  string
	filters []string
}

// newLsCommand lists the projects on this machine, from container labels.
func newLsCommand(g *globalOptions) *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls [OPTIONS]",
		Short: "List running compose projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kv, err := keyedFilters(o.filters, "name")
			if err != nil {
				return err
			}
			a, err := g.open()
			if err != nil {
				return err
			}
			ctrs, err := a.engine.List(cmd.Context(), nil)
			if err != nil {
				return err
			}
			type project struct {
				Name        string
				Status      string
				ConfigFiles string
				states      map[engine.Status]int
			}
			byName := map[string]*project{}
			for _, c := range ctrs {
				n := c.Config.Labels[spec.LabelProject]
				if n == "" {
					continue
				}
				if byName[n] == nil {
					byName[n] = &project{Name: n, ConfigFiles: c.Config.Labels[spec.LabelConfigFiles], states: map[engine.Status]int{}}
				}
				byName[n].states[c.State.Status]++
			}
			var rows []*project
			for _, n := range slices.Sorted(maps.Keys(byName)) {
				p := byName[n]
				if p.states[engine.StatusRunning] == 0 && !o.all {
					continue
				}
				if names := kv["name"]; len(names) > 0 && !slices.ContainsFunc(names, func(v string) bool { return strings.Contains(n, v) }) {
					continue
				}
				var parts []string
				for _, st := range slices.Sorted(maps.Keys(p.states)) {
					parts = append(parts, fmt.Sprintf("%s(%d)", st, p.states[st]))
				}
				p.Status = strings.Join(parts, ", ")
				rows = append(rows, p)
			}
			switch {
			case o.quiet:
				for _, p := range rows {
					fmt.Fprintln(g.stdout, p.Name)
				}
			default:
				return writeList(g.stdout, listing{format: o.format, defaultTable: "table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}",
					header: headerFields{"Name": "NAME", "Status": "STATUS", "ConfigFiles": "CONFIG FILES"}, jsonArray: true}, rows)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "show all stopped projects")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "only display project names")
	cmd.Flags().StringVar(&o.format, "format", "table", `format: "table", "json" or a Go template`)
	cmd.Flags().StringArrayVar(&o.filters, "filter", nil, "filter output based on conditions provided (name)")
	return cmd
}

// newImagesCommand lists the images the project's containers use.
func newImagesCommand(g *globalOptions) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [SERVICE...]",
		Short: "List images used by the created containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImages(cmd.Context(), g, format, quiet, args)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", `format: "table", "json" or a Go template`)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display IDs")
	return cmd
}

func runImages(ctx context.Context, g *globalOptions, format string, quiet bool, services []string) error {
	a, _, ctrs, err := g.projectContainers(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	var rows []composeImage
	for _, c := range ctrs {
		if len(services) > 0 && !slices.Contains(services, c.Config.Labels[spec.LabelService]) {
			continue
		}
		repo, tag := splitRepoTag(image.FamiliarName(c.Config.Image))
		r := composeImage{ID: c.ImageID, ContainerName: c.Config.Name, Repository: repo, Tag: tag, now: now}
		if img, err := a.images.Resolve(ctx, c.ImageID); err == nil {
			r.Size, r.Created, r.Platform = img.Size, img.Created, img.OS+"/"+img.Architecture
		}
		rows = append(rows, r)
	}
	if quiet {
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				fmt.Fprintln(g.stdout, r.ID)
			}
		}
		return nil
	}
	return writeList(g.stdout, listing{format: format, defaultTable: composeImageTable, header: composeImageHeader, jsonArray: true}, rows)
}
