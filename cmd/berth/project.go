package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/spec"
)

// projectFlags are docker compose's project flags.
type projectFlags struct {
	files      []string
	name       string
	projectDir string
	envFiles   []string
	profiles   []string
}

func (p *projectFlags) bind(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&p.files, "file", "f", nil, "Compose configuration files")
	fs.StringVarP(&p.name, "project-name", "p", "", "project name")
	fs.StringVar(&p.projectDir, "project-directory", "", "alternate working directory (default: the directory of the first Compose file)")
	fs.StringArrayVar(&p.envFiles, "env-file", nil, "alternate environment files")
	fs.StringArrayVar(&p.profiles, "profile", nil, "profiles to enable")
	fs.StringVar(&p.projectDir, "workdir", "", "DEPRECATED: use --project-directory")
	_ = fs.MarkHidden("workdir")
}

func (p *projectFlags) loadOptions(noInterpolate bool) (spec.LoadOptions, error) {
	wd, err := os.Getwd()
	if err != nil {
		return spec.LoadOptions{}, err
	}
	return spec.LoadOptions{
		WorkingDir:    wd,
		ProjectDir:    p.projectDir,
		ConfigFiles:   p.files,
		ProjectName:   p.name,
		EnvFiles:      p.envFiles,
		Profiles:      p.profiles,
		NoInterpolate: noInterpolate,
		Environ:       os.Environ(),
	}, nil
}

// load loads the project named by the flags, with the services the
// command names enabled even when their profile is not. It may answer
// from the model cache, and writes nothing to it: after this command the
// project may be gone.
func (g *globalOptions) load(ctx context.Context, services ...string) (*spec.Project, error) {
	return g.loadCache(ctx, true, services...)
}

// loadCache is load that also keeps the project in the model cache unless
// readOnly.
func (g *globalOptions) loadCache(ctx context.Context, readOnly bool, services ...string) (*spec.Project, error) {
	opt, err := g.project.loadOptions(false)
	if err != nil {
		return nil, err
	}
	opt.Services = services
	if dir := g.cacheDir(); dir != "" {
		if salt := cacheSalt(); salt != "" {
			opt.CacheDir, opt.CacheSalt, opt.CacheReadOnly = dir, salt, readOnly
		}
	}
	return spec.Load(ctx, opt)
}

// cacheDir is the model cache's directory: in the run directory, so it
// goes with a reboot. Empty when the run directory cannot be told.
func (g *globalOptions) cacheDir() string {
	_, runDir, err := g.dirs()
	if err != nil {
		return ""
	}
	return filepath.Join(runDir, "cache", "spec")
}

// cacheSalt identifies this build of berth for the model cache: its
// version and its executable's identity (size, modification time, inode),
// which change with every build. Empty when the executable cannot be
// found: a salt of the version alone could serve a model that another build
// of the same version made.
func cacheSalt() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s %s %d %d %d:%d", version, exe, fi.Size(), fi.ModTime().UnixNano(), st.Dev, st.Ino)
}

// loadRunnable loads the project and refuses it when it sets fields berth
// does not run yet. The commands that make containers keep the project in
// the model cache, except with --dry-run.
func (g *globalOptions) loadRunnable(ctx context.Context, services ...string) (*spec.Project, error) {
	p, err := g.loadCache(ctx, g.dryRun, services...)
	if err != nil {
		return nil, err
	}
	if err := p.CheckSupported(); err != nil {
		return nil, err
	}
	return p, nil
}

// lockProject takes the project's cross-process lock. Locks live in the run
// directory, so the state root keeps no trace of a project after down.
func (a *app) lockProject(ctx context.Context, name string) (func(), error) {
	unlock, err := flock.Lock(ctx, filepath.Join(a.runDir, "locks", "project-"+name+".lock"))
	if err != nil {
		return nil, fmt.Errorf("lock project %q: %w", name, err)
	}
	return unlock, nil
}
