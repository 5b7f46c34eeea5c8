package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/spec"
)

type configOptions struct {
	format        string
	services      bool
	volumes       bool
	images        bool
	profiles      bool
	hash          string
	noInterpolate bool
	quiet         bool
	networks      bool
	environment   bool
	output        string
}

func newConfigCommand(g *globalOptions) *cobra.Command {
	var o configOptions
	cmd := &cobra.Command{
		Use:   "config [OPTIONS] [SERVICE...]",
		Short: "Parse, resolve and render the Compose file in canonical format",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfig(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "yaml", "format: yaml or json")
	f.BoolVar(&o.services, "services", false, "print the service names, one per line")
	f.BoolVar(&o.volumes, "volumes", false, "print the volume names, one per line")
	f.BoolVar(&o.images, "images", false, "print the image names, one per line")
	f.BoolVar(&o.profiles, "profiles", false, "print the profile names, one per line")
	f.StringVar(&o.hash, "hash", "", `print the service config hash, one per line ("*" for all)`)
	f.BoolVar(&o.noInterpolate, "no-interpolate", false, "don't interpolate environment variables")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "only validate the configuration, don't print anything")
	f.BoolVar(&o.networks, "networks", false, "print the network names, one per line")
	f.BoolVar(&o.environment, "environment", false, "print the environment used for interpolation")
	f.StringVarP(&o.output, "output", "o", "", "save to file (default to stdout)")
	return cmd
}

func runConfig(ctx context.Context, g *globalOptions, o configOptions) error {
	opt, err := g.project.loadOptions(o.noInterpolate)
	if err != nil {
		return err
	}
	p, err := spec.Load(ctx, opt)
	if err != nil {
		return err
	}
	if o.quiet {
		return nil
	}
	var buf bytes.Buffer
	if err := renderConfig(&buf, p, o); err != nil {
		return err
	}
	if o.output == "" {
		_, err = g.stdout.Write(buf.Bytes())
		return err
	}
	if err := atomicfile.WriteFile(o.output, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--output %q: %w", o.output, err)
	}
	return nil
}

// renderConfig writes what config's flags ask for to w.
func renderConfig(w io.Writer, p *spec.Project, o configOptions) error {
	lines := func(xs []string) error {
		for _, x := range xs {
			fmt.Fprintln(w, x)
		}
		return nil
	}
	switch {
	case o.environment:
		env, err := p.EnvironmentLines()
		if err != nil {
			return err
		}
		return lines(env)
	case o.networks:
		return lines(p.NetworkNames())
	case o.services:
		return lines(p.ServiceNames())
	case o.volumes:
		return lines(p.VolumeNames())
	case o.images:
		return lines(p.Images())
	case o.profiles:
		return lines(p.AllProfiles())
	case o.hash != "":
		hashes, err := p.ConfigHashes(o.hash)
		if err != nil {
			return err
		}
		return lines(hashes)
	}
	b, err := p.Render(o.format)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
