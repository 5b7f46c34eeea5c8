package main

import (
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/spf13/pflag"
)

// oldSpellings makes fs take docker compose's old spellings of its flags
// (`--no-TTY` for `--no-tty`, `--y` for `--yes`): old → current.
func oldSpellings(fs *pflag.FlagSet, names map[string]string) {
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if cur, ok := names[name]; ok {
			return pflag.NormalizedName(cur)
		}
		return pflag.NormalizedName(name)
	})
}

// imageFlags are docker compose's flags about building and pulling the
// services' images, on up, create and run.
type imageFlags struct {
	build      bool
	noBuild    bool
	quietBuild bool
	quietPull  bool
	yes        bool // accepted: up and create never prompt
}

// bind binds --build and --quiet-pull, and with yes (up and create)
// --no-build and --yes; --quiet-build is bound by up and run.
func (o *imageFlags) bind(fs *pflag.FlagSet, yes bool) {
	fs.BoolVar(&o.build, "build", false, "build images before starting containers")
	fs.BoolVar(&o.quietPull, "quiet-pull", false, "pull without printing progress information")
	if yes {
		fs.BoolVar(&o.noBuild, "no-build", false, "don't build an image, even if it's policy")
		fs.BoolVarP(&o.yes, "yes", "y", false, `assume "yes" as answer to all prompts and run non-interactively`)
		oldSpellings(fs, map[string]string{"y": "yes"})
	}
}

// check refuses flags that contradict each other.
func (o imageFlags) check() error {
	if o.noBuild && o.build {
		return fmt.Errorf("--build and --no-build are incompatible: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// buildPolicy is reconciler.Options.Build for the flags.
func (o imageFlags) buildPolicy() string {
	switch {
	case o.build:
		return "always"
	case o.noBuild:
		return "never"
	}
	return ""
}
