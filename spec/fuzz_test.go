package spec

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad loads arbitrary bytes as compose.yaml, with no environment, and
// checks the project. Properties: Load and CheckSupported never panic; every
// error of Load, and each error CheckSupported joins, is one line; and
// loading the same bytes again fails again or gives the same project (same
// services, same ConfigHash, same unsupported fields, same rendering).
func FuzzLoad(f *testing.F) {
	for _, root := range []string{"testdata", "../e2e/testdata", "../examples"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
				return err
			}
			b, err := os.ReadFile(p)
			f.Add(b)
			return err
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A Compose file may name any host file for include, extends or
		// env_file; a device that never ends (/dev/zero) makes Load read
		// forever, as it does docker compose. That is not what is fuzzed.
		if bytes.Contains(data, []byte("/dev")) || bytes.Contains(data, []byte("/proc")) {
			return
		}
		dir := filepath.Join(t.TempDir(), "fuzz")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		load := func() (*Project, error) {
			p, err := Load(t.Context(), LoadOptions{WorkingDir: dir, Environ: []string{}})
			if err != nil {
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("Load error is not one line: %q", err)
				}
				return nil, err
			}
			return p, nil
		}
		p1, err1 := load()
		p2, err2 := load()
		// Of several schema violations compose-go reports one, picked in
		// map order: the message of a failed load may vary, its failing may
		// not.
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("two loads differ: %v / %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		unsupported := supportedIssues(t, p1)
		if got := supportedIssues(t, p2); !reflect.DeepEqual(got, unsupported) {
			t.Fatalf("CheckSupported differs: %q / %q", unsupported, got)
		}
		if !reflect.DeepEqual(p1.Services, p2.Services) || !reflect.DeepEqual(p1.Networks, p2.Networks) ||
			!reflect.DeepEqual(p1.Volumes, p2.Volumes) || !reflect.DeepEqual(p1.Configs, p2.Configs) ||
			!reflect.DeepEqual(p1.Secrets, p2.Secrets) || p1.Name != p2.Name {
			t.Fatalf("two loads differ:\n%+v\n%+v", p1, p2)
		}
		for i, s := range p1.Services {
			if h1, h2 := ConfigHash(s), ConfigHash(p2.Services[i]); h1 != h2 {
				t.Fatalf("service %q: ConfigHash %s, then %s", s.Name, h1, h2)
			}
		}
		r1, err1 := p1.Render("yaml")
		r2, err2 := p2.Render("yaml")
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(r1, r2) {
			t.Fatalf("two renderings differ: %v / %v\n%s\n%s", err1, err2, r1, r2)
		}
	})
}

// supportedIssues returns the messages of the errors CheckSupported joins,
// failing when one is not a single line.
func supportedIssues(t *testing.T, p *Project) []string {
	t.Helper()
	err := p.CheckSupported()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		if strings.Contains(e.Error(), "\n") {
			t.Fatalf("CheckSupported error is not one line: %q", e)
		}
		if errors.Unwrap(e) == nil {
			t.Fatalf("CheckSupported error %q is unclassified", e)
		}
		out = append(out, e.Error())
	}
	return out
}
