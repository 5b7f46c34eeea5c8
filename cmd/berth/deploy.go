package main

import (
	"fmt"
	"os"
	"time"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/deploy"
	"github.com/berth-dev/berth/deploy/swarm"
)

// deployOptions are the flags of `berth deploy`.
type deployOptions struct {
	host         string
	context      string
	prune        bool
	down         bool
	detach       bool
	waitTimeout  time.Duration
	endpointMode string
	registry     string
}

func newDeployCommand(g *globalOptions) *cobra.Command {
	var o deployOptions
	cmd := &cobra.Command{
		Use:   "deploy [OPTIONS] [SERVICE...]",
		Short: "Deploy the project onto a Docker Swarm cluster and wait until it runs",
		Long: `Deploy converges a Docker Swarm cluster onto the project: each service becomes
a Swarm service <project>_<service> of the stack <project>, networks become
attachable overlay networks, configs and secrets Swarm configs and secrets
versioned by content. It prints what it changes, updates only the services
that changed, and waits until every service runs its desired tasks.

The cluster is --host, else --context, else DOCKER_HOST, DOCKER_CONTEXT or the
docker CLI's current context.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeploy(cmd, g, o, args)
		},
	}
	addClusterFlags(cmd, &o)
	cmd.AddCommand(newDeployPsCommand(g, &o), newDeployLogsCommand(g, &o), newDeployRmCommand(g, &o))
	f := cmd.Flags()
	f.BoolVar(&o.prune, "prune", false, "remove services, configs, secrets and networks of the stack that left the file")
	f.BoolVar(&o.down, "down", false, "remove the stack")
	f.BoolVarP(&o.detach, "detach", "d", false, "return once the changes are sent, without waiting for the services to run")
	f.DurationVar(&o.waitTimeout, "wait-timeout", 3*time.Minute, "how long to wait for the services to run")
	f.StringVar(&o.registry, "registry", "", "HOST[:PORT][/PATH]: build the services that have build: with berth's builder and push their images there for the nodes to pull")
	f.StringVar(&o.endpointMode, "endpoint-mode", "dnsrr", "for services whose file sets none: vip (the routing mesh; needs IPVS) or dnsrr with host-mode ports")
	return cmd
}

func newUndeployCommand(g *globalOptions) *cobra.Command {
	var o deployOptions
	cmd := &cobra.Command{
		Use:   "undeploy [OPTIONS]",
		Short: "Remove the project's stack from a Docker Swarm cluster (deploy --down)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.down = true
			return runDeploy(cmd, g, o, nil)
		},
	}
	addClusterFlags(cmd, &o)
	return cmd
}

// addClusterFlags adds how to reach the cluster, for the command and its
// subcommands.
func addClusterFlags(cmd *cobra.Command, o *deployOptions) {
	f := cmd.PersistentFlags()
	f.StringVarP(&o.host, "host", "H", "", "the Swarm manager's Engine API: unix:///path or tcp://host:port (DOCKER_HOST)")
	f.StringVar(&o.context, "context", "", "a docker CLI context naming the Swarm manager (DOCKER_CONTEXT)")
}

// connect reaches the Swarm manager the flags, the environment or the
// docker CLI's context name.
func (o deployOptions) connect(cmd *cobra.Command) (*swarm.Cluster, error) {
	home, _ := os.UserHomeDir()
	ep, err := swarm.ResolveEndpoint(swarm.EndpointOptions{Host: o.host, Context: o.context, Env: os.Environ(), HomeDir: home})
	if err != nil {
		return nil, err
	}
	return swarm.Connect(cmd.Context(), ep)
}

func runDeploy(cmd *cobra.Command, g *globalOptions, o deployOptions, services []string) error {
	ctx := cmd.Context()
	if o.endpointMode != "" && o.endpointMode != "vip" && o.endpointMode != "dnsrr" {
		return fmt.Errorf("--endpoint-mode %q: want vip or dnsrr: %w", o.endpointMode, errdefs.ErrInvalidArgument)
	}
	p, err := g.load(ctx, services...)
	if err != nil {
		return err
	}
	cluster, err := o.connect(cmd)
	if err != nil {
		return err
	}
	var desired []deploy.Object
	if !o.down {
		if err := buildForCluster(ctx, g, p, o.registry, g.dryRun); err != nil {
			return err
		}
		contents, err := swarm.Contents(p)
		if err != nil {
			return err
		}
		tr, err := swarm.Translate(p, contents, swarm.Options{VIP: o.endpointMode == "vip", APIVersion: cluster.APIVersion()})
		if err != nil {
			return err
		}
		desired = tr.Objects
		for _, n := range tr.Notes {
			fmt.Fprintln(g.stderr, "note: "+n)
		}
	}
	opt := deploy.Options{
		PlanOptions: deploy.PlanOptions{Prune: o.prune, Down: o.down, Services: services},
		DryRun:      g.dryRun,
		Wait:        !o.detach,
		WaitTimeout: o.waitTimeout,
	}
	report := func(e deploy.Event) {
		if e.Err == nil {
			fmt.Fprintf(g.stdout, "%s: %s\n", e.Target, e.Status)
		}
	}
	plan, err := deploy.Run(ctx, cluster, p.Name, desired, opt, report)
	if opt.DryRun && err == nil {
		fmt.Fprint(g.stdout, plan.String())
		return nil
	}
	if err == nil && len(plan.Actions) == 0 && !o.down {
		fmt.Fprintf(g.stdout, "stack %s: nothing to change\n", p.Name)
	}
	return err
}
