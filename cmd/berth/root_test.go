package main

import (
	"io"
	"slices"
	"testing"

	"github.com/spf13/cobra"
)

func TestCommandSetsNameTheirCommands(t *testing.T) {
	g := &globalOptions{stdout: io.Discard, stderr: io.Discard}
	seen := map[string]bool{}
	for _, set := range commandSets() {
		var got []string
		for _, c := range set.make(g) {
			got = append(got, c.Name())
			if len(c.Aliases) > 0 {
				t.Errorf("command %q has aliases %q: newRootCommandFor matches names only", c.Name(), c.Aliases)
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(set.names))) {
			t.Errorf("command set %q makes %q", set.names, got)
		}
		for _, n := range set.names {
			if seen[n] {
				t.Errorf("command %q in two sets", n)
			}
			seen[n] = true
		}
	}
	if n := len(newRootCommand(g).Commands()); n != len(seen) {
		t.Errorf("the whole tree has %d top-level commands, the sets name %d", n, len(seen))
	}
}

func TestRootCommandForArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // the top-level commands built; nil: all of them
	}{
		{"verb alone", []string{"up", "-d"}, []string{"up"}},
		{"after the root's flags", []string{"--root", "/x", "-f", "a.yaml", "-p", "p", "--parallel", "2", "up", "-d"}, []string{"up"}},
		{"flag values like verbs", []string{"-p", "down", "ps"}, []string{"ps"}},
		{"a command of a set", []string{"stop", "web"}, []string{"restart", "rm", "start", "stop"}},
		{"group", []string{"container", "ls"}, []string{"container"}},
		{"no verb", nil, nil},
		{"root flags only", []string{"--version"}, nil},
		{"help", []string{"help", "up"}, nil},
		{"root help", []string{"--help"}, nil},
		{"unknown verb", []string{"upp"}, nil},
		{"unknown root flag", []string{"--nope", "up"}, nil},
		{"after --", []string{"--", "up"}, nil},
		{"completion", []string{"completion", "bash"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &globalOptions{stdout: io.Discard, stderr: io.Discard}
			var got []string
			for _, c := range newRootCommandFor(g, tc.args).Commands() {
				got = append(got, c.Name())
			}
			want := tc.want
			if want == nil {
				for _, c := range newRootCommand(g).Commands() {
					want = append(want, c.Name())
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("newRootCommandFor(%q) built %q, want %q", tc.args, got, want)
			}
		})
	}
}

// A command built alone is the command of the whole tree: same usage,
// flags and help.
func TestCommandAloneAsInTheTree(t *testing.T) {
	g := &globalOptions{stdout: io.Discard, stderr: io.Discard}
	for _, c := range newRootCommand(g).Commands() {
		alone := newRootCommandFor(g, []string{c.Name()}).Commands()
		var a *cobra.Command
		for _, x := range alone {
			if x.Name() == c.Name() {
				a = x
			}
		}
		if a == nil {
			t.Errorf("%s: not built alone", c.Name())
			continue
		}
		if a.UsageString() != c.UsageString() || a.Long != c.Long || a.Short != c.Short {
			t.Errorf("%s alone: usage\n%s\nin the tree:\n%s", c.Name(), a.UsageString(), c.UsageString())
		}
	}
}
