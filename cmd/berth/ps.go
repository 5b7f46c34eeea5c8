package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/spec"
)

type psOptions struct {
	all      bool
	quiet    bool
	services bool
	format   string
	status   []string
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
	f.StringVar(&o.format, "format", "table", "format: table or json")
	f.StringArrayVar(&o.status, "status", nil, "filter by status: created, running, paused, restarting, exited, dead")
	return cmd
}

// psEntry is one line of `ps --format json`, with docker compose's keys.
type psEntry struct {
	ID         string             `json:"ID"`
	Name       string             `json:"Name"`
	Image      string             `json:"Image"`
	Command    string             `json:"Command"`
	Project    string             `json:"Project"`
	Service    string             `json:"Service"`
	Created    int64              `json:"Created"`
	State      string             `json:"State"`
	Status     string             `json:"Status"`
	Health     string             `json:"Health"`
	ExitCode   int                `json:"ExitCode"`
	Publishers []engine.Publisher `json:"Publishers"`
	Labels     map[string]string  `json:"-"`
	LabelsText string             `json:"Labels"`
	Networks   string             `json:"Networks"`
}

func runPs(ctx context.Context, g *globalOptions, o psOptions, services []string) error {
	a, name, err := g.openProject(ctx)
	if err != nil {
		return err
	}
	ctrs, err := a.engine.List(ctx, map[string]string{spec.LabelProject: name})
	if err != nil {
		return err
	}
	now := time.Now()
	var rows []psEntry
	for _, c := range ctrs {
		l := c.Config.Labels
		if l[spec.LabelOneOff] == spec.LabelTrue && !o.all {
			continue
		}
		if len(services) > 0 && !slices.Contains(services, l[spec.LabelService]) {
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
		var nets []string
		for _, ep := range c.Config.Networks {
			nets = append(nets, ep.Network)
		}
		rows = append(rows, psEntry{
			ID: string(c.ID), Name: c.Config.Name, Image: image.FamiliarName(c.Config.Image),
			Command: quoteCommand(c), Project: name, Service: l[spec.LabelService],
			Created: c.Created.Unix(), State: st, Status: statusText(c.State, now),
			Health: healthOf(c.State), ExitCode: c.State.ExitCode, Publishers: publishers(c), Labels: l,
			LabelsText: labelsText(l), Networks: strings.Join(nets, ","),
		})
	}
	w := g.stdout
	switch {
	case o.quiet:
		for _, r := range rows {
			fmt.Fprintln(w, r.ID)
		}
	case o.services:
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.Service] {
				seen[r.Service] = true
				fmt.Fprintln(w, r.Service)
			}
		}
	case o.format == "json":
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	case o.format == "table" || o.format == "":
		return psTable(w, rows, now)
	default:
		return fmt.Errorf("--format %q: must be table or json", o.format)
	}
	return nil
}

func psTable(w io.Writer, rows []psEntry, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS")
	for _, r := range rows {
		cmd := r.Command
		if len(cmd) > 22 {
			cmd = cmd[:19] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%q\t%s\t%s\t%s\t\n", r.Name, r.Image, cmd, r.Service,
			humanAgo(now.Sub(time.Unix(r.Created, 0))), r.Status)
	}
	return tw.Flush()
}

func quoteCommand(c *engine.Container) string {
	args := append(slices.Clone(c.Config.Entrypoint), c.Config.Cmd...)
	return strings.Join(args, " ")
}

func labelsText(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

// statusText is Docker's human status: "Up 3 seconds", "Exited (0) 2 minutes ago".
func statusText(s engine.State, now time.Time) string {
	switch s.Status {
	case engine.StatusRunning:
		up := "Up " + humanDuration(now.Sub(s.StartedAt))
		if s.Health != nil {
			up += " (" + s.Health.Status + ")"
		}
		return up
	case engine.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s", s.ExitCode, humanAgo(now.Sub(s.FinishedAt)))
	case engine.StatusPaused:
		return "Up " + humanDuration(now.Sub(s.StartedAt)) + " (Paused)"
	case engine.StatusExited:
		if s.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", s.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s", s.ExitCode, humanAgo(now.Sub(s.FinishedAt)))
	case engine.StatusCreated:
		return "Created"
	}
	return strings.ToUpper(string(s.Status[:1])) + string(s.Status[1:])
}

func humanAgo(d time.Duration) string { return humanDuration(d) + " ago" }

// humanDuration follows Docker's go-units HumanDuration wording.
func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	switch m := int(d.Minutes()); {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	switch h := int(d.Round(time.Hour).Hours()); {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	default:
		return fmt.Sprintf("%d days", h/24)
	}
}

// projectName is the project's name from the file, or -p alone when there is
// no file (ps, logs and down work from labels).
func (g *globalOptions) projectName(ctx context.Context) (string, error) {
	_, name, err := g.projectOrName(ctx)
	return name, err
}

func healthOf(s engine.State) string {
	if s.Health == nil {
		return ""
	}
	return s.Health.Status
}

// publishers is never nil: docker compose prints [] for none.
func publishers(c *engine.Container) []engine.Publisher {
	if p := c.Publishers(); p != nil {
		return p
	}
	return []engine.Publisher{}
}
