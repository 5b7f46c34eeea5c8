package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

type statsOptions struct {
	all      bool
	noStream bool
	noTrunc  bool
	format   string
}

func (o *statsOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVar(&o.noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate output")
	f.StringVar(&o.format, "format", "table", `format: "table", "table TEMPLATE", "json" or a Go template`)
}

func newContainerStatsCommand(g *globalOptions) *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			list := func(ctx context.Context) ([]*engine.Container, error) {
				if len(args) == 0 {
					return a.engine.List(ctx, nil)
				}
				var out []*engine.Container
				for _, ref := range args {
					c, err := a.engine.Get(ctx, ref)
					if err != nil {
						return nil, err
					}
					out = append(out, c)
				}
				return out, nil
			}
			return runStats(cmd.Context(), g, a, o, len(args) > 0, list)
		},
	}
	o.bind(cmd)
	return cmd
}

// newComposeStatsCommand is docker compose stats [SERVICE]: the project's
// containers.
func newComposeStatsCommand(g *globalOptions) *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [SERVICE]",
		Short: "Display a live stream of container(s) resource usage statistics",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, name, err := g.openProject(cmd.Context())
			if err != nil {
				return err
			}
			labels := map[string]string{spec.LabelProject: name}
			if len(args) > 0 {
				labels[spec.LabelService] = args[0]
			}
			list := func(ctx context.Context) ([]*engine.Container, error) { return a.engine.List(ctx, labels) }
			return runStats(cmd.Context(), g, a, o, false, list)
		},
	}
	o.bind(cmd)
	return cmd
}

// statsInterval is the time between two readings: the CPU % of a line is
// the use over it.
const statsInterval = time.Second

// runStats prints the containers list names, one line each, from two
// readings statsInterval apart; then, streaming, again each interval
// until interrupted (on a terminal, in place). named: the user named the
// containers, so stopped ones are shown too.
func runStats(ctx context.Context, g *globalOptions, a *app, o statsOptions, named bool, list func(context.Context) ([]*engine.Container, error)) error {
	if _, err := parseFormat(statsFormat(o.format)); err != nil {
		return err
	}
	tty := false
	if f, ok := g.stdout.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	prev := map[engine.ContainerID]engine.Stats{}
	ticker := time.NewTicker(statsInterval)
	defer ticker.Stop()
	for first := true; ; first = false {
		ctrs, err := list(ctx)
		if err != nil {
			return err
		}
		ctrs = slices.DeleteFunc(ctrs, func(c *engine.Container) bool {
			return !named && !o.all && c.State.Status != engine.StatusRunning
		})
		cur := map[engine.ContainerID]engine.Stats{}
		for _, c := range ctrs {
			if st, err := a.engine.Stats(ctx, c.ID); err == nil {
				cur[c.ID] = st
			}
		}
		if !first {
			rows := make([]statsRow, 0, len(ctrs))
			for _, c := range ctrs {
				st, ok := cur[c.ID]
				rows = append(rows, statsRow{c: c, cur: st, prev: prev[c.ID], running: ok, trunc: !o.noTrunc})
			}
			if err := printStats(g.stdout, o, rows, tty && !o.noStream); err != nil {
				return err
			}
			if o.noStream {
				return nil
			}
		}
		prev = cur
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-ticker.C:
		}
	}
}

func statsFormat(f string) string {
	if f == "" || f == "table" {
		return statsTable
	}
	return f
}

func printStats(w io.Writer, o statsOptions, rows []statsRow, redraw bool) error {
	if redraw {
		// As docker: the screen is cleared and the table drawn again.
		if _, err := io.WriteString(w, "\033[2J\033[H"); err != nil {
			return err
		}
	}
	return writeList(w, listing{format: statsFormat(o.format), header: statsHeader}, rows)
}

const statsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeader = headerFields{
	"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
	"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

// statsRow is a line of stats, with docker's fields.
type statsRow struct {
	c         *engine.Container
	prev, cur engine.Stats
	running   bool
	trunc     bool
}

func (r statsRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r statsRow) ID() string {
	if r.trunc {
		return shortID(string(r.c.ID))
	}
	return string(r.c.ID)
}

func (r statsRow) Container() string { return r.ID() }
func (r statsRow) Name() string      { return r.c.Config.Name }

func (r statsRow) CPUPerc() string {
	if !r.running || r.prev.Read.IsZero() {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", engine.CPUPercent(r.prev, r.cur))
}

func (r statsRow) MemUsage() string {
	return units.BytesSize(float64(r.cur.MemUsage)) + " / " + units.BytesSize(float64(r.cur.MemLimit))
}

func (r statsRow) MemPerc() string {
	if r.cur.MemLimit == 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", float64(r.cur.MemUsage)/float64(r.cur.MemLimit)*100)
}

func (r statsRow) NetIO() string {
	rx, tx := r.cur.NetTotals()
	return units.HumanSizeWithPrecision(float64(rx), 3) + " / " + units.HumanSizeWithPrecision(float64(tx), 3)
}

func (r statsRow) BlockIO() string {
	return units.HumanSizeWithPrecision(float64(r.cur.BlkRead), 3) + " / " + units.HumanSizeWithPrecision(float64(r.cur.BlkWrite), 3)
}

func (r statsRow) PIDs() string { return strconv.FormatUint(r.cur.PIDs, 10) }
