package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// copyCase copies testdata/<name> into a fresh directory of the same name,
// so that the project name and every path are the test's own.
func copyCase(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatalf("copy testdata/%s: %v", name, err)
	}
	return dst
}

func mustLoad(t *testing.T, opt LoadOptions) *Project {
	t.Helper()
	p, err := Load(t.Context(), opt)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func service(t *testing.T, p *Project, name string) Service {
	t.Helper()
	s, ok := p.Service(name)
	if !ok {
		t.Fatalf("no service %q in %v", name, p.ServiceNames())
	}
	return s
}

func paths(dir string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

func TestLoadDiscovery(t *testing.T) {
	dir := copyCase(t, "discovery")
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	tests := []struct {
		name      string
		opt       LoadOptions
		wantFiles []string
		wantImage string
	}{
		{
			name:      "in the project directory with its override file",
			opt:       LoadOptions{WorkingDir: dir},
			wantFiles: paths(dir, "compose.yaml", "compose.override.yaml"),
			wantImage: "nginx:override",
		},
		{
			name:      "upward from a sub-directory",
			opt:       LoadOptions{WorkingDir: sub},
			wantFiles: paths(dir, "compose.yaml", "compose.override.yaml"),
			wantImage: "nginx:override",
		},
		{
			name:      "from --project-directory",
			opt:       LoadOptions{WorkingDir: elsewhere, ProjectDir: dir},
			wantFiles: paths(dir, "compose.yaml", "compose.override.yaml"),
			wantImage: "nginx:override",
		},
		{
			name:      "-f turns discovery off",
			opt:       LoadOptions{WorkingDir: sub, ConfigFiles: []string{"../../compose.yaml"}},
			wantFiles: paths(dir, "compose.yaml"),
			wantImage: "nginx",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, tc.opt)
			if !slices.Equal(p.ComposeFiles, tc.wantFiles) {
				t.Errorf("ComposeFiles = %q, want %q", p.ComposeFiles, tc.wantFiles)
			}
			if p.Name != "discovery" || p.WorkingDir != dir {
				t.Errorf("Name, WorkingDir = %q, %q; want %q, %q", p.Name, p.WorkingDir, "discovery", dir)
			}
			if got := service(t, p, "web").Image; got != tc.wantImage {
				t.Errorf("image = %q, want %q", got, tc.wantImage)
			}
		})
	}
}

func TestLoadFileOrder(t *testing.T) {
	dir := copyCase(t, "override")
	tests := []struct {
		name      string
		files     []string
		environ   []string
		wantImage string
		wantEnv   []string
		wantFiles []string
	}{
		{
			name:      "-f merged in order",
			files:     []string{"compose.yaml", "a.yaml", "b.yaml"},
			wantImage: "b", wantEnv: []string{"FROM=b"},
			wantFiles: paths(dir, "compose.yaml", "a.yaml", "b.yaml"),
		},
		{
			name:      "-f in the other order",
			files:     []string{"compose.yaml", "b.yaml", "a.yaml"},
			wantImage: "a", wantEnv: []string{"FROM=b"},
			wantFiles: paths(dir, "compose.yaml", "b.yaml", "a.yaml"),
		},
		{
			name:      "COMPOSE_FILE",
			environ:   []string{"COMPOSE_FILE=compose.yaml" + string(os.PathListSeparator) + "a.yaml"},
			wantImage: "a", wantEnv: []string{"FROM=base"},
			wantFiles: paths(dir, "compose.yaml", "a.yaml"),
		},
		{
			name:      "COMPOSE_FILE with COMPOSE_PATH_SEPARATOR",
			environ:   []string{"COMPOSE_FILE=compose.yaml,b.yaml", "COMPOSE_PATH_SEPARATOR=,"},
			wantImage: "b", wantEnv: []string{"FROM=b"},
			wantFiles: paths(dir, "compose.yaml", "b.yaml"),
		},
		{
			name:      "-f wins over COMPOSE_FILE",
			files:     []string{"compose.yaml"},
			environ:   []string{"COMPOSE_FILE=compose.yaml" + string(os.PathListSeparator) + "a.yaml"},
			wantImage: "base", wantEnv: []string{"FROM=base"},
			wantFiles: paths(dir, "compose.yaml"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, LoadOptions{WorkingDir: dir, ConfigFiles: tc.files, Environ: tc.environ})
			web := service(t, p, "web")
			if web.Image != tc.wantImage || !slices.Equal(web.Environment, tc.wantEnv) {
				t.Errorf("image, env = %q, %q; want %q, %q", web.Image, web.Environment, tc.wantImage, tc.wantEnv)
			}
			if !slices.Equal(p.ComposeFiles, tc.wantFiles) {
				t.Errorf("ComposeFiles = %q, want %q", p.ComposeFiles, tc.wantFiles)
			}
		})
	}
}

