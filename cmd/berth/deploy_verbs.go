package main

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/deploy/swarm"
)

// deployTaskRow is one line of `berth deploy ps`, with docker stack ps's
// fields for --format.
type deployTaskRow struct {
	swarm.Task
	now time.Time
}

func (r deployTaskRow) Node() string { return r.Task.Node }

// CurrentState is docker's "Running 5 minutes ago".
func (r deployTaskRow) CurrentState() string {
	state := strings.ToUpper(r.Task.CurrentState[:1]) + r.Task.CurrentState[1:]
	return state + " " + ago(r.now, r.Since)
}

// DesiredState is docker's capitalised state.
func (r deployTaskRow) DesiredState() string {
	if r.Task.DesiredState == "" {
		return ""
	}
	return strings.ToUpper(r.Task.DesiredState[:1]) + r.Task.DesiredState[1:]
}

// ID is the task's ID, truncated as docker stack ps does.
func (r deployTaskRow) ID() string { return truncate(r.Task.ID, 12) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

const deployPsTable = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}"

var deployPsHeader = headerFields{"ID": "ID", "Name": "NAME", "Image": "IMAGE", "Node": "NODE",
	"DesiredState": "DESIRED STATE", "CurrentState": "CURRENT STATE", "Error": "ERROR"}

func newDeployPsCommand(g *globalOptions, o *deployOptions) *cobra.Command {
	var format string
	var running, quiet bool
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [SERVICE...]",
		Short: "List the tasks of the deployed project, as docker stack ps",
		RunE: func(cmd *cobra.Command, services []string) error {
			cl, name, err := deployTarget(cmd, g, o)
			if err != nil {
				return err
			}
			tasks, err := cl.Tasks(cmd.Context(), name, services)
			if err != nil {
				return err
			}
			now := time.Now()
			var rows []deployTaskRow
			for _, t := range tasks {
				if running && t.DesiredState != "running" {
					continue
				}
				if quiet {
					fmt.Fprintln(g.stdout, t.ID)
					continue
				}
				rows = append(rows, deployTaskRow{Task: t, now: now})
			}
			if quiet {
				return nil
			}
			return writeList(g.stdout, listing{format: format, defaultTable: deployPsTable, header: deployPsHeader}, rows)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "format output using a Go template, \"table\" or \"json\"")
	f.BoolVar(&running, "running", false, "only tasks whose desired state is running (docker's --filter desired-state=running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display task IDs")
	return cmd
}

func newDeployLogsCommand(g *globalOptions, o *deployOptions) *cobra.Command {
	var lo swarm.LogOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] [SERVICE...]",
		Short: "Show the output of the deployed project's tasks, as docker service logs",
		RunE: func(cmd *cobra.Command, services []string) error {
			cl, name, err := deployTarget(cmd, g, o)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if lo.Follow {
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
				defer stop()
			}
			return cl.Logs(ctx, name, services, lo, g.stdout)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&lo.Follow, "follow", "f", false, "follow log output")
	f.StringVarP(&lo.Tail, "tail", "n", "all", "number of lines to show from the end of each task's output")
	f.BoolVarP(&lo.Timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVar(&lo.Since, "since", "", "show logs since a timestamp or relative time (e.g. 42m)")
	return cmd
}

func newDeployRmCommand(g *globalOptions, o *deployOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rm",
		Short: "Remove the deployed project from the cluster (undeploy)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			down := *o
			down.down = true
			return runDeploy(cmd, g, down, nil)
		},
	}
}

// deployTarget connects to the cluster and names the project's stack.
func deployTarget(cmd *cobra.Command, g *globalOptions, o *deployOptions) (*swarm.Cluster, string, error) {
	p, err := g.load(cmd.Context())
	if err != nil {
		return nil, "", err
	}
	cl, err := o.connect(cmd)
	if err != nil {
		return nil, "", err
	}
	return cl, p.Name, nil
}
