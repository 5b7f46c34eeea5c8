package spec

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/compose-spec/compose-go/v2/utils"
	"github.com/containerd/errdefs"
)

// Environment variables that steer loading, as Docker Compose reads them.
const (
	envComposeFile       = "COMPOSE_FILE"
	envPathSeparator     = "COMPOSE_PATH_SEPARATOR"
	envComposeEnvFiles   = "COMPOSE_ENV_FILES"
	envDisableDotEnvFile = "COMPOSE_DISABLE_ENV_FILE"
)

// LoadOptions says which Compose project to load. The fields mirror the
// global flags of `docker compose`; each is optional.
type LoadOptions struct {
	// WorkingDir is the directory the command runs in: relative paths are
	// resolved against it and file discovery starts there. Empty means the
	// process's working directory.
	WorkingDir string
	// ProjectDir is --project-directory. Empty means the directory of the
	// first Compose file.
	ProjectDir string
	// ConfigFiles are the -f files, merged in order; "-" reads standard
	// input. Empty means COMPOSE_FILE, else discovery of compose.yaml (and
	// its override file) from WorkingDir upward.
	ConfigFiles []string
	// ProjectName is -p. Empty means COMPOSE_PROJECT_NAME, else the
	// top-level name: of the files, else the normalised base name of the
	// project directory.
	ProjectName string
	// EnvFiles are the --env-file files, read in order (later ones win).
	// Empty means COMPOSE_ENV_FILES (comma-separated), else the .env file of
	// the project directory when there is one.
	EnvFiles []string
	// Profiles are the --profile values. Empty means COMPOSE_PROFILES
	// (comma-separated).
	Profiles []string
	// NoInterpolate leaves ${VAR} references as written. The project is
	// then only good for rendering: see Project.Render.
	NoInterpolate bool
	// Services are the services the command names (up SERVICE…, run,
	// create, start): one whose profile is not active is enabled with its
	// profiles, as Docker Compose does; it and its dependencies run, the
	// other services of those profiles are only selected when named.
	Services []string
	// Environ is the environment as KEY=VALUE entries, normally os.Environ().
	// Load reads no variable from the process environment, only from here
	// and from env files.
	Environ []string
	// CacheDir, an absolute directory, keeps loaded projects for the next
	// Load with the same options, environment and CacheSalt, which answers
	// from it while every file the project was loaded from is unchanged
	// (see cache.go). Empty: no cache.
	CacheDir string
	// CacheReadOnly answers from the cache but writes nothing to it: for
	// commands after which the project may be gone (ps, down, stop…).
	CacheReadOnly bool
	// CacheSalt identifies the program loading: an entry written under
	// another salt is never used. The caller makes it change with every
	// build of itself.
	CacheSalt string
	// Render, for `config` alone, leaves steps of loading out. A project
	// loaded with any of them set is only good for Render: it is not
	// converted to berth's model, nor cached.
	Render RenderOptions
}

// RenderOptions are the steps of loading `docker compose config` can leave
// out of what it prints.
type RenderOptions struct {
	NoPathResolution bool // relative paths stay relative
	NoNormalize      bool // no defaults filled in (networks, build context…)
	NoConsistency    bool // no check that services name networks, volumes… that exist
	NoEnvResolution  bool // env_file stays, not merged into environment
	// Services, when set, are the only services rendered, with the
	// services they depend on (config SERVICE…); one a profile leaves out
	// is enabled.
	Services []string
}

// set tells whether r leaves any step out or selects services.
func (r RenderOptions) set() bool {
	return r.NoPathResolution || r.NoNormalize || r.NoConsistency || r.NoEnvResolution || len(r.Services) > 0
}