func TestLoadProjectName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My.App_1")
	if err := os.CopyFS(dir, os.DirFS("testdata/discovery")); err != nil {
		t.Fatal(err)
	}
	named := copyCase(t, "named")
	tests := []struct {
		name string
		opt  LoadOptions
		want string
	}{
		{name: "normalised directory name", opt: LoadOptions{WorkingDir: dir}, want: "myapp_1"},
		{name: "COMPOSE_PROJECT_NAME", opt: LoadOptions{WorkingDir: dir, Environ: []string{"COMPOSE_PROJECT_NAME=from-env"}}, want: "from-env"},
		{name: "-p wins over COMPOSE_PROJECT_NAME", opt: LoadOptions{WorkingDir: dir, ProjectName: "from-flag", Environ: []string{"COMPOSE_PROJECT_NAME=from-env"}}, want: "from-flag"},
		{name: "top-level name", opt: LoadOptions{WorkingDir: named}, want: "from-yaml"},
		{name: "COMPOSE_PROJECT_NAME wins over top-level name", opt: LoadOptions{WorkingDir: named, Environ: []string{"COMPOSE_PROJECT_NAME=from-env"}}, want: "from-env"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, tc.opt)
			if p.Name != tc.want {
				t.Errorf("Name = %q, want %q", p.Name, tc.want)
			}
			if want := tc.want + "_default"; len(p.Networks) != 1 || p.Networks[0].Name != want {
				t.Errorf("Networks = %+v, want one named %q", p.Networks, want)
			}
		})
	}
	t.Run("invalid -p", func(t *testing.T) {
		_, err := Load(t.Context(), LoadOptions{WorkingDir: dir, ProjectName: "Not Valid"})
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("err = %v, want invalid argument", err)
		}
	})
}

func TestLoadEnvFiles(t *testing.T) {
	dir := copyCase(t, "envfiles")
	tests := []struct {
		name          string
		opt           LoadOptions
		wantImage     string
		wantEnv       []string
		wantEnvFiles  []string
		wantErrSubstr string
	}{
		{
			name:         ".env of the project directory",
			opt:          LoadOptions{WorkingDir: dir},
			wantImage:    "img:latest",
			wantEnv:      []string{"A=dotenv", "B=dotenv", "C=default-c"},
			wantEnvFiles: paths(dir, ".env"),
		},
		{
			name:         "--env-file repeated, later wins, .env not read",
			opt:          LoadOptions{WorkingDir: dir, EnvFiles: []string{"one.env", "two.env"}},
			wantImage:    "img:two",
			wantEnv:      []string{"A=one", "B=two", "C=default-c"},
			wantEnvFiles: paths(dir, "one.env", "two.env"),
		},
		{
			name:         "COMPOSE_ENV_FILES",
			opt:          LoadOptions{WorkingDir: dir, Environ: []string{"COMPOSE_ENV_FILES=one.env,two.env"}},
			wantImage:    "img:two",
			wantEnv:      []string{"A=one", "B=two", "C=default-c"},
			wantEnvFiles: paths(dir, "one.env", "two.env"),
		},
		{
			name:         "environment wins over env files",
			opt:          LoadOptions{WorkingDir: dir, Environ: []string{"B=os", "C=os"}},
			wantImage:    "img:latest",
			wantEnv:      []string{"A=dotenv", "B=os", "C=os"},
			wantEnvFiles: paths(dir, ".env"),
		},
		{
			name:      "COMPOSE_DISABLE_ENV_FILE",
			opt:       LoadOptions{WorkingDir: dir, Environ: []string{"COMPOSE_DISABLE_ENV_FILE=true", "A=os"}},
			wantImage: "img:latest",
			wantEnv:   []string{"A=os", "B=", "C=default-c"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, tc.opt)
			web := service(t, p, "web")
			if web.Image != tc.wantImage || !slices.Equal(web.Environment, tc.wantEnv) {
				t.Errorf("image, env = %q, %q; want %q, %q", web.Image, web.Environment, tc.wantImage, tc.wantEnv)
			}
			if !slices.Equal(p.EnvFiles, tc.wantEnvFiles) {
				t.Errorf("EnvFiles = %q, want %q", p.EnvFiles, tc.wantEnvFiles)
			}
		})
	}
}

