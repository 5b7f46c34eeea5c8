package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/dockerapi"
)

// inspectEach finds every ref with get and prints the documents as docker's
// inspect commands do (see writeInspect): the refs not found are errors,
// joined, after the others are printed.
func inspectEach[T any](ctx context.Context, g *globalOptions, refs []string, format string, get func(context.Context, *app, string) (T, error)) error {
	a, err := g.open()
	if err != nil {
		return err
	}
	docs := make([]T, 0, len(refs))
	var errs []error
	for _, ref := range refs {
		v, err := get(ctx, a, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, v)
	}
	return errors.Join(writeInspect(g.stdout, format, docs), errors.Join(errs...))
}

// addInspectFormat adds docker's -f/--format of the inspect commands.
func addInspectFormat(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "format", "f", "", `format: "json" or a Go template ({{.State.Pid}}); default: indented JSON`)
}

// objects are the networks and volumes a container's documents mention.
func objects(ctx context.Context, a *app) (dockerapi.Objects, error) {
	return dockerapi.LoadObjects(ctx, a.engine, a.nets)
}

func newContainerInspectCommand(g *globalOptions) *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER...",
		Short: "Display detailed information on one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var objs *dockerapi.Objects
			return inspectEach(cmd.Context(), g, args, format, func(ctx context.Context, a *app, ref string) (any, error) {
				c, err := a.engine.Get(ctx, ref)
				if err != nil {
					return nil, err
				}
				if objs == nil {
					o, err := objects(ctx, a)
					if err != nil {
						return nil, err
					}
					objs = &o
				}
				doc := dockerapi.ContainerInspect(c, *objs)
				if size {
					rw, rootfs, err := a.engine.Size(ctx, c.ID)
					if err != nil {
						return nil, err
					}
					doc.SizeRw, doc.SizeRootFs = &rw, &rootfs
				}
				return doc, nil
			})
		},
	}
	addInspectFormat(cmd, &format)
	cmd.Flags().BoolVarP(&size, "size", "s", false, "display total file sizes")
	return cmd
}
