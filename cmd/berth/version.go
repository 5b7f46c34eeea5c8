package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// versionInfo is what a `version --format` template reads: {{.Version}}
// as docker compose's, {{.Client.Version}} as docker's.
type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"-"`
	Os        string `json:"-"`
	Arch      string `json:"-"`
}

// Client is the information itself, for docker's {{.Client.Version}}.
func (v versionInfo) Client() versionInfo { return v }

func newVersionCommand(g *globalOptions) *cobra.Command {
	var format string
	var short bool
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := versionInfo{Version: berthVersion(), GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH}
			if short {
				_, err := fmt.Fprintln(g.stdout, v.Version)
				return err
			}
			switch format {
			case "", "pretty":
				_, err := fmt.Fprintf(g.stdout, "berth version %s\n", v.Version)
				return err
			case "json": // docker compose's {"version":"…"}
				return writeJSONLine(g.stdout, v)
			}
			return writeList(g.stdout, listing{format: format}, []versionInfo{v})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "pretty", `format: "pretty", "json" or a Go template ({{.Version}}, {{.Client.Version}})`)
	cmd.Flags().BoolVar(&short, "short", false, "shows only berth's version number")
	return cmd
}

// printVersion is `berth version` and `berth -v`.
func printVersion(w io.Writer) error {
	_, err := fmt.Fprintf(w, "berth version %s\n", berthVersion())
	return err
}

// berthVersion is the version berth reports: the one set at build time,
// else "dev-" and the commit it was built from.
func berthVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	return v
}
