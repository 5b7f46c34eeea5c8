package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/containerd/errdefs"
	"gopkg.in/yaml.v3"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine/image"
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
	models        bool
	environment   bool
	variables     bool
	output        string
	render        spec.RenderOptions
	formatSet     bool // --format given: --variables is then yaml or json, else a table
	// resolveDigests pins the document's image references to digests
	// (--resolve-image-digests); lockDigests keeps only them, an override
	// file (--lock-image-digests, which implies the other).
	resolveDigests bool
	lockDigests    bool
}

func newConfigCommand(g *globalOptions) *cobra.Command {
	var o configOptions
	cmd := &cobra.Command{
		Use:   "config [OPTIONS] [SERVICE...]",
		Short: "Parse, resolve and render the Compose file in canonical format",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.formatSet = cmd.Flags().Changed("format")
			return runConfig(cmd.Context(), g, o, args)
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
	f.BoolVar(&o.models, "models", false, "print the model names, one per line")
	f.BoolVar(&o.environment, "environment", false, "print the environment used for interpolation")
	f.BoolVar(&o.variables, "variables", false, "print the model variables and their default values")
	f.BoolVar(&o.render.NoPathResolution, "no-path-resolution", false, "don't resolve file paths")
	f.BoolVar(&o.render.NoNormalize, "no-normalize", false, "don't normalize compose model")
	f.BoolVar(&o.render.NoConsistency, "no-consistency", false, "don't check model consistency - warning: may produce invalid Compose output")
	f.BoolVar(&o.render.NoEnvResolution, "no-env-resolution", false, "don't resolve service env files")
	f.StringVarP(&o.output, "output", "o", "", "save to file (default to stdout)")
	f.BoolVar(&o.resolveDigests, "resolve-image-digests", false, "pin image tags to digests (berth's copy's, else the registry's)")
	f.BoolVar(&o.lockDigests, "lock-image-digests", false, "produce an override file with image digests")
	return cmd
}

func runConfig(ctx context.Context, g *globalOptions, o configOptions, services []string) error {
	if len(services) > 0 && o.listing() {
		return fmt.Errorf("config %s: services select what the document shows; they do not apply to a list: %w", strings.Join(services, " "), errdefs.ErrInvalidArgument)
	}
	if len(services) > 0 && o.noInterpolate {
		return fmt.Errorf("config --no-interpolate %s: services cannot be selected in a document that is not interpolated: %w", strings.Join(services, " "), errdefs.ErrNotImplemented)
	}
	// Variables are read from the files as written.
	opt, err := g.project.loadOptions(o.noInterpolate || o.variables)
	if err != nil {
		return err
	}
	if !o.listing() {
		// They change the document only.
		opt.Render = o.render
		opt.Render.Services = services
	}
	p, err := spec.Load(ctx, opt)
	if err != nil {
		return err
	}
	if (o.resolveDigests || o.lockDigests) && !o.listing() {
		if p, err = pinImageDigests(ctx, g, p, o.lockDigests); err != nil {
			return err
		}
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
	case o.variables:
		vars, err := p.Variables()
		if err != nil {
			return err
		}
		return writeVariables(w, vars, o)
	case o.environment:
		env, err := p.EnvironmentLines()
		if err != nil {
			return err
		}
		return lines(env)
	case o.networks:
		return lines(p.NetworkNames())
	case o.models:
		return lines(p.ModelNames())
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

// writeVariables prints config --variables as docker compose does: a table
// of NAME, REQUIRED, DEFAULT VALUE and ALTERNATE VALUE, or with --format
// yaml or json the variables by name.
func writeVariables(w io.Writer, vars []spec.Variable, o configOptions) error {
	if o.formatSet {
		type variable struct {
			Name          string `json:"Name" yaml:"name"`
			DefaultValue  string `json:"DefaultValue" yaml:"defaultvalue"`
			PresenceValue string `json:"PresenceValue" yaml:"presencevalue"`
			Required      bool   `json:"Required" yaml:"required"`
		}
		byName := map[string]variable{}
		for _, v := range vars {
			byName[v.Name] = variable{Name: v.Name, DefaultValue: v.Default, PresenceValue: v.Alternate, Required: v.Required}
		}
		switch o.format {
		case "json":
			b, err := json.MarshalIndent(byName, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s\n", b)
			return err
		case "yaml":
			enc := yaml.NewEncoder(w)
			enc.SetIndent(2)
			if err := enc.Encode(byName); err != nil {
				return err
			}
			return enc.Close()
		}
		return fmt.Errorf("--format %q: must be yaml or json: %w", o.format, errdefs.ErrInvalidArgument)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREQUIRED\tDEFAULT VALUE\tALTERNATE VALUE")
	for _, v := range vars {
		fmt.Fprintf(tw, "%s\t%t\t%s\t%s\n", v.Name, v.Required, v.Default, v.Alternate)
	}
	return tw.Flush()
}

// pinImageDigests is p with its image references pinned to digests, as
// config --resolve-image-digests renders it (only those references with
// lock): the digest of berth's copy of an image when the store has it
// (what up runs), else the registry's. Warnings go to standard error.
func pinImageDigests(ctx context.Context, g *globalOptions, p *spec.Project, lock bool) (*spec.Project, error) {
	flag := "--resolve-image-digests"
	if lock {
		flag = "--lock-image-digests"
	}
	a, err := g.open()
	if err != nil {
		return nil, err
	}
	pinned, warnings, err := p.WithImageDigests(func(ref string) (string, error) {
		img, err := a.images.Resolve(ctx, ref)
		if err == nil {
			return img.Digest, nil
		}
		if !errdefs.IsNotFound(err) {
			return "", err
		}
		return a.images.RemoteDigest(ctx, ref, image.PullOptions{})
	}, lock)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	for _, w := range warnings {
		fmt.Fprintf(g.stderr, "WARN %s\n", w)
	}
	return pinned, nil
}

// listing tells whether config prints a list (names, hashes, variables,
// the environment) rather than the project's document.
func (o configOptions) listing() bool {
	return o.services || o.volumes || o.networks || o.models || o.images || o.profiles || o.hash != "" || o.environment || o.variables
}
