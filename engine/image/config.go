package image

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Healthcheck is the image's HEALTHCHECK.
type Healthcheck struct {
	// Test is the check: ["NONE"] disables it, ["CMD", args…] runs args,
	// ["CMD-SHELL", command] runs command with the shell.
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// newImage makes the Image of a manifest and its configuration.
func newImage(digest v1.Hash, names []string, m *v1.Manifest, cf *v1.ConfigFile) *Image {
	img := &Image{
		ID:           m.Config.Digest.String(),
		Digest:       digest.String(),
		Created:      cf.Created.Time,
		OS:           cf.OS,
		Architecture: cf.Architecture,
		Config:       toConfig(cf.Config),
		ChainIDs:     chainIDs(cf.RootFS.DiffIDs),
	}
	for _, d := range cf.RootFS.DiffIDs {
		img.DiffIDs = append(img.DiffIDs, d.String())
	}
	for _, n := range names {
		if isDigestRef(n) {
			img.RepoDigests = append(img.RepoDigests, n)
		} else {
			img.RepoTags = append(img.RepoTags, n)
		}
	}
	for _, l := range m.Layers {
		img.Size += l.Size
	}
	return img
}

// toConfig converts the OCI/Docker image configuration to berth's own.
func toConfig(c v1.Config) Config {
	out := Config{
		Entrypoint: slices.Clone(c.Entrypoint),
		Cmd:        slices.Clone(c.Cmd),
		Env:        slices.Clone(c.Env),
		WorkingDir: c.WorkingDir,
		User:       c.User,
		Labels:     maps.Clone(c.Labels),
		StopSignal: c.StopSignal,
	}
	out.ExposedPorts = sortedKeys(c.ExposedPorts)
	out.Volumes = sortedKeys(c.Volumes)
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &Healthcheck{
			Test:        slices.Clone(h.Test),
			Interval:    h.Interval,
			Timeout:     h.Timeout,
			StartPeriod: h.StartPeriod,
			Retries:     h.Retries,
		}
	}
	return out
}

func sortedKeys(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// chainIDs computes the chain ID of every layer from the diff IDs, lowest
// first: chainID[0] = diffID[0], chainID[n] = sha256(chainID[n-1] + " " +
// diffID[n]). A chain ID names the whole stack up to its layer, so an
// unpacked layer directory is only shared by images with the same layers
// beneath it.
func chainIDs(diffIDs []v1.Hash) []string {
	out := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d.String()
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1] + " " + d.String()))
		out[i] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return out
}
