package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/spec"
)

type logsOptions struct {
	follow     bool
	tail       string
	timestamps bool
	noPrefix   bool
	since      string
	until      string
	index      int  // compose: only the container of that number
	noColor    bool // compose: no colours in the prefixes
	details    bool // container logs: the lines' attributes (logging labels, env, tag)
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] [SERVICE...]",
		Short: "View output from containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "follow log output")
	f.StringVarP(&o.tail, "tail", "n", "all", "number of lines to show from the end of the logs for each container")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "show timestamps")
	f.BoolVar(&o.noPrefix, "no-log-prefix", false, "don't print prefix in logs")
	f.StringVar(&o.since, "since", "", "show logs since timestamp (2013-01-02T13:23:37Z) or relative (42m)")
	f.StringVar(&o.until, "until", "", "show logs before a timestamp or relative (42m)")
	f.IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas")
	f.BoolVar(&o.noColor, "no-color", false, "produce monochrome output")
	return cmd
}

func runLogs(ctx context.Context, g *globalOptions, o logsOptions, services []string) error {
	if o.index < 0 {
		return fmt.Errorf("--index %d: must be 1 or more: %w", o.index, errdefs.ErrInvalidArgument)
	}
	opt, err := o.engineOptions(time.Now())
	if err != nil {
		return err
	}
	a, name, err := g.openProject(ctx)
	if err != nil {
		return err
	}
	ctrs, err := a.engine.List(ctx, map[string]string{spec.LabelProject: name})
	if err != nil {
		return err
	}
	var selected []*engine.Container
	width := 0
	for _, c := range ctrs {
		if len(services) > 0 && !slices.Contains(services, c.Config.Labels[spec.LabelService]) {
			continue
		}
		if o.index > 0 && containerNumber(c) != o.index {
			continue
		}
		selected = append(selected, c)
		width = max(width, len(logPrefix(name, c)))
	}
	out := &lockedWriter{w: g.stdout}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(64)
	colour := !o.noColor && isTerminal(g.stdout)
	for i, c := range selected {
		prefix := ""
		if !o.noPrefix {
			sgr := ""
			if colour {
				sgr = palette[i%len(palette)]
			}
			prefix = linePrefix(name, c, width, sgr)
		}
		eg.Go(func() error {
			return a.engine.Logs(ctx, c.ID, opt, func(l engine.LogLine) error {
				return out.write(formatLogLine(prefix, o.timestamps, l))
			})
		})
	}
	return eg.Wait()
}

// logPrefix is what docker compose prints before each line: the container
// name without the project prefix ("web-1").
func logPrefix(project string, c *engine.Container) string {
	return strings.TrimPrefix(c.Config.Name, project+"-")
}

// linePrefix is logPrefix padded to width with its separator ("web-1 | "),
// in the terminal colour given (an SGR code from palette; "" for none).
func linePrefix(project string, c *engine.Container, width int, colour string) string {
	p := fmt.Sprintf("%-*s | ", width, logPrefix(project, c))
	if colour != "" {
		p = "\x1b[" + colour + "m" + p + "\x1b[0m"
	}
	return p
}

func (o logsOptions) engineOptions(now time.Time) (engine.LogOptions, error) {
	opt := engine.LogOptions{Follow: o.follow, Tail: -1, Details: o.details}
	if o.tail != "all" && o.tail != "" {
		var n int
		if _, err := fmt.Sscan(o.tail, &n); err != nil || n < 0 {
			return opt, fmt.Errorf("--tail %q: not a number of lines", o.tail)
		}
		opt.Tail = n
	}
	var err error
	if opt.Since, err = parseTimeFlag("--since", o.since, now); err != nil {
		return opt, err
	}
	if opt.Until, err = parseTimeFlag("--until", o.until, now); err != nil {
		return opt, err
	}
	return opt, nil
}

// unixSeconds is a Unix time as docker's --since and --until take it:
// seconds, and a fraction of up to nine digits.
var unixSeconds = lazyregexp.New(`^[0-9]+(\.[0-9]{1,9})?$`)

// parseTimeFlag reads an RFC 3339 time, a Unix time ("1700000000.5") or
// a duration before now ("42m").
func parseTimeFlag(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); unixSeconds.MatchString(v) {
		n, _ := strconv.ParseInt(sec, 10, 64)
		ns := int64(0)
		if ok {
			ns, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		}
		return time.Unix(n, ns), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: not a timestamp or a duration", flag, v)
}

// lockedWriter serialises whole lines from several goroutines.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) write(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := io.WriteString(l.w, s)
	return err
}
