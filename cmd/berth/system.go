package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
)

// newSystemInfoCommand is `berth system info`: docker info's document.
func newSystemInfoCommand(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			info, err := dockerapi.Info(cmd.Context(), a.engine, dockerapi.InfoOptions{Version: version, Root: a.root, Runtime: g.runtime})
			if err != nil {
				return err
			}
			if format != "" {
				return writeInspectOne(g.stdout, format, info)
			}
			return printInfo(g.stdout, info)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", `format the output using the given Go template ("json": the document)`)
	return cmd
}

// writeInspectOne runs a --format on one document as docker info does.
func writeInspectOne(w io.Writer, format string, doc any) error {
	return writeList(w, listing{format: format}, []any{doc})
}

// printInfo prints the document as docker info does, the parts that apply.
func printInfo(w io.Writer, i system.Info) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Client:\n Version:    %s\n Context:    default\n\n", version)
	fmt.Fprintf(&b, "Server:\n Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n", i.Containers, i.ContainersRunning, i.ContainersPaused, i.ContainersStopped)
	fmt.Fprintf(&b, " Images: %d\n Server Version: %s\n Storage Driver: %s\n", i.Images, i.ServerVersion, i.Driver)
	for _, kv := range i.DriverStatus {
		fmt.Fprintf(&b, "  %s: %s\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, " Logging Driver: %s\n Cgroup Driver: %s\n Cgroup Version: %s\n", i.LoggingDriver, i.CgroupDriver, i.CgroupVersion)
	fmt.Fprintf(&b, " Runtimes: %s\n Default Runtime: %s\n Init Binary: %s\n", strings.Join(slices.Sorted(maps.Keys(i.Runtimes)), " "), i.DefaultRuntime, i.InitBinary)
	if len(i.SecurityOptions) > 0 {
		fmt.Fprintln(&b, " Security Options:")
		for _, o := range i.SecurityOptions {
			fmt.Fprintf(&b, "  %s\n", strings.TrimPrefix(strings.SplitN(o, ",", 2)[0], "name="))
		}
	}
	fmt.Fprintf(&b, " Kernel Version: %s\n Operating System: %s\n OSType: %s\n Architecture: %s\n", i.KernelVersion, i.OperatingSystem, i.OSType, i.Architecture)
	fmt.Fprintf(&b, " CPUs: %d\n Total Memory: %s\n Name: %s\n ID: %s\n Docker Root Dir: %s\n", i.NCPU, units.BytesSize(float64(i.MemTotal)), i.Name, i.ID, i.DockerRootDir)
	fmt.Fprintf(&b, " Debug Mode: false\n Experimental: false\n Live Restore Enabled: %t\n", i.LiveRestoreEnabled)
	_, err := io.WriteString(w, b.String())
	return err
}

type systemPruneOptions struct {
	all     bool
	volumes bool
	force   bool
	filters []string
}

// newSystemPruneCommand is `berth system prune`: container, network,
// image and (with --volumes) volume prune, after one confirmation.
func newSystemPruneCommand(g *globalOptions) *cobra.Command {
	var o systemPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSystemPrune(cmd.Context(), g, o, cmd.InOrStdin())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "remove all unused images not just dangling ones")
	f.BoolVar(&o.volumes, "volumes", false, "prune anonymous volumes")
	f.BoolVarP(&o.force, "force", "f", false, "do not prompt for confirmation")
	f.StringArrayVar(&o.filters, "filter", nil, `provide filter values: "label=KEY" or "label=KEY=VALUE"`)
	return cmd
}

func runSystemPrune(ctx context.Context, g *globalOptions, o systemPruneOptions, stdin io.Reader) error {
	if _, err := labelFilters(o.filters); err != nil {
		return err
	}
	if !o.force {
		what := []string{"all stopped containers", "all networks not used by at least one container"}
		if o.volumes {
			what = append(what, "all anonymous volumes not used by at least one container")
		}
		if o.all {
			what = append(what, "all images without at least one container associated to them")
		} else {
			what = append(what, "all dangling images")
		}
		fmt.Fprintf(g.stderr, "WARNING! This will remove:\n  - %s\n\nAre you sure you want to continue? [y/N] ", strings.Join(what, "\n  - "))
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
			return fmt.Errorf("system prune: not confirmed: %w", errdefs.ErrFailedPrecondition)
		}
	}
	errs := []error{
		runContainerPrune(ctx, g, containerPruneOptions{force: true, filters: o.filters}, stdin),
		runNetworkPrune(ctx, g, networkPruneOptions{force: true, filters: o.filters}),
	}
	if o.volumes {
		errs = append(errs, runVolumePrune(ctx, g, volumePruneOptions{force: true, filters: o.filters}))
	}
	errs = append(errs, runImagePrune(ctx, g, pruneOptions{all: o.all, force: true, filters: o.filters}, stdin))
	return errors.Join(errs...)
}
