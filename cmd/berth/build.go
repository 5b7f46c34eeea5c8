package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine/build"
)

// imageBuildOptions are `berth image build`'s flags, as docker build's.
type imageBuildOptions struct {
	tags      []string
	file      string
	buildArgs []string
	target    string
	noCache   bool
	labels    []string
	network   string
	secrets   []string
	ssh       []string
	allow     []string
	pull      bool
	iidfile   string
	progress  string
	quiet     bool
}

func newImageBuildCommand(g *globalOptions) *cobra.Command {
	var o imageBuildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageBuild(cmd.Context(), g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.tags, "tag", "t", nil, "name and optionally a tag (name:tag)")
	f.StringVarP(&o.file, "file", "f", "", "name of the Dockerfile (default: PATH/Dockerfile; - reads it from stdin)")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "set a build-time variable (KEY=VALUE, or KEY to take it from the environment)")
	f.StringVar(&o.target, "target", "", "the build stage to build")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use the cache when building the image")
	f.StringArrayVar(&o.labels, "label", nil, "set a metadata label on the image (KEY=VALUE)")
	f.StringVar(&o.network, "network", "default", "the network of RUN instructions: default, none or host")
	f.StringArrayVar(&o.secrets, "secret", nil, "a secret RUN --mount=type=secret can mount: id=ID[,src=PATH|env=VAR]")
	f.StringArrayVar(&o.ssh, "ssh", nil, "an SSH agent RUN --mount=type=ssh can use: default|ID[=SOCKET]")
	f.StringArrayVar(&o.allow, "allow", nil, "an extra privilege for RUN steps: network.host or security.insecure")
	f.BoolVar(&o.pull, "pull", false, "always attempt to pull a newer version of the FROM images")
	f.StringVar(&o.iidfile, "iidfile", "", "write the image ID to the file")
	f.StringVar(&o.progress, "progress", "auto", "progress output: auto, plain, tty or quiet")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "suppress the build output and print the image ID on success")
	return cmd
}

func runImageBuild(ctx context.Context, g *globalOptions, o imageBuildOptions, contextDir string) error {
	opt := build.Options{ContextDir: contextDir, Dockerfile: o.file, Tags: o.tags, Target: o.target,
		NoCache: o.noCache, Network: o.network, Pull: o.pull, Allow: o.allow}
	switch o.network {
	case "", "default", "none", "host":
	default:
		return fmt.Errorf("--network=%s: want default, none or host: %w", o.network, errdefs.ErrInvalidArgument)
	}
	for _, a := range o.allow {
		if a != build.AllowNetworkHost && a != build.AllowSecurityInsecure {
			return fmt.Errorf("--allow=%s: want %s or %s: %w", a, build.AllowNetworkHost, build.AllowSecurityInsecure, errdefs.ErrInvalidArgument)
		}
	}
	if o.file == "-" {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			return fmt.Errorf("read the Dockerfile from stdin: %w", err)
		}
		opt.DockerfileContent = data
	}
	var err error
	if opt.BuildArgs, err = buildArgs(o.buildArgs); err != nil {
		return err
	}
	if opt.Labels, err = keyValues("label", o.labels); err != nil {
		return err
	}
	if opt.Secrets, err = buildSecrets(o.secrets, os.LookupEnv); err != nil {
		return err
	}
	if opt.SSH, err = buildSSH(o.ssh, os.LookupEnv); err != nil {
		return err
	}
	switch o.progress {
	case "auto", "plain", "tty", "quiet":
	default:
		return fmt.Errorf("--progress=%s: want auto, plain, tty or quiet: %w", o.progress, errdefs.ErrInvalidArgument)
	}
	quiet := o.quiet || o.progress == "quiet"
	var pr *plainProgress
	if !quiet {
		pr = &plainProgress{w: g.stderr, names: map[int]string{}}
		opt.Events = pr.event
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	res, err := a.builder.Build(ctx, opt)
	if err != nil {
		var se *build.StepError
		if errors.As(err, &se) && quiet {
			// The output was not shown: the step's last lines say why.
			for _, l := range se.Tail {
				fmt.Fprintln(g.stderr, l)
			}
		}
		return err
	}
	if o.iidfile != "" {
		if err := os.WriteFile(o.iidfile, []byte(res.ImageID), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if quiet {
		fmt.Fprintln(g.stdout, res.ImageID)
		return nil
	}
	pr.finish(res)
	return nil
}

// buildArgs parses --build-arg KEY=VALUE flags; a bare KEY takes the
// environment's value, and is left out when the environment has none.
func buildArgs(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("--build-arg %q: want KEY=VALUE: %w", kv, errdefs.ErrInvalidArgument)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

// plainProgress renders a build's events as BuildKit's plain output:
// "#3 [build 2/3] RUN make", its output lines prefixed "#3 ", then
// "#3 DONE 0.4s" or "#3 CACHED".
type plainProgress struct {
	w     io.Writer
	mu    sync.Mutex // guards names
	names map[int]string
}

func (p *plainProgress) event(ev build.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Status {
	case build.StepStarted:
		p.names[ev.Vertex] = ev.Name
		fmt.Fprintf(p.w, "#%d %s\n", ev.Vertex, ev.Name)
	case build.StepCached:
		fmt.Fprintf(p.w, "#%d %s\n#%d CACHED\n\n", ev.Vertex, ev.Name, ev.Vertex)
	case build.StepOutput:
		fmt.Fprintf(p.w, "#%d %s\n", ev.Vertex, ev.Line)
	case build.StepDone:
		fmt.Fprintf(p.w, "#%d DONE %.1fs\n\n", ev.Vertex, ev.Duration.Seconds())
	case build.StepFailed:
		fmt.Fprintf(p.w, "#%d ERROR %.1fs\n\n", ev.Vertex, ev.Duration.Seconds())
	}
}

func (p *plainProgress) finish(res *build.Result) {
	for _, t := range res.Tags {
		fmt.Fprintf(p.w, "naming to %s done\n", t)
	}
	fmt.Fprintf(p.w, "writing image %s done\n", res.ImageID)
}
