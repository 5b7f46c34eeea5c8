package main

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine/image"
)

// keyedFilters reads docker's KEY=VALUE --filter values, each key one of
// keys: the values of a key are OR'ed, the keys AND'ed.
func keyedFilters(in []string, keys ...string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, s := range in {
		k, v, ok := strings.Cut(s, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("--filter %q: want KEY=VALUE: %w", s, errdefs.ErrInvalidArgument)
		}
		if !slices.Contains(keys, k) {
			return nil, fmt.Errorf("--filter %q: unknown key %q (want one of %s): %w", s, k, strings.Join(keys, ", "), errdefs.ErrInvalidArgument)
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

// labelsOf turns label filter values (KEY or KEY=VALUE) into matchLabels's
// map.
func labelsOf(values []string) map[string]string {
	labels := map[string]string{}
	for _, v := range values {
		k, val, _ := strings.Cut(v, "=")
		labels[k] = val
	}
	return labels
}

// imageFilter is image ls --filter: dangling, label, reference.
type imageFilter struct {
	dangling   *bool
	labels     map[string]string
	references []string
}

func parseImageFilter(in []string) (imageFilter, error) {
	f := imageFilter{}
	kv, err := keyedFilters(in, "dangling", "label", "reference")
	if err != nil {
		return f, err
	}
	f.labels, f.references = labelsOf(kv["label"]), kv["reference"]
	for _, v := range kv["dangling"] {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("--filter dangling=%s: want true or false: %w", v, errdefs.ErrInvalidArgument)
		}
		f.dangling = &b
	}
	for _, r := range f.references {
		if _, err := path.Match(r, ""); err != nil {
			return f, fmt.Errorf("--filter reference=%s: %w (%w)", r, err, errdefs.ErrInvalidArgument)
		}
	}
	return f, nil
}

// match tells whether img is selected; a reference pattern matches a name
// as docker shows it (busybox:latest), or its repository alone.
func (f imageFilter) match(img *image.Image) bool {
	if f.dangling != nil && (len(img.RepoTags) == 0) != *f.dangling {
		return false
	}
	if !matchLabels(img.Config.Labels, f.labels) {
		return false
	}
	if len(f.references) == 0 {
		return true
	}
	for _, ref := range img.RepoTags {
		name := image.FamiliarName(ref)
		repo := name
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			repo = name[:i]
		}
		for _, pat := range f.references {
			if ok, _ := path.Match(pat, name); ok {
				return true
			}
			if ok, _ := path.Match(pat, repo); ok {
				return true
			}
		}
	}
	return false
}

// networkFilter is network ls --filter: name (a part of it), id (a
// prefix), label, driver.
type networkFilter map[string][]string

func parseNetworkFilter(in []string) (networkFilter, error) {
	kv, err := keyedFilters(in, "name", "id", "label", "driver")
	return networkFilter(kv), err
}

func (f networkFilter) match(n network.Summary) bool {
	some := func(key string, ok func(v string) bool) bool {
		return len(f[key]) == 0 || slices.ContainsFunc(f[key], ok)
	}
	return some("name", func(v string) bool { return strings.Contains(n.Name, v) }) &&
		some("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
		some("driver", func(v string) bool { return n.Driver == v }) &&
		matchLabels(n.Labels, labelsOf(f["label"]))
}
