package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/berth-dev/berth/"

type pkg struct {
	ImportPath string
	Doc        string
	Name       string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "github.com/berth-dev/berth/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

// forbidden lists, per package prefix, the berth packages it must not import.
var forbidden = map[string][]string{
	"spec":       {"reconciler", "engine", "netmgr", "volmgr", "cmd"},
	"reconciler": {"cmd"},
	"engine":     {"spec", "reconciler", "cmd"},
	"netmgr":     {"spec", "reconciler", "engine", "volmgr", "cmd"},
	"volmgr":     {"spec", "reconciler", "engine", "netmgr", "cmd"},
	"dockerapi":  {"spec", "reconciler", "cmd"},
	// deploy turns a project (spec) into a cluster's objects; it runs no
	// container, so it needs neither the engine nor the reconciler.
	"deploy":   {"engine", "reconciler", "netmgr", "volmgr", "cmd"},
	"internal": {"spec", "reconciler", "engine", "netmgr", "volmgr", "cmd"},
}

// allowed are the exceptions to forbidden: exact package paths that a
// package prefix may import although their top-level package is forbidden.
//
// spec parses a Compose file's ports, and the -p flag, straight into
// netmgr's typed port (habit 19: parsed once, at the edge, into the type of
// the package that acts on it). It may import that one leaf package, which
// leaves must keep free of every other berth package, so that spec still
// depends on nothing of netmgr but the port's type.
var allowed = map[string][]string{
	"spec": {"netmgr/portmap"},
}

// leaves import no berth package at all.
var leaves = []string{"netmgr/portmap"}

func TestImportsFlowOneWay(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, module)
		top, _, _ := strings.Cut(rel, "/")
		for _, imp := range p.Imports {
			if imp == "github.com/opencontainers/runc/libcontainer" || strings.HasPrefix(imp, "github.com/opencontainers/runc/libcontainer/") {
				t.Errorf("%s imports %s: run the runc binary instead", rel, imp)
			}
			impRel, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if impRel == "reconciler/reconcilertest" {
				t.Errorf("%s imports %s: the fake and its suites are for tests only", rel, impRel)
			}
			if slices.Contains(leaves, rel) {
				t.Errorf("%s imports %s: it is a leaf, which imports no berth package", rel, impRel)
			}
			if slices.Contains(allowed[top], impRel) {
				continue
			}
			impTop, _, _ := strings.Cut(impRel, "/")
			for _, bad := range forbidden[top] {
				if impTop == bad {
					t.Errorf("%s imports %s: %s must not depend on %s", rel, impRel, top, bad)
				}
			}
		}
	}
}

func TestEveryPackageHasDoc(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Doc == "" {
			t.Errorf("package %s has no doc comment", strings.TrimPrefix(p.ImportPath, module))
		}
	}
}
