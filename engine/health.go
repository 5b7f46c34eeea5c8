package engine

import (
	"cmp"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// effectiveHealthcheck is the healthcheck the shim runs: the container's
// over the image's (a zero field or a nil Test keeps the image's), nil
// when there is none or its test is ["NONE"].
func effectiveHealthcheck(c *Healthcheck, img *image.Healthcheck) *Healthcheck {
	var h Healthcheck
	if img != nil {
		h = Healthcheck{Test: img.Test, Interval: img.Interval, Timeout: img.Timeout, StartPeriod: img.StartPeriod, Retries: img.Retries}
	}
	if c != nil {
		if c.Test != nil {
			h.Test = c.Test
		}
		h.Interval = cmp.Or(c.Interval, h.Interval)
		h.Timeout = cmp.Or(c.Timeout, h.Timeout)
		h.StartPeriod = cmp.Or(c.StartPeriod, h.StartPeriod)
		h.StartInterval = cmp.Or(c.StartInterval, h.StartInterval)
		h.Retries = cmp.Or(c.Retries, h.Retries)
	}
	if len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	h.Test = slices.Clone(h.Test)
	return &h
}

// healthArgs are the shim's options for the healthcheck h.
func healthArgs(h *Healthcheck) []string {
	if h == nil {
		return nil
	}
	var args []string
	for _, w := range h.Test {
		args = append(args, "--health-test", w)
	}
	for _, d := range []struct {
		flag string
		v    interface{ String() string }
		zero bool
	}{
		{"--health-interval", h.Interval, h.Interval == 0},
		{"--health-timeout", h.Timeout, h.Timeout == 0},
		{"--health-start-period", h.StartPeriod, h.StartPeriod == 0},
		{"--health-start-interval", h.StartInterval, h.StartInterval == 0},
	} {
		if !d.zero {
			args = append(args, d.flag, d.v.String())
		}
	}
	if h.Retries > 0 {
		args = append(args, "--health-retries", strconv.Itoa(h.Retries))
	}
	return args
}

// readHealth reads the health the shim recorded; nil when it recorded none.
func readHealth(dir string) (*Health, error) {
	var h Health
	if err := readJSON(filepath.Join(dir, ctrstate.HealthFile), &h); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return &h, nil
}