// Load loads the Compose project opt describes the way `docker compose`
// does and converts it to berth's model. Only the file system is read.
//
// A malformed project gives a FieldError, one line naming the file and
// when possible the field, that wraps errdefs.ErrInvalidArgument (malformed
// ports give one each, joined with errors.Join); a missing
// file wraps errdefs.ErrNotFound. Load does not reject fields berth does not
// run yet: call CheckSupported before acting on the project.
func Load(ctx context.Context, opt LoadOptions) (*Project, error) {
	started := startLoad()
	var key string
	if cacheable(opt) {
		key = cacheKey(opt)
		if p, ok := loadCached(opt.CacheDir, key); ok {
			return p, nil
		}
	}
	l, err := newLoader(opt)
	if err != nil {
		return nil, err
	}
	l.started = started
	o, err := l.projectOptions()
	if err != nil {
		return nil, l.loadError(err)
	}
	o.WithListeners(l.listen)
	if len(o.ConfigPaths) == 0 {
		return nil, fmt.Errorf("no configuration file provided: %w", errdefs.ErrNotFound)
	}
	l.composeFiles = o.ConfigPaths
	if opt.NoInterpolate {
		return l.loadModel(ctx, o)
	}
	if opt.Render.set() {
		return l.loadForRender(ctx, o)
	}
	cp, err := o.LoadProject(ctx)
	if err != nil {
		return nil, l.loadError(err)
	}
	// Jobs go through what services go through, as services (jobs.go):
	// a job named by the command is enabled as a service would be.
	cp, l.jobs = jobsAsServices(cp)
	if len(opt.Services) > 0 {
		if cp, err = cp.WithServicesEnabled(opt.Services...); err != nil {
			return nil, l.loadError(err)
		}
	}
	if err := l.checkEnvFiles(cp); err != nil {
		return nil, err
	}
	serviceEnvFiles := existingEnvFiles(cp)
	svcFiles, cacheOK := serviceFiles(cp)
	// As `docker compose up` and `config` do: env_file merged into
	// environment, then resources no enabled service uses dropped.
	cp, err = cp.WithServicesEnvironmentResolved(true)
	if err != nil {
		return nil, l.loadError(err)
	}
	// Checked before unused resources are dropped: a top-level secret or
	// network berth cannot make is reported even when no service uses it.
	unsupported, err := l.unsupported(servicesAsJobs(cp, l.jobs))
	if err != nil {
		return nil, err
	}
	cp = cp.WithoutUnnecessaryResources()

	run, err := withAPISocket(cp)
	if err != nil {
		return nil, err
	}
	p, bad := convertProject(run, l.jobs)
	if run != cp {
		p.config = servicesAsJobs(cp, l.jobs) // berth config prints the project as written
	}
	if len(bad) > 0 {
		errs := make([]error, len(bad))
		for i, fe := range bad {
			fe.File = l.fileSetting(fe.Path)
			errs[i] = fe
		}
		return nil, errors.Join(errs...)
	}
	p.unsupported = unsupported
	p.refusedByUp = l.refusedByUp(p.Jobs)
	p.mainFile = l.display(l.primaryFile())
	for _, s := range p.Services {
		for _, fe := range developIssues(s) {
			fe.File = l.fileSetting(fe.Path)
			p.developErrs = append(p.developErrs, serviceFieldError{FieldError: fe, service: s.Name})
		}
	}
	p.ComposeFiles = slices.Clone(cp.ComposeFiles)
	p.EnvFiles = slices.Clone(l.envRead)
	p.IncludedFiles = slices.Clone(l.included)
	for _, f := range serviceEnvFiles {
		if !slices.Contains(p.EnvFiles, f) {
			p.EnvFiles = append(p.EnvFiles, f)
		}
	}
	if key != "" && cacheOK {
		l.storeCached(key, p, svcFiles)
	}
	return p, nil
}

// listen records the files compose-go reads for include and extends, so
// watch mode can watch them too. Relative paths are taken from the including
// file's working directory, else the project's.
func (l *loader) listen(event string, md map[string]any) {
	base, _ := md["workingdir"].(string)
	if base == "" {
		base = l.cwd
	}
	add := func(f string) {
		if f == "" {
			return
		}
		if !filepath.IsAbs(f) {
			f = filepath.Join(base, f)
		}
		if !slices.Contains(l.included, f) {
			l.included = append(l.included, f)
		}
	}
	switch event {
	case "include":
		switch paths := md["path"].(type) {
		case types.StringList:
			for _, f := range paths {
				add(f)
			}
		case []string:
			for _, f := range paths {
				add(f)
			}
		}
	case "extends":
		if f, ok := md["file"].(string); ok {
			add(f)
		}
	}
}

