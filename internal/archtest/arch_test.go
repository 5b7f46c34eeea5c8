package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
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
	"internal":   {"spec", "reconciler", "engine", "netmgr", "volmgr", "cmd"},
}

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
