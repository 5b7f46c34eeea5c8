package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagParity compares berth's verbs and flags with docker compose's and
// the docker CLI's (testdata/docker-flags.txt, made by hack/flagparity):
// every difference must be listed, with its reason, in
// testdata/flag-differences.txt, and every difference listed must still
// exist.
func TestFlagParity(t *testing.T) {
	want := readFlagList(t, "testdata/docker-flags.txt")
	listed := readDifferences(t, "testdata/flag-differences.txt")
	have := berthVerbs(newRootCommand(&globalOptions{stdout: io.Discard, stderr: io.Discard}))
	found := flagDifferences(want, have)
	var unlisted, stale []string
	for _, d := range found {
		if _, ok := listed[d]; !ok {
			unlisted = append(unlisted, d)
		}
	}
	for d := range listed {
		if !slices.Contains(found, d) {
			stale = append(stale, d)
		}
	}
	slices.Sort(stale)
	if len(unlisted) > 0 {
		t.Errorf("differences from docker not in testdata/flag-differences.txt (add them with a reason, or close them):\n%s",
			strings.Join(unlisted, "\n"))
	}
	if len(stale) > 0 {
		t.Errorf("testdata/flag-differences.txt lists differences that are gone (remove them):\n%s", strings.Join(stale, "\n"))
	}
}

// dockerFlag is one line of docker-flags.txt.
type dockerFlag struct {
	short  string // "" for none
	hidden bool
	alias  string // the flag this old spelling stands for
}

// dockerVerb is a verb of docker-flags.txt and its flags by name.
type dockerVerb struct{ flags map[string]dockerFlag }

func readFlagList(t *testing.T, path string) map[string]*dockerVerb {
	t.Helper()
	verbs := map[string]*dockerVerb{}
	eachLine(t, path, func(fields []string) error {
		if len(fields) != 4 {
			return fmt.Errorf("want VERB FLAG SHORTHAND VISIBILITY")
		}
		v := verbs[fields[0]]
		if v == nil {
			v = &dockerVerb{flags: map[string]dockerFlag{}}
			verbs[fields[0]] = v
		}
		if fields[1] == "-" {
			return nil
		}
		f := dockerFlag{hidden: fields[3] == "hidden"}
		if fields[2] != "-" {
			f.short = fields[2]
		}
		if a, ok := strings.CutPrefix(fields[3], "alias:"); ok {
			f.alias = a
		}
		v.flags[fields[1]] = f
		return nil
	})
	return verbs
}

// readDifferences reads "VERB FLAG KIND reason…" lines, keyed by their
// first three fields; a line without a reason is an error.
func readDifferences(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eachLine(t, path, func(fields []string) error {
		if len(fields) < 4 {
			return fmt.Errorf("want VERB FLAG KIND REASON")
		}
		key := strings.Join(fields[:3], " ")
		if _, dup := out[key]; dup {
			return fmt.Errorf("%s: listed twice", key)
		}
		out[key] = strings.Join(fields[3:], " ")
		return nil
	})
	return out
}

func eachLine(t *testing.T, path string, fn func([]string) error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := fn(strings.Fields(line)); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// berthVerbs is berth's command tree by verb path ("." the root, then
// "exec", "container/run", …).
func berthVerbs(root *cobra.Command) map[string]*cobra.Command {
	out := map[string]*cobra.Command{}
	var walk func(c *cobra.Command, path string)
	walk = func(c *cobra.Command, path string) {
		out[path] = c
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			p := sub.Name()
			if path != "." {
				p = path + "/" + p
			}
			walk(sub, p)
		}
	}
	walk(root, ".")
	return out
}

// flagDifferences lists, as "VERB FLAG KIND", how berth differs from
// docker: a verb or flag missing or extra, another shorthand, another
// visibility, an old spelling not understood. A missing verb is one
// difference, not one per flag.
func flagDifferences(want map[string]*dockerVerb, have map[string]*cobra.Command) []string {
	var out []string
	for verb, dv := range want {
		cmd, ok := have[verb]
		if !ok {
			out = append(out, verb+" - missing")
			continue
		}
		fs := cmd.LocalFlags()
		for name, df := range dv.flags {
			if name == "help" {
				continue
			}
			if df.alias != "" {
				// LocalFlags has no normalize function: the command's flags do.
				if f := cmd.Flags().Lookup(name); f == nil || f.Name != df.alias {
					out = append(out, fmt.Sprintf("%s %s alias", verb, name))
				}
				continue
			}
			f := fs.Lookup(name)
			switch {
			case f == nil || f.Name != name:
				out = append(out, fmt.Sprintf("%s %s missing", verb, name))
			case f.Shorthand != df.short:
				out = append(out, fmt.Sprintf("%s %s shorthand", verb, name))
			case f.Hidden != df.hidden:
				out = append(out, fmt.Sprintf("%s %s hidden", verb, name))
			}
		}
		fs.VisitAll(func(f *pflag.Flag) {
			if _, ok := dv.flags[f.Name]; !ok && f.Name != "help" {
				out = append(out, fmt.Sprintf("%s %s extra", verb, f.Name))
			}
		})
	}
	for verb := range have {
		if _, ok := want[verb]; !ok {
			out = append(out, verb+" - extra")
		}
	}
	slices.Sort(out)
	return out
}