// loader holds the state of one Load call.
type loader struct {
	opt       LoadOptions
	cwd       string            // absolute LoadOptions.WorkingDir
	env       map[string]string // LoadOptions.Environ, plus PWD
	envFiles  []string          // explicit env files, absolute
	configs   []string          // explicit Compose files, absolute or "-"
	envRead   []string          // env files read so far, absolute, in order
	included  []string          // files named by include and extends, absolute
	sourceSet *sources          // Compose files parsed again to place errors, lazily

	composeFiles []string  // the Compose files compose-go loads, once known
	started      loadStart // when Load began, before any file was read
	// jobs are the project's jobs, enabled or not, by name, as the file
	// declares them; Load carries them as services (jobsAsServices).
	jobs types.Jobs
}

func newLoader(opt LoadOptions) (*loader, error) {
	l := &loader{opt: opt, env: utils.GetAsEqualsMap(opt.Environ)}
	cwd := opt.WorkingDir
	if cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
		cwd = wd
	}
	cwd, err := filepath.Abs(cwd)
	if err != nil {
		return nil, fmt.Errorf("working directory %q: %w", opt.WorkingDir, errdefs.ErrInvalidArgument)
	}
	l.cwd = cwd
	if _, ok := l.env["PWD"]; !ok {
		l.env["PWD"] = cwd
	}

	for _, f := range opt.ConfigFiles {
		if f == "-" {
			l.configs = append(l.configs, f)
			continue
		}
		abs := l.abs(f)
		if err := checkRegularFile(abs, f); err != nil {
			return nil, err
		}
		l.configs = append(l.configs, abs)
	}

	envFiles := opt.EnvFiles
	if len(envFiles) == 0 {
		envFiles = strings.FieldsFunc(l.env[envComposeEnvFiles], func(r rune) bool { return r == ',' })
	}
	for _, f := range envFiles {
		abs := l.abs(f)
		if err := checkRegularFile(abs, f); err != nil {
			return nil, err
		}
		l.envFiles = append(l.envFiles, abs)
	}
	return l, nil
}

// abs resolves p against the working directory, expanding a leading "~/"
// with HOME from the given environment.
func (l *loader) abs(p string) string {
	if home := l.env["HOME"]; home != "" && strings.HasPrefix(p, "~/") {
		p = filepath.Join(home, p[2:])
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.cwd, p)
}

// checkRegularFile reports a file named on the command line (or in an
// environment variable) that does not exist or is not a file.
func checkRegularFile(abs, given string) error {
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return FieldError{File: given, Issue: "no such file or directory", Err: errdefs.ErrNotFound}
	case err != nil:
		return FieldError{File: given, Issue: unwrapPathError(err), Err: errdefs.ErrInvalidArgument}
	case fi.IsDir():
		return FieldError{File: given, Issue: "is a directory, not a file", Err: errdefs.ErrInvalidArgument}
	}
	return nil
}

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// projectOptions builds compose-go's options in the order docker compose
// applies them (cmd/compose/compose.go, toProjectOptions), with every step
// that would read the process environment or working directory replaced by
// one that reads the loader's.
func (l *loader) projectOptions() (*cli.ProjectOptions, error) {
	var projectDir string
	if l.opt.ProjectDir != "" {
		projectDir = l.abs(l.opt.ProjectDir)
	} else if len(l.configs) > 0 && l.configs[0] == "-" {
		projectDir = l.cwd // compose-go would take the process's
	}
	environ := make([]string, 0, len(l.env))
	for k, v := range l.env {
		environ = append(environ, k+"="+v)
	}
	return cli.NewProjectOptions(l.configs,
		cli.WithWorkingDirectory(projectDir),
		cli.WithEnv(environ),
		// the .env of the directory known so far, which may set COMPOSE_FILE
		l.withEnvFiles,
		l.withDotEnv,
		l.withConfigFileEnv,
		l.withDefaultConfigPath,
		// the project directory may have changed with the files found
		l.withEnvFiles,
		l.withDotEnv,
		cli.WithDefaultProfiles(l.opt.Profiles...),
		cli.WithName(l.opt.ProjectName),
		cli.WithInterpolation(!l.opt.NoInterpolate),
		cli.WithResolvedPaths(true),
		// resolved after loading, once the env_file paths are recorded
		cli.WithoutEnvironmentResolution,
	)
}