func TestLoadInterpolation(t *testing.T) {
	dir := copyCase(t, "required")
	t.Run("required variable set", func(t *testing.T) {
		p := mustLoad(t, LoadOptions{WorkingDir: dir, Environ: []string{"TAG=1.2"}})
		if got := service(t, p, "web").Image; got != "app:1.2" {
			t.Errorf("image = %q, want app:1.2", got)
		}
	})
	t.Run("--no-interpolate keeps references", func(t *testing.T) {
		p := mustLoad(t, LoadOptions{WorkingDir: dir, NoInterpolate: true})
		out, err := p.Render("yaml")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "image: app:${TAG:?TAG must be set}") {
			t.Errorf("Render does not keep the reference:\n%s", out)
		}
		if got := p.ServiceNames(); !slices.Equal(got, []string{"web"}) {
			t.Errorf("ServiceNames = %q", got)
		}
		if got := p.Images(); !slices.Equal(got, []string{"app:${TAG:?TAG must be set}"}) {
			t.Errorf("Images = %q", got)
		}
		if err := p.CheckSupported(); !errdefs.IsFailedPrecondition(err) {
			t.Errorf("CheckSupported = %v, want failed precondition", err)
		}
	})
	t.Run("--no-interpolate with a variable where a number is expected", func(t *testing.T) {
		d := t.TempDir()
		writeFile(t, filepath.Join(d, "compose.yaml"), "services:\n  web:\n    image: x\n    scale: ${N}\n    ports: [\"${P}:80\"]\n")
		p := mustLoad(t, LoadOptions{WorkingDir: d, NoInterpolate: true})
		out, err := p.Render("json")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"${N}"`) {
			t.Errorf("Render:\n%s", out)
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadProfiles(t *testing.T) {
	dir := copyCase(t, "profiles")
	tests := []struct {
		name     string
		profiles []string
		environ  []string
		want     []string
	}{
		{name: "none", want: []string{"web"}},
		{name: "--profile", profiles: []string{"debug"}, want: []string{"debug", "web"}},
		{name: "COMPOSE_PROFILES", environ: []string{"COMPOSE_PROFILES=ops"}, want: []string{"tools", "web"}},
		{name: "--profile wins over COMPOSE_PROFILES", profiles: []string{"debug"}, environ: []string{"COMPOSE_PROFILES=ops"}, want: []string{"debug", "web"}},
		{name: "all", profiles: []string{"*"}, want: []string{"debug", "tools", "web"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, LoadOptions{WorkingDir: dir, Profiles: tc.profiles, Environ: tc.environ})
			if got := p.ServiceNames(); !slices.Equal(got, tc.want) {
				t.Errorf("ServiceNames = %q, want %q", got, tc.want)
			}
			var disabled []string
			for _, s := range []string{"debug", "tools", "web"} {
				if !slices.Contains(tc.want, s) {
					disabled = append(disabled, s)
				}
			}
			if !slices.Equal(p.DisabledServices, disabled) {
				t.Errorf("DisabledServices = %q, want %q", p.DisabledServices, disabled)
			}
			if got, want := p.AllProfiles(), []string{"debug", "ops", "tools"}; !slices.Equal(got, want) {
				t.Errorf("AllProfiles = %q, want %q", got, want)
			}
		})
	}
}

func TestLoadIncludeAndExtends(t *testing.T) {
	t.Run("include", func(t *testing.T) {
		dir := copyCase(t, "include")
		p := mustLoad(t, LoadOptions{WorkingDir: dir})
		if got := p.ServiceNames(); !slices.Equal(got, []string{"db", "web"}) {
			t.Errorf("ServiceNames = %q", got)
		}
		want := []Mount{{Type: "bind", Source: filepath.Join(dir, "sub", "initdb"), Target: "/docker-entrypoint-initdb.d", ReadOnly: true, CreateHostPath: true}}
		if got := service(t, p, "db").Mounts; !reflect.DeepEqual(got, want) {
			t.Errorf("db mounts = %+v, want %+v (relative to the included file)", got, want)
		}
	})
	t.Run("extends", func(t *testing.T) {
		dir := copyCase(t, "extends")
		web := service(t, mustLoad(t, LoadOptions{WorkingDir: dir}), "web")
		if web.Image != "app:1" || web.User != "app" || !slices.Equal(web.Environment, []string{"LOG=debug", "ROLE=web"}) {
			t.Errorf("web = %+v", web)
		}
	})
}

func TestLoadNetworksAndVolumes(t *testing.T) {
	dir := copyCase(t, "networks")
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	wantNetworks := []Network{
		{Key: "back", Name: "custom-back"},
		{Key: "default", Name: "networks_default"},
		{Key: "shared", Name: "shared", External: true},
	}
	if !reflect.DeepEqual(p.Networks, wantNetworks) {
		t.Errorf("Networks = %+v, want %+v", p.Networks, wantNetworks)
	}
	wantVolumes := []Volume{{Key: "data", Name: "networks_data"}} // "logs" is not used
	if !reflect.DeepEqual(p.Volumes, wantVolumes) {
		t.Errorf("Volumes = %+v, want %+v", p.Volumes, wantVolumes)
	}
	web, worker := service(t, p, "web"), service(t, p, "worker")
	if want := []ServiceNetwork{{Name: "default"}}; !reflect.DeepEqual(web.Networks, want) {
		t.Errorf("web networks = %+v, want %+v", web.Networks, want)
	}
	if want := []ServiceNetwork{{Name: "back", IPv4Address: "172.28.0.10"}, {Name: "shared"}}; !reflect.DeepEqual(worker.Networks, want) {
		t.Errorf("worker networks = %+v, want %+v", worker.Networks, want)
	}
	wantMounts := []Mount{
		{Type: "volume", Source: "data", Target: "/data"},
		{Type: "bind", Source: filepath.Join(dir, "conf"), Target: "/etc/conf", CreateHostPath: true},
		{Type: "bind", Source: "/abs/path", Target: "/abs", ReadOnly: true, CreateHostPath: true},
		{Type: "tmpfs", Target: "/run"},
	}
	if !reflect.DeepEqual(web.Mounts, wantMounts) {
		t.Errorf("web mounts = %+v, want %+v", web.Mounts, wantMounts)
	}
}

func TestLoadScale(t *testing.T) {
	p := mustLoad(t, LoadOptions{WorkingDir: copyCase(t, "scale")})
	for name, want := range map[string]int{"one": 1, "scaled": 3, "replicas": 2} {
		if got := service(t, p, name).Scale; got != want {
			t.Errorf("%s: Scale = %d, want %d", name, got, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name      string
		dir       string // testdata case, copied; empty: an empty directory
		opt       LoadOptions
		sub       string // working directory relative to the case
		files     map[string]string
		wantClass func(error) bool
		want      string // exact message, or prefix when wantPrefix
		prefix    bool
	}{
		{
			name: "malformed YAML", dir: "bad-yaml",
			wantClass: errdefs.IsInvalidArgument, want: "compose.yaml: ", prefix: true,
		},
		{
			name: "unknown top-level key", dir: "bad-toplevel",
			wantClass: errdefs.IsInvalidArgument, want: "compose.yaml: frobnicate: unknown attribute",
		},
		{
			name: "unknown service attribute", dir: "discovery",
			files:     map[string]string{"compose.override.yaml": "services:\n  web:\n    colour: blue\n"},
			wantClass: errdefs.IsInvalidArgument, want: "compose.override.yaml: services.web.colour: unknown attribute",
		},
		{
			name: "unknown attributes, sorted", dir: "discovery",
			files:     map[string]string{"compose.override.yaml": "zz: 1\ncolour: blue\naa: 2\n"},
			wantClass: errdefs.IsInvalidArgument, want: "compose.override.yaml: unknown attributes 'aa', 'colour', 'zz'",
		},
		{
			name: "wrong type", dir: "bad-type",
			wantClass: errdefs.IsInvalidArgument, want: "compose.yaml: services.web.ports: must be an array",
		},
		{
			name: "wrong type, from a sub-directory", dir: "bad-type", sub: "deeper",
			wantClass: errdefs.IsInvalidArgument, want: "../compose.yaml: services.web.ports: must be an array",
		},
		{
			name: "invalid port mapping", dir: "bad-port",
			wantClass: errdefs.IsInvalidArgument, want: `compose.yaml: services.web.ports[0]: "80:80:80" is not a valid port mapping: invalid IP address: 80`,
		},
		{
			name: "service without image", dir: "no-image",
			wantClass: errdefs.IsInvalidArgument, want: "compose.yaml: services.web: has neither an image nor a build context specified",
		},
		{
			name: "required variable", dir: "required",
			wantClass: errdefs.IsInvalidArgument, want: "compose.yaml: services.web.image: required variable TAG is missing a value: TAG must be set",
		},
		{
			name: "error in the second -f file", dir: "override",
			opt:       LoadOptions{ConfigFiles: []string{"compose.yaml", "broken.yaml"}},
			files:     map[string]string{"broken.yaml": "services:\n  web:\n    scale: many\n"},
			wantClass: errdefs.IsInvalidArgument, want: `broken.yaml: services.web.scale: "many" is not an integer`,
		},
		{
			name: "undefined dependency", dir: "override",
			files:     map[string]string{"compose.override.yaml": "services:\n  web:\n    depends_on: [db]\n"},
			wantClass: errdefs.IsInvalidArgument, want: `compose.override.yaml: services.web: depends on undefined service "db"`,
		},
		{
			name: "error in an included file", dir: "include",
			files:     map[string]string{"sub/compose.yaml": "services:\n  db:\n    image: db\n    ports: 5\n"},
			wantClass: errdefs.IsInvalidArgument, want: "sub/compose.yaml: services.db.ports: must be an array",
		},
		{
			name: "malformed .env", dir: "discovery",
			files:     map[string]string{".env": "GOOD=1\nNOT GOOD=2\n"},
			wantClass: errdefs.IsInvalidArgument, want: ".env: line 2: key cannot contain a space",
		},
		{
			name: "missing env_file", dir: "discovery",
			files:     map[string]string{"compose.override.yaml": "services:\n  web:\n    env_file: web.env\n"},
			wantClass: errdefs.IsInvalidArgument, want: "compose.override.yaml: services.web.env_file: web.env: no such file or directory",
		},
		{
			name: "missing -f file", dir: "discovery",
			opt:       LoadOptions{ConfigFiles: []string{"nope.yaml"}},
			wantClass: errdefs.IsNotFound, want: "nope.yaml: no such file or directory",
		},
		{
			name: "missing --env-file", dir: "discovery",
			opt:       LoadOptions{EnvFiles: []string{"nope.env"}},
			wantClass: errdefs.IsNotFound, want: "nope.env: no such file or directory",
		},
		{
			name:      "no Compose file",
			wantClass: errdefs.IsNotFound, want: "no configuration file provided: not found",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.dir != "" {
				dir = copyCase(t, tc.dir)
			}
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			opt := tc.opt
			opt.WorkingDir = filepath.Join(dir, tc.sub)
			if err := os.MkdirAll(opt.WorkingDir, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := Load(t.Context(), opt)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if tc.prefix && !strings.HasPrefix(msg, tc.want) || !tc.prefix && msg != tc.want {
				t.Errorf("error = %q, want %q", msg, tc.want)
			}
			if !tc.wantClass(err) {
				t.Errorf("error %q has the wrong class", msg)
			}
			var fe FieldError
			if tc.dir != "" && !errors.As(err, &fe) {
				t.Errorf("error %q is not a FieldError", msg)
			}
		})
	}
}

func TestIncludedFilesAreRecorded(t *testing.T) {
	for _, dir := range []string{"include", "extends"} {
		t.Run(dir, func(t *testing.T) {
			wd, err := filepath.Abs(filepath.Join("testdata", dir))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Load(t.Context(), LoadOptions{WorkingDir: wd})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.IncludedFiles) == 0 {
				t.Fatalf("no included files recorded")
			}
			for _, f := range p.IncludedFiles {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("included file %s: %v", f, err)
				}
			}
		})
	}
}
