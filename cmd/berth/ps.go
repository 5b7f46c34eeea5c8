package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

type psOptions struct {
	all      bool
	quiet    bool
	services bool
	format   string
	status   []string
	filters  []string
	orphans  bool
	noTrunc  bool
}

func newPsCommand(g *globalOptions) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [SERVICE...]",
		Short: "List containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPs(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all stopped containers")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "only display IDs")
	f.BoolVar(&o.services, "services", false, "display services")
	f.StringVar(&o.format, "format", "table", `format: "table", "table TEMPLATE", "json" or a Go template`)
	f.StringArrayVar(&o.status, "status", nil, "filter by status: created, running, paused, restarting, exited, dead")
	f.StringArrayVar(&o.filters, "filter", nil, "filter services by a property (supported filters: status)")
	f.BoolVar(&o.orphans, "orphans", true, "include orphaned services (not declared by project)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	return cmd
}

func runPs(ctx context.Context, g *globalOptions, o psOptions, services []string) error {
	kv, err := keyedFilters(o.filters, "status")
	if err != nil {
		return err
	}
	o.status = append(o.status, kv["status"]...)
	_, name, ctrs, err := g.projectContainers(ctx)
	if err != nil {
		return err
	}
	var declared []string // with --orphans=false: the services of the file
	if !o.orphans {
		p, err := g.load(ctx)
		if err != nil {
			return err
		}
		declared = p.ServiceNames()
	}
	now := time.Now()
	var rows []composeRow
	for _, c := range ctrs {
		l := c.Config.Labels
		if l[spec.LabelOneOff] == spec.LabelTrue && !o.all {
			continue
		}
		if len(services) > 0 && !slices.Contains(services, l[spec.LabelService]) {
			continue
		}
		if declared != nil && !slices.Contains(declared, l[spec.LabelService]) {
			continue
		}
		st := string(c.State.Status)
		if len(o.status) > 0 && !slices.Contains(o.status, st) {
			continue
		}
		if len(o.status) == 0 && !o.all && c.State.Status != engine.StatusRunning &&
			c.State.Status != engine.StatusRestarting && c.State.Status != engine.StatusPaused {
			continue
		}
		rows = append(rows, composeRow{
			c:    containerRow{s: dockerapi.ContainerSummary(c, dockerapi.Objects{}, now), trunc: !o.noTrunc, now: now},
			name: c.Config.Name, project: name, service: l[spec.LabelService], exitCode: c.State.ExitCode,
			publishers: publishers(c),
		})
	}
	w := g.stdout
	switch {
	case o.quiet:
		for _, r := range rows {
			fmt.Fprintln(w, r.c.s.ID)
		}
	case o.services:
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.service] {
				seen[r.service] = true
				fmt.Fprintln(w, r.service)
			}
		}
	default:
		return writeList(w, listing{format: o.format, defaultTable: composeTable, header: composeHeader}, rows)
	}
	return nil
}

// projectContainers opens the project and lists its containers, by name.
func (g *globalOptions) projectContainers(ctx context.Context) (*app, string, []*engine.Container, error) {
	a, name, err := g.openProject(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	ctrs, err := a.engine.List(ctx, map[string]string{spec.LabelProject: name})
	return a, name, ctrs, err
}

// projectName is the project's name from the file, or -p alone when there is
// no file (ps, logs and down work from labels).
func (g *globalOptions) projectName(ctx context.Context) (string, error) {
	_, name, err := g.projectOrName(ctx)
	return name, err
}

// publishers is never nil: docker compose prints [] for none.
func publishers(c *engine.Container) []engine.Publisher {
	if p := c.Publishers(); p != nil {
		return p
	}
	return []engine.Publisher{}
}