// withEnvFiles is cli.WithEnvFiles reading COMPOSE_DISABLE_ENV_FILE from the
// loader's environment and the working directory from the loader.
func (l *loader) withEnvFiles(o *cli.ProjectOptions) error {
	if len(l.envFiles) > 0 {
		o.EnvFiles = l.envFiles
		return nil
	}
	if v, ok := o.Environment[envDisableDotEnvFile]; ok {
		disable, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q is not a boolean: %w", envDisableDotEnvFile, v, errdefs.ErrInvalidArgument)
		}
		if disable {
			return nil
		}
	}
	dir := o.WorkingDir
	if dir == "" && len(o.ConfigPaths) > 0 && o.ConfigPaths[0] != "-" {
		dir = filepath.Dir(o.ConfigPaths[0])
	}
	if dir == "" {
		dir = l.cwd
	}
	f := filepath.Join(dir, ".env")
	if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
		o.EnvFiles = []string{f}
	}
	return nil
}

// withDotEnv is cli.WithDotEnv, recording the files it reads.
func (l *loader) withDotEnv(o *cli.ProjectOptions) error {
	for _, f := range o.EnvFiles {
		if !slices.Contains(l.envRead, f) {
			l.envRead = append(l.envRead, f)
		}
	}
	return cli.WithDotEnv(o)
}

// withConfigFileEnv is cli.WithConfigFileEnv resolving relative paths
// against the loader's working directory.
func (l *loader) withConfigFileEnv(o *cli.ProjectOptions) error {
	if len(o.ConfigPaths) > 0 {
		return nil
	}
	v := o.Environment[envComposeFile]
	if v == "" {
		return nil
	}
	sep := o.Environment[envPathSeparator]
	if sep == "" {
		sep = string(os.PathListSeparator)
	}
	for _, f := range strings.Split(v, sep) {
		if f == "-" {
			o.ConfigPaths = append(o.ConfigPaths, f)
			continue
		}
		abs := l.abs(f)
		if err := checkRegularFile(abs, f); err != nil {
			var fe FieldError
			if errors.As(err, &fe) {
				fe.Issue = "set by " + envComposeFile + ": " + fe.Issue
				return fe
			}
			return err
		}
		o.ConfigPaths = append(o.ConfigPaths, abs)
	}
	return nil
}

// withDefaultConfigPath is cli.WithDefaultConfigPath starting from the
// project directory when one is given, else from the loader's working
// directory.
func (l *loader) withDefaultConfigPath(o *cli.ProjectOptions) error {
	if len(o.ConfigPaths) > 0 || o.WorkingDir != "" {
		return cli.WithDefaultConfigPath(o)
	}
	o.WorkingDir = l.cwd
	err := cli.WithDefaultConfigPath(o)
	o.WorkingDir = ""
	return err
}

// loadModel loads the project without interpolation, as `docker compose
// config --no-interpolate` does: as a raw model rather than typed structs,
// which could not hold a ${VAR} where a number is expected.
func (l *loader) loadModel(ctx context.Context, o *cli.ProjectOptions) (*Project, error) {
	workingDir, err := o.GetWorkingDir()
	if err != nil {
		return nil, l.loadError(err)
	}
	model, err := o.LoadModel(ctx)
	if err != nil {
		return nil, l.loadError(err)
	}
	p := &Project{
		WorkingDir: workingDir,
		EnvFiles:   slices.Clone(l.envRead),
		model:      model,
	}
	p.Name, _ = model["name"].(string)
	for _, f := range o.ConfigPaths {
		if f != "-" {
			p.ComposeFiles = append(p.ComposeFiles, f)
		}
	}
	return p, nil
}

