package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// projectDirPlaceholder replaces the temporary project directory in golden
// files.
const projectDirPlaceholder = "/PROJECT"

func TestRenderGolden(t *testing.T) {
	dir := copyCase(t, "realistic")
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	for _, format := range []string{"yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			out, err := p.Render(format)
			if err != nil {
				t.Fatal(err)
			}
			out = bytes.ReplaceAll(out, []byte(dir), []byte(projectDirPlaceholder))
			golden := filepath.Join("testdata", "golden", "realistic."+format)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("Render(%q) differs from %s (go test -update rewrites it):\n%s", format, golden, out)
			}
			if format == "json" && !json.Valid(out) {
				t.Errorf("Render(json) is not valid JSON")
			}
		})
	}
	t.Run("default is yaml", func(t *testing.T) {
		a, errA := p.Render("")
		b, errB := p.Render("yaml")
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("Render(\"\") differs from Render(\"yaml\"): %v %v", errA, errB)
		}
	})
	t.Run("unknown format", func(t *testing.T) {
		if _, err := p.Render("toml"); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Render(toml) = %v, want invalid argument", err)
		}
	})
	t.Run("the output loads back to the same project", func(t *testing.T) {
		out, err := p.Render("yaml")
		if err != nil {
			t.Fatal(err)
		}
		again := filepath.Join(t.TempDir(), "again.yaml")
		writeFile(t, again, string(out))
		q := mustLoad(t, LoadOptions{WorkingDir: dir, ConfigFiles: []string{again}, EnvFiles: []string{filepath.Join(dir, ".env")}})
		for _, s := range p.Services {
			if got, want := ConfigHash(service(t, q, s.Name)), ConfigHash(s); got != want {
				t.Errorf("%s: hash after a round trip %s, want %s", s.Name, got, want)
			}
		}
	})
}

func TestConfigFlags(t *testing.T) {
	p := mustLoad(t, LoadOptions{WorkingDir: copyCase(t, "realistic")})
	if got, want := p.ServiceNames(), []string{"api", "web"}; !slices.Equal(got, want) {
		t.Errorf("ServiceNames = %q, want %q", got, want)
	}
	if got, want := p.VolumeNames(), []string{"cache", "data"}; !slices.Equal(got, want) {
		t.Errorf("VolumeNames = %q, want %q", got, want)
	}
	if got, want := p.Images(), []string{"example/api:1.4.2", "nginx:1.27"}; !slices.Equal(got, want) {
		t.Errorf("Images = %q, want %q", got, want)
	}
	if got, want := p.AllProfiles(), []string{"debug"}; !slices.Equal(got, want) {
		t.Errorf("AllProfiles = %q, want %q", got, want)
	}
	all, err := p.ConfigHashes("*")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"api " + ConfigHash(service(t, p, "api")), "web " + ConfigHash(service(t, p, "web"))}
	if !slices.Equal(all, want) {
		t.Errorf("ConfigHashes(*) = %q, want %q", all, want)
	}
	if one, err := p.ConfigHashes("web"); err != nil || !slices.Equal(one, want[1:]) {
		t.Errorf("ConfigHashes(web) = %q, %v", one, err)
	}
	if _, err := p.ConfigHashes("web,debug"); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "debug") {
		t.Errorf("ConfigHashes of a disabled service = %v, want not found", err)
	}
}

func TestServiceNamesDependencyOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `services:
  a:
    image: x
    depends_on: [c]
  b:
    image: x
  c:
    image: x
    depends_on: [d]
  d:
    image: x
`)
	if got, want := mustLoad(t, LoadOptions{WorkingDir: dir}).ServiceNames(), []string{"d", "c", "a", "b"}; !slices.Equal(got, want) {
		t.Errorf("ServiceNames = %q, want %q", got, want)
	}
}