// loadForRender loads the project as compose-go does with opt.Render's
// steps left out, for Render only.
func (l *loader) loadForRender(ctx context.Context, o *cli.ProjectOptions) (*Project, error) {
	r := l.opt.Render
	for _, fn := range []cli.ProjectOptionsFn{
		cli.WithResolvedPaths(!r.NoPathResolution),
		cli.WithNormalization(!r.NoNormalize),
		cli.WithConsistency(!r.NoConsistency),
	} {
		if err := fn(o); err != nil {
			return nil, l.loadError(err)
		}
	}
	cp, err := o.LoadProject(ctx)
	if err != nil {
		return nil, l.loadError(err)
	}
	if len(r.Services) > 0 {
		if cp, err = cp.WithServicesEnabled(r.Services...); err == nil {
			cp, err = cp.WithSelectedServices(r.Services)
		}
		if err != nil {
			return nil, l.loadError(err)
		}
	}
	if !r.NoEnvResolution {
		if cp, err = l.resolveEnvForRender(ctx, o, cp); err != nil {
			return nil, err
		}
	}
	cp = cp.WithoutUnnecessaryResources()
	return &Project{Name: cp.Name, WorkingDir: cp.WorkingDir, ComposeFiles: slices.Clone(cp.ComposeFiles),
		EnvFiles: slices.Clone(l.envRead), config: cp}, nil
}

// resolveEnvForRender merges the services' env_file into their
// environment. With relative paths kept, the env files are read through a
// load that resolves them, as they are relative to the project.
func (l *loader) resolveEnvForRender(ctx context.Context, o *cli.ProjectOptions, cp *types.Project) (*types.Project, error) {
	if !l.opt.Render.NoPathResolution {
		cp, err := cp.WithServicesEnvironmentResolved(true)
		if err != nil {
			return nil, l.loadError(err)
		}
		return cp, nil
	}
	if err := cli.WithResolvedPaths(true)(o); err != nil {
		return nil, l.loadError(err)
	}
	resolved, err := o.LoadProject(ctx)
	if err == nil {
		resolved, err = resolved.WithServicesEnvironmentResolved(true)
	}
	if err != nil {
		return nil, l.loadError(err)
	}
	for name, s := range cp.Services {
		if r, ok := resolved.Services[name]; ok {
			s.Environment, s.EnvFiles = r.Environment, nil
			cp.Services[name] = s
		}
	}
	return cp, nil
}

// checkEnvFiles reports the first required env_file of an enabled service
// that does not exist, naming the service and the Compose file.
func (l *loader) checkEnvFiles(cp *types.Project) error {
	for _, name := range slices.Sorted(maps.Keys(cp.Services)) {
		files := cp.Services[name].EnvFiles
		for i, f := range files {
			if !f.Required {
				continue
			}
			if _, err := os.Stat(f.Path); err == nil {
				continue
			}
			path := elementPath(l.jobs, name) + ".env_file"
			if len(files) > 1 {
				path += "[" + strconv.Itoa(i) + "]"
			}
			return FieldError{
				File:  l.fileSetting(path),
				Path:  path,
				Issue: l.display(f.Path) + ": no such file or directory",
				Err:   errdefs.ErrInvalidArgument,
			}
		}
	}
	return nil
}

// existingEnvFiles lists the env_file paths of the enabled services that
// exist, sorted and without duplicates.
func existingEnvFiles(cp *types.Project) []string {
	var files []string
	for _, s := range cp.Services {
		for _, f := range s.EnvFiles {
			if fi, err := os.Stat(f.Path); err == nil && fi.Mode().IsRegular() {
				files = append(files, f.Path)
			}
		}
	}
	slices.Sort(files)
	return slices.Compact(files)
}
